"""Plain dicts <-> DynamoDB attribute values: the one item encoder of every low-level write and
key (the sync's batch writes and reads, checkpoint parts and parked users, run records, audit).

The sync writes thousands of items a second; building a pynamodb model per item costs more
than the write. This codec covers the few types our items use (strings, string lists,
booleans, numbers, datetimes, maps, bytes) in exactly the formats the pynamodb models read,
which tests/unit/store/test_codec.py checks against the models themselves. Its output is the
only thing the batch client sends, which is why that client skips botocore's parameter
validation (rostersync/aws_clients.py).
"""

from datetime import UTC, datetime

# pynamodb's UTCDateTimeAttribute format.
_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
# A run stamps the same few datetimes (its start) on every item: each is formatted once
# (strftime costs ~7 µs, the rest of an item's encoding about as much). Bounded; a race
# between threads only formats a value twice.
_formatted: dict[datetime, str] = {}


def format_datetime(value: datetime) -> str:
    text = _formatted.get(value)
    if text is None:
        if len(_formatted) >= 64:
            _formatted.clear()
        text = _formatted[value] = value.astimezone(UTC).strftime(_DATETIME_FORMAT)
    return text


def parse_datetime(text: str) -> datetime:
    return datetime.strptime(text, _DATETIME_FORMAT)


def to_attribute(value) -> dict:
    kind = type(value)
    if kind is str:  # most values: tested first, by exact type
        return {"S": value}
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
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)}
    raise TypeError(f"cannot store {type(value).__name__}")


def to_item(values: dict) -> dict:
    """None values are left out, as pynamodb does for null attributes."""
    item = {}
    for name, value in values.items():
        if type(value) is str:
            item[name] = {"S": value}
        elif value is not None:
            item[name] = to_attribute(value)
    return item


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
