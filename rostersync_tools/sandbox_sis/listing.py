"""Filter, sort, page and serialize a Listing; the paging headers (X-Total-Count, Link)."""

import json
from dataclasses import dataclass
from urllib.parse import quote

from .filters import COMMON_FIELDS, KNOWN_FIELDS, FilterError, parse_filter
from .store import DistrictStore

DEFAULT_LIMIT = 100


class QueryError(ValueError):
    """A query parameter the server refuses (400 with this imsx codeMinor)."""

    def __init__(self, code_minor: str, description: str):
        super().__init__(description)
        self.code_minor = code_minor


@dataclass(frozen=True)
class PageRequest:
    limit: int  # after the cap
    offset: int
    filter: str | None
    sort: str | None
    descending: bool
    fields: tuple[str, ...] | None


def _integer(query: dict[str, str], name: str, default: int, minimum: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise QueryError("invalid_selection_field", f"{name} must be an integer, not {text!r}") from None
    if value < minimum:
        raise QueryError("invalid_selection_field", f"{name} must be at least {minimum}")
    return value


def parse_page_request(query: dict[str, str], page_cap: int) -> PageRequest:
    order_by = query.get("orderBy", "asc").lower()
    if order_by not in ("asc", "desc"):
        raise QueryError("invalid_sort_field", "orderBy must be asc or desc")
    fields = tuple(f.strip() for f in query["fields"].split(",") if f.strip()) if query.get("fields") else None
    return PageRequest(
        # Servers cap limit silently: a short page is no proof of the end.
        limit=min(_integer(query, "limit", DEFAULT_LIMIT, 1), page_cap),
        offset=_integer(query, "offset", 0, 0),
        filter=query.get("filter") or None,
        sort=query.get("sort") or None,
        descending=order_by == "desc",
        fields=fields,
    )


def _known(collection: str, field: str) -> bool:
    return field.split(".")[0] in COMMON_FIELDS | KNOWN_FIELDS.get(collection, set())


def filter_records(store: DistrictStore, collection: str, records: list[dict], text: str) -> list[dict]:
    """The records the filter keeps; QueryError (invalid_filter_field) for a filter that is not one."""
    try:
        parsed = parse_filter(text, collection)
    except FilterError as exc:
        raise QueryError("invalid_filter_field", f"invalid filter: {exc}") from None
    modified_at = lambda record: store.modified_at(collection, record)  # noqa: E731
    return [r for r in records if parsed.matches(r, modified_at)]


def sort_records(
    store: DistrictStore, collection: str, records: list[dict], field: str, descending: bool
) -> list[dict]:
    if not _known(collection, field):
        raise QueryError("invalid_sort_field", f"{field!r} is not a field of {collection}")
    path = field.split(".")

    def key(record):
        if path == ["dateLastModified"]:
            moment = store.modified_at(collection, record)
            return (moment is not None, moment.timestamp() if moment else 0.0)
        value = record
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, list):
                value = value[0] if value else None
        if isinstance(value, bool):
            value = "true" if value else "false"
        # Records without the field sort first (ascending).
        return (value is not None, "" if value is None else str(value))

    return sorted(records, key=key, reverse=descending)


def page_body(
    store: DistrictStore, collection: str, key: str, records: list[dict], fields: tuple[str, ...] | None
) -> bytes:
    """`{"<key>": [...]}` from each record's cached JSON (or projected to `fields`)."""
    if fields:
        unknown = [f for f in fields if not _known(collection, f)]
        if unknown:
            raise QueryError("invalid_selection_field", f"not fields of {collection}: {', '.join(unknown)}")
        items = [json.dumps({f: r[f] for f in fields if f in r}, separators=(",", ":")).encode() for r in records]
    else:
        items = [store.record_json(collection, r) for r in records]
    return b'{"' + key.encode() + b'":[' + b",".join(items) + b"]}"


def single_body(store: DistrictStore, collection: str, key: str, record: dict, fields: tuple[str, ...] | None) -> bytes:
    if fields:
        return json.dumps({key: {f: record[f] for f in fields if f in record}}).encode()
    return b'{"' + key.encode() + b'":' + store.record_json(collection, record) + b"}"


def page_url(url: str, query: list[tuple[str, str]], limit: int, offset: int) -> str:
    """The URL of another page: every other query parameter kept, RFC 3986 encoded."""
    kept = [(k, v) for k, v in query if k not in ("limit", "offset")]
    kept += [("limit", str(limit)), ("offset", str(offset))]
    return url + "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in kept)


def link_header(url: str, query: list[tuple[str, str]], limit: int, offset: int, total: int) -> str:
    last = max(0, (total - 1) // limit * limit)
    links = []
    if offset + limit < total:
        links.append((offset + limit, "next"))
    if offset > 0:
        links.append((max(0, min(offset - limit, last)), "prev"))
    links += [(0, "first"), (last, "last")]
    return ", ".join(f'<{page_url(url, query, limit, at)}>; rel="{rel}"' for at, rel in links)
