"""Identity keys for SIS users written before the ByIdentity index existed
(sync/identity_backfill.py, `rostersync ops backfill-identity-keys`): such users get the key a
sync would give them, once, and a re-keyed SIS then pairs them (every app id kept)."""

import json

import requests

from rostersync.aws_clients import dynamodb as dynamodb_client
from rostersync.settings import get_settings
from rostersync.sync.engine import Outcome
from tests.fixtures.roster_oracle import expected_roster
from tests.integration.test_account_matching import assert_oracle
from tests.integration.test_ops_cli import ops
from tests.integration.test_rekeys import _ids
from tests.integration.test_sync_engine import sync


def _identities(client, district: str) -> dict:
    table = get_settings().users_table
    found = {}
    for page in client.get_paginator("query").paginate(
        TableName=table, KeyConditionExpression="districtId = :d", ExpressionAttributeValues={":d": {"S": district}}
    ):
        for item in page["Items"]:
            found[item["userId"]["S"]] = item.get("districtIdentity", {}).get("S")
    return found


def test_users_from_before_the_index_are_keyed_once_and_then_paired_by_a_rekey(
    stack,
    sandbox_sis,
    connected_district,
    capsys,
):
    district = connected_district(sandbox_sis)
    assert sync(district).outcome == Outcome.SUCCEEDED
    client = dynamodb_client()
    written = _identities(client, district)
    keyed = {u for u, identity in written.items() if identity}
    assert keyed and len(keyed) > len(written) // 2
    for user_id in keyed:  # as a sync before the index wrote them
        client.update_item(
            TableName=get_settings().users_table,
            Key={"districtId": {"S": district}, "userId": {"S": user_id}},
            UpdateExpression="REMOVE districtIdentity",
        )
    code, out, _ = ops(stack, capsys, "backfill-identity-keys", "--district", district, "--dry-run", "--json")
    report = json.loads(out)
    assert code == 0 and report["dryRun"] and report["keyed"] == len(keyed)
    assert report["withoutIdentity"] == len(written) - len(keyed)
    assert not any(_identities(client, district).values())  # a dry run changes nothing

    code, out, _ = ops(stack, capsys, "backfill-identity-keys", "--district", district, "--json")
    assert code == 0 and json.loads(out)["keyed"] == len(keyed)
    assert _identities(client, district) == written  # exactly what the sync had written
    code, out, _ = ops(stack, capsys, "backfill-identity-keys", "--district", district, "--json")
    assert json.loads(out)["keyed"] == 0  # nothing left
    code, out, _ = ops(stack, capsys, "backfill-identity-keys")  # every district: a scan, a table
    assert code == 0 and "keyed" in out

    before = _ids(district)
    answer = requests.post(f"{sandbox_sis.host_url}/_admin/rekey", json={"share": 1.0, "prefix": "v2-"}, timeout=10)
    assert answer.status_code == 200
    result = sync(district)
    assert result.outcome == Outcome.SUCCEEDED, (result.failure, result.held_deactivations)
    assert_oracle(district, expected_roster(sandbox_sis.state()))
    after = _ids(district)
    assert {"v2-" + sid: user_id for sid, user_id in before["users"].items()} == after["users"]
