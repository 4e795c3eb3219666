"""Plain dicts <-> DynamoDB attribute values, for the sync's batch reads and writes.

The sync writes thousands of items a second; building a pynamodb model per item costs more
than the write. This codec covers the few types roster items use (strings, string lists,
booleans, numbers, datetimes) in exactly the formats the pynamodb models read, which
tests/unit/store/test_codec.py checks against the models themselves.
"""

from datetime import UTC, datetime

# pynamodb's UTCDateTimeAttribute format.
_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"


def format_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_DATETIME_FORMAT)


def parse_datetime(text: str) -> datetime:
    return datetime.strptime(text, _DATETIME_FORMAT)


def to_attribute(value) -> dict:
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": str(value)}
    if isinstance(value, datetime):
        return {"S": format_datetime(value)}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attribute(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: to_attribute(v) for k, v in value.items() if v is not None}}
    raise TypeError(f"cannot store {type(value).__name__}")


def to_item(values: dict) -> dict:
    """None values are left out, as pynamodb does for null attributes."""
    return {name: to_attribute(value) for name, value in values.items() if value is not None}


def from_attribute(attribute: dict):
    ((kind, value),) = attribute.items()
    if kind == "S":
        return value
    if kind == "BOOL":
        return value
    if kind == "N":
        return float(value) if "." in value else int(value)
    if kind == "L":
        return [from_attribute(v) for v in value]
    if kind == "M":
        return {k: from_attribute(v) for k, v in value.items()}
    if kind == "NULL":
        return None
    if kind == "B":
        return value
    if kind == "SS":  # string sets (store/record_links.py's match keys), as sorted lists
        return sorted(value)
    raise TypeError(f"unexpected attribute type {kind}")


def from_item(item: dict) -> dict:
    return {name: from_attribute(value) for name, value in item.items()}
