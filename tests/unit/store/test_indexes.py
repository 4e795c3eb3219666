"""Every index of template.yaml is declared on its table's pynamodb model, with the same keys
and projection, so code names an index through its model (UserModel.by_identity), never by a
string of its own."""

import importlib
import pkgutil

from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

import rostersync.store
from rostersync.settings import TABLES, get_settings
from rostersync_tools.local.template_resources import load_template, resources_of_type


def models() -> list[type[Model]]:
    for module in pkgutil.iter_modules(rostersync.store.__path__):
        importlib.import_module(f"rostersync.store.{module.name}")
    found, todo = [], [Model]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if getattr(getattr(sub, "Meta", None), "table_name", None):
                found.append(sub)
    return found


def declared(model: type[Model]) -> dict[str, tuple]:
    indexes = {}
    for index in vars(model).values():
        if isinstance(index, GlobalSecondaryIndex):
            keys = {a.attr_name: "HASH" if a.is_hash_key else "RANGE" for a in index.Meta.attributes.values()}
            projection = index.Meta.projection.projection_type
            indexes[index.Meta.index_name] = (keys, projection)
    return indexes


def in_template() -> dict[str, dict[str, tuple]]:
    tables = {}
    for logical_id, props in resources_of_type(load_template(), "AWS::DynamoDB::Table").items():
        tables[logical_id] = {
            gsi["IndexName"]: (
                {k["AttributeName"]: k["KeyType"] for k in gsi["KeySchema"]},
                gsi["Projection"]["ProjectionType"],
            )
            for gsi in props.get("GlobalSecondaryIndexes", [])
        }
    return tables


def test_every_template_index_is_on_its_model():
    settings = get_settings()
    logical_of = {getattr(settings, field): logical_id for field, (_, logical_id) in TABLES.items()}
    by_table = {logical_of[m.Meta.table_name]: declared(m) for m in models()}
    template = in_template()
    assert set(template) == {logical_id for _, logical_id in TABLES.values()}  # the table map is whole
    for table, indexes in template.items():
        if indexes:
            assert by_table.get(table) == indexes, table
    assert by_table["UsersTable"]["ByIdentity"] == ({"districtIdentity": "HASH", "userId": "RANGE"}, "KEYS_ONLY")


def test_no_table_has_more_indexes_than_dynamodb_allows():
    """DynamoDB's default quota is 20 GSIs a table (UsersTable has 14 since issue 31's change-ordered
    membership indexes, ClassesTable 9)."""
    counts = {table: len(indexes) for table, indexes in in_template().items()}
    assert max(counts.values()) <= 20, counts
    assert (counts["UsersTable"], counts["ClassesTable"]) == (14, 9)
