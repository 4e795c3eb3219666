"""Per-host politeness shared by every sync worker: one small item per SIS host in HostLeasesTable.

    {host: "sis.example.org:443",
     slot0: {holder, until}, slot1: {...}, ...   # leased slots, each ends at `until` (epoch s)
     maxConcurrent: 6,                            # a platform admin's limit (absent: the default)
     notBefore: 1796000000.0,                     # the host's Retry-After: nobody asks before
     limitSetBy, limitSetAt}

A slot is taken by a conditional update of one slot attribute: free (absent or expired), its
index below the host's limit, the host not paused. A killed worker's slots end by themselves
(SLOT_SECONDS). Costs: taking a slot is one strongly consistent read and one conditional write
(retried once on a lost race); renewing is one write per SLOT_SECONDS - RENEW_MARGIN_S of use;
giving back every slot of a client is one write. None of them is per page: a client reuses its
slots page after page (oneroster/hosts.py HostSlots).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from rostersync import aws_clients
from rostersync.oneroster.hosts import Refusal, Slot
from rostersync.settings import get_settings, host_max_concurrent_default

SLOT_SECONDS = 60  # a slot not renewed in this long is free again (its worker stopped)
MAX_LIMIT = 64  # a limit above this is a typo: even a large vendor's host would not want it
_TAKE_ATTEMPTS = 2


def _slot_name(index: int) -> str:
    return f"slot{index}"


def _number(value: dict | None) -> float | None:
    return float(value["N"]) if value and "N" in value else None


class DynamoHostGate:
    """oneroster.hosts.HostGate on HostLeasesTable."""

    def __init__(self, client=None, table: str | None = None, clock: Callable[[], float] = time.time):
        self._client = client
        self.table = table or get_settings().host_leases_table
        self._clock = clock

    @property
    def client(self):
        return self._client or aws_clients.dynamodb()

    def _item(self, host: str) -> dict[str, Any]:
        reply = self.client.get_item(TableName=self.table, Key={"host": {"S": host}}, ConsistentRead=True)
        return reply.get("Item") or {}

    def take(self, host: str, holder: str) -> Slot | Refusal:
        for _attempt in range(_TAKE_ATTEMPTS):
            now = self._clock()
            item = self._item(host)
            not_before = _number(item.get("notBefore"))
            if not_before and not_before > now:
                return Refusal(not_before)
            limit = int(_number(item.get("maxConcurrent")) or host_max_concurrent_default())
            free = [k for k in range(limit) if (_until(item.get(_slot_name(k))) or 0.0) < now]
            if not free:
                return Refusal(None)
            index = random.choice(free)  # noqa: S311  (spreads racing workers over the free slots)
            slot = Slot(host, index, now + SLOT_SECONDS)
            limit_condition = (
                "maxConcurrent > :index" if "maxConcurrent" in item else "attribute_not_exists(maxConcurrent)"
            )
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key={"host": {"S": host}},
                    UpdateExpression="SET #slot = :lease",
                    ConditionExpression=(
                        "(attribute_not_exists(#slot) OR #slot.#until < :now)"
                        " AND (attribute_not_exists(notBefore) OR notBefore <= :now)"
                        f" AND {limit_condition}"
                    ),
                    ExpressionAttributeNames={"#slot": _slot_name(index), "#until": "until"},
                    ExpressionAttributeValues={
                        ":lease": {"M": {"holder": {"S": holder}, "until": {"N": str(slot.expires_at)}}},
                        ":now": {"N": str(now)},
                        **({":index": {"N": str(index)}} if "maxConcurrent" in item else {}),
                    },
                )
                return slot
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        return Refusal(None)

    def renew(self, slot: Slot, holder: str) -> tuple[Slot | None, float | None]:
        now = self._clock()
        renewed = Slot(slot.host, slot.index, now + SLOT_SECONDS)
        try:
            reply = self.client.update_item(
                TableName=self.table,
                Key={"host": {"S": slot.host}},
                UpdateExpression="SET #slot.#until = :until",
                ConditionExpression="#slot.holder = :holder",
                ExpressionAttributeNames={"#slot": _slot_name(slot.index), "#until": "until"},
                ExpressionAttributeValues={":until": {"N": str(renewed.expires_at)}, ":holder": {"S": holder}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None, None
        not_before = _number(reply.get("Attributes", {}).get("notBefore"))
        return renewed, (not_before if not_before and not_before > now else None)

    def give_back(self, slots: list[Slot], holder: str) -> None:
        by_host: dict[str, list[int]] = {}
        for slot in slots:
            by_host.setdefault(slot.host, []).append(slot.index)
        for host, indexes in by_host.items():
            if not self._remove(host, indexes, holder):  # one was lost meanwhile: each on its own
                for index in indexes:
                    self._remove(host, [index], holder)

    def _remove(self, host: str, indexes: list[int], holder: str) -> bool:
        names = {f"#s{k}": _slot_name(k) for k in indexes}
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"host": {"S": host}},
                UpdateExpression="REMOVE " + ", ".join(names),
                ConditionExpression=" AND ".join(f"{name}.holder = :holder" for name in names),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False

    def pause(self, host: str, until: float) -> None:
        """notBefore = until, unless a later pause is already set (one conditional write)."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"host": {"S": host}},
                UpdateExpression="SET notBefore = :until",
                ConditionExpression="attribute_not_exists(notBefore) OR notBefore < :until",
                ExpressionAttributeValues={":until": {"N": str(until)}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def _until(value: dict | None) -> float | None:
    if not value or "M" not in value:
        return None
    return _number(value["M"].get("until"))


# ---------------------------------------------------------------- the platform admin's limits


def set_limit(host: str, limit: int | None, by: str, client=None) -> dict:
    """Set (or with None clear, back to the default) a host's limit of requests in flight.
    Returns {host, before, after}: the caller audits it."""
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"a host's limit is a whole number from 1 to {MAX_LIMIT}")
    dynamodb = client or aws_clients.dynamodb()
    table = get_settings().host_leases_table
    names = {"#by": "limitSetBy", "#at": "limitSetAt"}
    values: dict[str, Any] = {":by": {"S": by}, ":at": {"N": str(int(time.time()))}}
    if limit is None:
        expression = "REMOVE maxConcurrent SET #by = :by, #at = :at"
    else:
        expression = "SET maxConcurrent = :limit, #by = :by, #at = :at"
        values[":limit"] = {"N": str(limit)}
    reply = dynamodb.update_item(
        TableName=table,
        Key={"host": {"S": host}},
        UpdateExpression=expression,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="UPDATED_OLD",
    )
    before = _number(reply.get("Attributes", {}).get("maxConcurrent"))
    return {"host": host, "before": None if before is None else int(before), "after": limit}


def describe(host: str, client=None, now: float | None = None) -> dict:
    """A host's limit, slots in use and pause, as on-call sees it."""
    dynamodb = client or aws_clients.dynamodb()
    reply = dynamodb.get_item(
        TableName=get_settings().host_leases_table, Key={"host": {"S": host}}, ConsistentRead=True
    )
    item = reply.get("Item") or {}
    now = time.time() if now is None else now
    limit = _number(item.get("maxConcurrent"))
    not_before = _number(item.get("notBefore"))
    in_use = sum(1 for name, value in item.items() if name.startswith("slot") and (_until(value) or 0.0) >= now)
    return {
        "host": host,
        "limit": int(limit) if limit is not None else host_max_concurrent_default(),
        "limitIsDefault": limit is None,
        "slotsInUse": in_use,
        "pausedFor": max(0.0, round(not_before - now, 1)) if not_before else 0.0,
    }
