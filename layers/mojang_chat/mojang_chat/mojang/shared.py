"""What every container shares about Mojang: cached answers, the leases that let one container
look a name up while the others wait for its answer, and the limiter's slots. A protocol, its
DynamoDB adapter (``MOJANG_CACHE_TABLE_NAME``, every container) and an in-memory one (one
process: the ``ask`` command line, unit tests).

All containers of a deployment call Mojang from one NAT IP, so they share one quota
(``reference/mojang-api.md``): what one container learnt, or spent, must count for all.

One table, key ``id``:
- ``c:<key>``: a cached answer ``v`` (JSON; ``null`` for "not found") until ``ttl``, or, with no
  ``v``, a lease held until ``lease``;
- ``slot:<n>``: the limiter's slot ``n``, last taken at ``at``;
- ``cursor``: the next slot to take (``n``) and the shared pause after a 429 (``pause``).
``ttl`` (epoch seconds) is DynamoDB's TTL attribute; readers check it too, since DynamoDB
deletes expired items only eventually.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from mojang_chat.core.observability import count, logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# How long an item outlives its use, so that DynamoDB's TTL removes leases and idle slots.
_GRACE_SECONDS = 3600


class SharedState(Protocol):
    """The state the containers share; every time is epoch seconds (``time.time``)."""

    def read(self, keys: Sequence[str], now: float) -> dict[str, str]:
        """The fresh cached answers (JSON text) among ``keys``; absent keys have none."""
        ...

    def write(self, key: str, value: str, expires_at: float) -> None:
        """Cache ``value`` (JSON text) under ``key`` until ``expires_at``; drops a lease."""
        ...

    def lease(self, key: str, now: float, until: float) -> bool:
        """Take the lease on ``key`` until ``until``: True unless a fresh answer is cached or
        another caller holds a lease that has not ended at ``now``."""
        ...

    def next_ticket(self) -> tuple[int, float]:
        """A new ticket number (1, 2, ...; one per call, across all callers) and the time the
        shared pause ends (0 when none was set)."""
        ...

    def take_slot(self, slot: int, now: float, free_before: float) -> float | None:
        """Mark ``slot`` taken at ``now`` if it was last taken at ``free_before`` or earlier (or
        never): None when taken, else the time it was last taken."""
        ...

    def pause_until(self, until: float) -> None:
        """Make every caller wait until ``until`` (a later pause already set is kept)."""
        ...


class MemorySharedState:
    """``SharedState`` in this process's memory: shared by its threads only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, tuple[str, float]] = {}
        self._leases: dict[str, float] = {}
        self._slots: dict[int, float] = {}
        self._ticket = 0
        self._pause = 0.0

    def read(self, keys: Sequence[str], now: float) -> dict[str, str]:
        """See ``SharedState.read``."""
        with self._lock:
            return {
                key: value
                for key in keys
                if (entry := self._values.get(key)) is not None
                for value, expires_at in [entry]
                if expires_at > now
            }

    def write(self, key: str, value: str, expires_at: float) -> None:
        """See ``SharedState.write``."""
        with self._lock:
            self._values[key] = (value, expires_at)
            self._leases.pop(key, None)

    def lease(self, key: str, now: float, until: float) -> bool:
        """See ``SharedState.lease``."""
        with self._lock:
            entry = self._values.get(key)
            if entry is not None and entry[1] > now:
                return False
            if self._leases.get(key, 0.0) > now:
                return False
            self._leases[key] = until
            return True

    def next_ticket(self) -> tuple[int, float]:
        """See ``SharedState.next_ticket``."""
        with self._lock:
            self._ticket += 1
            return self._ticket, self._pause

    def take_slot(self, slot: int, now: float, free_before: float) -> float | None:
        """See ``SharedState.take_slot``."""
        with self._lock:
            last = self._slots.get(slot)
            if last is not None and last > free_before:
                return last
            self._slots[slot] = now
            return None

    def pause_until(self, until: float) -> None:
        """See ``SharedState.pause_until``."""
        with self._lock:
            self._pause = max(self._pause, until)


class SharedStateUnavailable(RuntimeError):
    """DynamoDB could not be reached or refused the request."""


class DynamoSharedState:
    """``SharedState`` in a DynamoDB table: strongly consistent reads (a waiter must see the
    answer the lease holder wrote), conditional writes for leases and slots, ``ADD`` for the
    ticket counter. Every call is one request; ``read`` of up to 100 keys is one BatchGetItem.
    ``calls`` counts the requests by operation (the cost per question, measured)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table
        self.calls: dict[str, int] = {}

    def read(self, keys: Sequence[str], now: float) -> dict[str, str]:
        """See ``SharedState.read``."""
        found: dict[str, str] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), 100):  # BatchGetItem's cap
            request: Any = {
                self._table: {
                    "Keys": [{"id": {"S": "c:" + key}} for key in wanted[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            # Unprocessed keys (throttling) are asked again, a few times, then count as misses.
            for _ in range(3):
                answer = self._call(
                    "BatchGetItem", self._client.batch_get_item, RequestItems=request
                )
                for item in answer.get("Responses", {}).get(self._table, []):
                    if "v" in item and float(item["ttl"]["N"]) > now:
                        found[item["id"]["S"].removeprefix("c:")] = item["v"]["S"]
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found

    def write(self, key: str, value: str, expires_at: float) -> None:
        """See ``SharedState.write``."""
        self._call(
            "PutItem",
            self._client.put_item,
            TableName=self._table,
            Item={
                "id": {"S": "c:" + key},
                "v": {"S": value},
                "ttl": {"N": str(math.ceil(expires_at))},
            },
        )

    def lease(self, key: str, now: float, until: float) -> bool:
        """See ``SharedState.lease``."""
        try:
            self._call(
                "UpdateItem",
                self._client.update_item,
                TableName=self._table,
                Key={"id": {"S": "c:" + key}},
                UpdateExpression="SET #lease = :until, #ttl = :ttl REMOVE v",
                ConditionExpression=(
                    "(attribute_not_exists(v) OR #ttl <= :now) "
                    "AND (attribute_not_exists(#lease) OR #lease <= :now)"
                ),
                ExpressionAttributeNames={"#lease": "lease", "#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":until": {"N": repr(until)},
                    ":now": {"N": repr(now)},
                    ":ttl": {"N": str(math.ceil(until) + _GRACE_SECONDS)},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def next_ticket(self) -> tuple[int, float]:
        """See ``SharedState.next_ticket``."""
        answer = self._call(
            "UpdateItem",
            self._client.update_item,
            TableName=self._table,
            Key={"id": {"S": "cursor"}},
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )
        item = answer["Attributes"]
        return int(item["n"]["N"]), float(item.get("pause", {}).get("N", "0"))

    def take_slot(self, slot: int, now: float, free_before: float) -> float | None:
        """See ``SharedState.take_slot``."""
        key = {"id": {"S": f"slot:{slot}"}}
        try:
            self._call(
                "UpdateItem",
                self._client.update_item,
                TableName=self._table,
                Key=key,
                UpdateExpression="SET #at = :now, #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#at) OR #at <= :free_before",
                ExpressionAttributeNames={"#at": "at", "#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":now": {"N": repr(now)},
                    ":free_before": {"N": repr(free_before)},
                    ":ttl": {"N": str(math.ceil(now) + _GRACE_SECONDS)},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            answer = self._call(
                "GetItem",
                self._client.get_item,
                TableName=self._table,
                Key=key,
                ConsistentRead=True,
            )
            # Taken by another caller between the two requests: it frees a window from now.
            return float(answer.get("Item", {}).get("at", {}).get("N", repr(now)))
        return None

    def pause_until(self, until: float) -> None:
        """See ``SharedState.pause_until``."""
        # A failed condition: a later pause is set already.
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._call(
                "UpdateItem",
                self._client.update_item,
                TableName=self._table,
                Key={"id": {"S": "cursor"}},
                UpdateExpression="SET #pause = :until",
                ConditionExpression="attribute_not_exists(#pause) OR #pause < :until",
                ExpressionAttributeNames={"#pause": "pause"},
                ExpressionAttributeValues={":until": {"N": repr(until)}},
            )

    def _call(self, operation: str, method: Callable[..., Any], **request: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        self.calls[operation] = self.calls.get(operation, 0) + 1
        count(f"MojangShared{operation}")
        try:
            return method(**request)
        except self._client.exceptions.ConditionalCheckFailedException:
            raise
        except (BotoCoreError, ClientError) as error:
            logger.warning(
                "Mojang shared state unavailable",
                extra={"operation": operation, "error": type(error).__name__},
            )
            raise SharedStateUnavailable(operation) from error


def epoch() -> float:
    """Now, as the shared state's times are: epoch seconds, comparable across containers."""
    return time.time()
