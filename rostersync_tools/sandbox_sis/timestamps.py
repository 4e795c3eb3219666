"""Instants as OneRoster servers write them, in the varying precisions seen in the wild."""

from datetime import UTC, date, datetime

# How a record's dateLastModified is written: milliseconds (".000Z"), centiseconds (".35Z") or
# whole seconds. Real servers mix these; clients must compare instants, not strings.
PRECISIONS = ("milliseconds", "centiseconds", "seconds")


def format_instant(moment: datetime, precision: str = "milliseconds") -> str:
    moment = moment.astimezone(UTC)
    # f-string, not strftime: the generator formats some 70,000 of these.
    whole = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if precision == "milliseconds":
        return f"{whole}.{moment.microsecond // 1000:03d}Z"
    if precision == "centiseconds":
        return f"{whole}.{moment.microsecond // 10000:02d}Z"
    return f"{whole}Z"


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime; naive values are taken as UTC.

    Raises ValueError for anything else.
    """
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)
