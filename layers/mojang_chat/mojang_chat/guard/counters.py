"""The guard's counters: a protocol, its DynamoDB adapter (shared by every container), and an
in-memory one (one process: the unit tests and the ``ask`` command line).

A counter is a number under a key that expires; adding to it is atomic and, given a limit,
conditional: the addition happens only while the counter is still below the limit, so two
containers racing for the last request of a window can never both get it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from mojang_chat.guard.errors import COUNTERS_UNAVAILABLE, CountersUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class Counters(Protocol):
    """Atomic counters under string keys, each removed after its ``expires_at``."""

    def add(self, key: str, amount: int, *, expires_at: int, limit: int | None = None) -> bool:
        """Add ``amount`` to the counter ``key`` (created at 0), unless ``limit`` is given and
        the counter has reached it already; True when added. ``amount`` 0 with a limit is a
        check that leaves the counter as it was."""
        ...


class MemoryCounters:
    """Counters in this process only: enough for one process, never shared between
    containers (a deployed function uses ``DynamoCounters``)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, tuple[int, int]] = {}

    def add(self, key: str, amount: int, *, expires_at: int, limit: int | None = None) -> bool:
        """See ``Counters.add``."""
        now = self._clock()
        with self._lock:
            # Expired counters go as they would by TTL: a long-lived process stays small.
            for stale in [k for k, (_, ends) in self._values.items() if ends <= now]:
                del self._values[stale]
            value, _ = self._values.get(key, (0, expires_at))
            if limit is not None and value >= limit:
                return False
            self._values[key] = (value + amount, expires_at)
            return True


class DynamoCounters:
    """Counters in a DynamoDB table (key ``id``, the count in ``n``, expiry in ``ttl``): one
    ``UpdateItem`` per addition, ``ADD`` for atomicity, a condition expression for the limit."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def add(self, key: str, amount: int, *, expires_at: int, limit: int | None = None) -> bool:
        """See ``Counters.add``."""
        values = {":amount": {"N": str(amount)}, ":ttl": {"N": str(expires_at)}}
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"id": {"S": key}},
            "UpdateExpression": "ADD n :amount SET #ttl = if_not_exists(#ttl, :ttl)",
            "ExpressionAttributeNames": {"#ttl": "ttl"},  # a reserved word in DynamoDB
            "ExpressionAttributeValues": values,
        }
        if limit is not None:
            values[":limit"] = {"N": str(limit)}
            request["ConditionExpression"] = "attribute_not_exists(n) OR n < :limit"
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.update_item(**request)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        except (BotoCoreError, ClientError) as error:
            # Unknown usage admits nothing: the budget is safe, and the caller is told why.
            raise CountersUnavailable(COUNTERS_UNAVAILABLE) from error
        return True
