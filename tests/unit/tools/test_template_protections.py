"""What keeps districts' data and the admins' accounts when a stack is deleted or changed."""

import pytest

from rostersync_tools.local.template_resources import load_template

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
TABLES = sorted(name for name, r in RESOURCES.items() if r["Type"] == "AWS::DynamoDB::Table")
DISTRICT_DATA = {
    "DistrictsTable",
    "SchoolsTable",
    "UsersTable",
    "ClassesTable",
    "EnrollmentsTable",
    "TermsTable",
    "SyncRunsTable",
    "CheckpointsTable",
    "NotificationsTable",
    "RunRecordsTable",
    "AuditTable",
    "RecordLinksTable",
    "HostLeasesTable",  # not districts' data: the platform admin's per-host limits (kept as carefully)
}


def test_every_table_holding_districts_data_is_checked_here():
    assert set(TABLES) == DISTRICT_DATA


@pytest.mark.parametrize("table", TABLES)
def test_a_table_survives_stack_deletion_and_replacement(table):
    assert RESOURCES[table].get("DeletionPolicy") == "Retain"
    assert RESOURCES[table].get("UpdateReplacePolicy") == "Retain"


@pytest.mark.parametrize("table", TABLES)
def test_a_table_cannot_be_deleted_while_protected(table):
    assert RESOURCES[table]["Properties"].get("DeletionProtectionEnabled") is True


@pytest.mark.parametrize("table", TABLES)
def test_a_table_has_point_in_time_recovery(table):
    spec = RESOURCES[table]["Properties"].get("PointInTimeRecoverySpecification", {})
    assert spec.get("PointInTimeRecoveryEnabled") is True


def test_the_user_pool_is_retained_and_deletion_protected():
    pool = RESOURCES["UserPool"]
    assert pool.get("DeletionPolicy") == "Retain"
    assert pool.get("UpdateReplacePolicy") == "Retain"
    assert pool["Properties"].get("DeletionProtection") == "ACTIVE"


def test_admins_must_use_a_totp_second_factor():
    properties = RESOURCES["UserPool"]["Properties"]
    assert properties.get("MfaConfiguration") == "ON"
    assert properties.get("EnabledMfas") == ["SOFTWARE_TOKEN_MFA"]


def test_nothing_in_the_stack_asks_for_xray_tracing():
    """The X-Ray SDK is not in the layer; nothing is traced, so nothing is switched on."""
    assert "Tracing" not in TEMPLATE.get("Globals", {}).get("Function", {})
    assert all(
        "Tracing" not in r.get("Properties", {}) for r in RESOURCES.values() if r["Type"] == "AWS::Serverless::Function"
    )
