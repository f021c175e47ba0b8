"""The counters' adapters: the same behaviour in memory and in DynamoDB (moto), and additions
that stay atomic when many threads race for the last units under a limit."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mojang_chat.guard import Counters, CountersUnavailable, DynamoCounters, MemoryCounters
from mojang_chat.local.aws import dynamodb_one_request_at_a_time
from tests.helpers import FakeClock

TABLE = "usage"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    # Each request atomic, as in DynamoDB (and in the local server's moto): what remains to
    # prove is that the adapter adds in one conditional write, never a read and then a write.
    with mock_aws(), dynamodb_one_request_at_a_time():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


@pytest.fixture(params=["memory", "dynamodb"])
def counters(request: pytest.FixtureRequest) -> Counters:
    if request.param == "memory":
        return MemoryCounters(FakeClock(100))
    return DynamoCounters(request.getfixturevalue("dynamodb"), TABLE)


def test_additions_stop_at_the_limit(counters: Counters) -> None:
    assert [counters.add("k", 1, expires_at=160, limit=3) for _ in range(5)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    # Another key is another counter; without a limit, adding always works
    assert counters.add("other", 1, expires_at=160, limit=1)
    assert counters.add("k", 1000, expires_at=160)
    assert not counters.add("k", 0, expires_at=160, limit=1003)


def test_a_check_with_amount_zero_changes_nothing(counters: Counters) -> None:
    assert counters.add("k", 0, expires_at=160, limit=1)
    assert counters.add("k", 0, expires_at=160, limit=1)
    assert counters.add("k", 1, expires_at=160, limit=1)
    assert not counters.add("k", 0, expires_at=160, limit=1)


def test_the_item_has_its_count_and_ttl(dynamodb: Any) -> None:
    counters = DynamoCounters(dynamodb, TABLE)
    counters.add("client-requests#203.0.113.7#160", 1, expires_at=160, limit=10)
    counters.add("client-requests#203.0.113.7#160", 1, expires_at=999, limit=10)
    item = dynamodb.get_item(TableName=TABLE, Key={"id": {"S": "client-requests#203.0.113.7#160"}})
    # The first expiry stays: a window's end does not move
    assert item["Item"] == {
        "id": {"S": "client-requests#203.0.113.7#160"},
        "n": {"N": "2"},
        "ttl": {"N": "160"},
    }


def test_memory_counters_forget_a_window_once_it_has_ended() -> None:
    clock = FakeClock(100)
    counters = MemoryCounters(clock)
    assert counters.add("k", 1, expires_at=160, limit=1)
    assert not counters.add("k", 1, expires_at=160, limit=1)
    clock.advance(60)
    assert counters.add("k", 1, expires_at=220, limit=1)


def test_racing_threads_never_take_more_than_the_limit(counters: Counters) -> None:
    # Given 16 threads racing for 40 units under a limit of 25
    with ThreadPoolExecutor(16) as pool:
        admitted = list(
            pool.map(lambda _: counters.add("race", 1, expires_at=160, limit=25), range(40))
        )
    # Then exactly 25 additions happened, and the counter is at the limit
    assert admitted.count(True) == 25
    assert not counters.add("race", 0, expires_at=160, limit=25)
    assert counters.add("race", 0, expires_at=160, limit=26)


def test_a_counter_table_that_cannot_be_reached_admits_nothing() -> None:
    with mock_aws(), dynamodb_one_request_at_a_time():
        counters = DynamoCounters(boto3.client("dynamodb", region_name="us-east-1"), "missing")

        with pytest.raises(CountersUnavailable, match="usage counters could not be reached"):
            counters.add("client:x", 1, expires_at=2_000_000_000, limit=10)
