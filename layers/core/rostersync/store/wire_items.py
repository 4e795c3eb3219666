"""Items put through the batch store, encoded once as DynamoDB attribute-value JSON text.

Why: a full sync writes every item once, and building its attribute-value dicts (store/codec.py)
on the sync's thread and then `json.dumps` of each 25-item request on a store thread cost more
CPU than anything else the store did per item (bench/README.md, "What took the CPU"). Here an
item's plain values go straight to the text the request carries, with the C string escaper,
on the thread that puts it; the store thread only joins 25 texts.

The text is exactly what `json.dumps(codec.to_item(values))` means (tests/unit/store/
test_wire_items.py holds the two equal, value for value): None left out, strings as S, the
few datetimes a run stamps formatted once, booleans as BOOL, numbers as N, lists as L, dicts as
M (anything else goes through codec.to_attribute and json.dumps).

Attributes a `before_write` hook sets at each send (store/change_keys.py: updatedAt and
changeSeq on roster tables) are left out of the text and set on the WireItem itself, a dict
of attribute values that reads the rest from the values it was made from.
"""

from __future__ import annotations

import json
from datetime import datetime
from json.encoder import encode_basestring_ascii as _quoted

from rostersync.store.codec import format_datetime, to_attribute, to_item

_S_PREFIX: dict[str, str] = {}  # attribute name -> '"name":{"S":'


class WireItem(dict):
    """An item to write: `text` (the JSON members of its attributes, without braces) plus, as
    this dict's own entries, attribute values set after it was encoded (a hook's stamps).
    Reading an attribute that was not set since gives its value as codec.to_attribute would."""

    __slots__ = ("left_out", "source", "text")

    def __init__(self, text: str, source: dict, left_out: frozenset[str]):
        super().__init__()
        self.text, self.source, self.left_out = text, source, left_out

    def __missing__(self, name: str) -> dict:
        value = self.source.get(name)
        if type(value) is str:  # an id a hook reads
            return {"S": value}
        if value is None:
            raise KeyError(name)
        return to_attribute(value)

    def json(self) -> str:
        """The whole item as attribute-value JSON: the encoded text, then what was set since."""
        if not self:
            return "{" + self.text + "}"
        if not self.keys() <= self.left_out:  # set over an attribute the text holds: encode it all again
            return json.dumps(to_item(self.source) | self, separators=(",", ":"))
        late = ",".join([_attribute_member(name, value) for name, value in self.items()])
        return "{" + self.text + "," + late + "}" if self.text else "{" + late + "}"


def _s_prefix(name: str) -> str:
    prefix = _S_PREFIX.get(name)
    if prefix is None:
        prefix = _S_PREFIX[name] = _quoted(name) + ':{"S":'
    return prefix


def _attribute_member(name: str, attribute: dict) -> str:
    text = attribute.get("S") if len(attribute) == 1 else None
    if type(text) is str:
        return _s_prefix(name) + _quoted(text) + "}"
    return _quoted(name) + ":" + json.dumps(attribute, separators=(",", ":"))


class WireItemEncoder:
    """values -> WireItem; `late(table)`: the attribute names a hook sets at send time there."""

    def __init__(self) -> None:
        self._datetimes: dict[datetime, str] = {}

    def __call__(self, values: dict, late: frozenset[str] = frozenset()) -> WireItem:
        members = []
        append = members.append
        for name, value in values.items():
            kind = type(value)
            if kind is str:
                if name not in late:
                    append((_S_PREFIX.get(name) or _s_prefix(name)) + _quoted(value) + "}")
            elif value is None or name in late:
                continue
            elif kind is datetime:
                append(_quoted(name) + ':{"S":"' + self._datetime_text(value) + '"}')
            elif kind is bool:
                append(_quoted(name) + (':{"BOOL":true}' if value else ':{"BOOL":false}'))
            elif kind is list and all(type(v) is str for v in value):
                append(_quoted(name) + ':{"L":[' + ",".join(['{"S":' + _quoted(v) + "}" for v in value]) + "]}")
            else:
                append(_quoted(name) + ":" + json.dumps(to_attribute(value), separators=(",", ":")))
        return WireItem(",".join(members), dict(values), late)

    def _datetime_text(self, value: datetime) -> str:
        """Formatted once per distinct datetime (a run stamps the same few on every item)."""
        text = self._datetimes.get(value)
        if text is None:
            if len(self._datetimes) >= 64:
                self._datetimes.clear()
            text = self._datetimes[value] = format_datetime(value)
        return text
