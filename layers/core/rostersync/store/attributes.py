"""Typed forms of pynamodb idioms the models use, where pynamodb's own types say otherwise.

- `ListAttribute(of=UnicodeAttribute)` is typed as a list of UnicodeAttribute objects: it holds
  strings (string_list);
- a raw `MapAttribute` (no fields declared) is typed as the attribute: it reads back as a dict
  (raw_map; map_value reads either kind of map as a dict);
- `Model.map_attribute.field` at class level is the field's update and condition path, typed as
  the field's value (path_of);
- model_meta's class (store/base.py) is the Meta a Model declares (table_meta).

Each says so once, so that the code reading the models is checked against what it really gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from pynamodb.attributes import Attribute, ListAttribute, MapAttribute, UnicodeAttribute
from pynamodb.models import MetaProtocol

from rostersync.store.base import model_meta


def string_list(**options: Any) -> ListAttribute[str]:
    """A list of strings (pynamodb's ListAttribute of UnicodeAttribute)."""
    return cast("ListAttribute[str]", ListAttribute(of=UnicodeAttribute, **options))


def table_meta(table_name: str) -> MetaProtocol:
    """model_meta(table_name), typed as the Meta a pynamodb Model declares."""
    return cast("MetaProtocol", model_meta(table_name))


def raw_map(**options: Any) -> Attribute[dict[str, Any]]:
    """A MapAttribute of any keys and values, which reads back as a dict."""
    return cast("Attribute[dict[str, Any]]", MapAttribute(**options))


def map_value(value: Mapping[str, Any] | MapAttribute | None) -> dict[str, Any] | None:
    """The dict an item's MapAttribute holds: a raw map reads back as one (though pynamodb types it
    as the attribute), a map with declared fields as the attribute (as_dict)."""
    if value is None:
        return None
    if isinstance(value, MapAttribute):
        return value.as_dict()
    return dict(value)


def path_of[T](field: T) -> Attribute[T]:
    """`Model.map_attribute.field` as the path it is at class level (for set, remove, ==, ...)."""
    return cast("Attribute[T]", field)
