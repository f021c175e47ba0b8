"""The state every container shares: the shared cache behind each container's memory cache
(answers, "not found", leases, failures never stored), the limiter (a window of
MOJANG_MAX_REQUESTS_PER_MINUTE, the pause after a 429), and the DynamoDB adapter's conditions.
Containers are simulated here by clients with their own memory cache over one state; the
integration tests (test_shared_mojang.py) use real processes and a moto server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
import responses
from botocore.config import Config
from moto import mock_aws

from mojang_chat.core.deadline import Deadline
from mojang_chat.core.settings import Settings
from mojang_chat.mojang import MojangClient, PlayerId, PlayerProfile, Transport, TTLCache
from mojang_chat.mojang.cache import SharedCache
from mojang_chat.mojang.errors import RateLimitedError, UpstreamError
from mojang_chat.mojang.limiter import WINDOW_MARGIN_SECONDS, WINDOW_SECONDS, RateLimiter
from mojang_chat.mojang.shared import DynamoSharedState, MemorySharedState, SharedState
from tests.helpers import FakeClock
from tests.unit.mojang.helpers import (
    BULK_URL,
    JEB,
    NAME_URL,
    NOTCH,
    PROFILE_URL,
    SERVICES,
    SESSION,
    profile_body,
    textures,
)

NOW = 1_800_000_000.0  # epoch seconds: the shared state's times are wall-clock times


@pytest.fixture
def epoch() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def state() -> MemorySharedState:
    return MemorySharedState()


def container(
    state: SharedState,
    epoch: FakeClock,
    *,
    slept: list[float] | None = None,
    per_minute: int = 0,
    lease_seconds: float = 3.0,
    pause_seconds: float = 10.0,
) -> MojangClient:
    """One container's client: its own session and memory cache, the shared state."""
    sleeps = slept if slept is not None else []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        epoch.advance(seconds)

    limiter = RateLimiter(
        state, per_minute=per_minute, pause_seconds=pause_seconds, clock=epoch, sleep=sleep
    )
    shared = SharedCache(
        state,
        ttl=3600,
        negative_ttl=120,
        lease_seconds=lease_seconds,
        clock=epoch,
        sleep=sleep,
    )
    return MojangClient(
        Transport(requests.Session(), sleep=sleep, limiter=limiter, max_retries=1),
        session_url=SESSION,
        services_url=SERVICES,
        cache=TTLCache(ttl=3600, negative_ttl=120),
        shared=shared,
    )


# -- the shared cache -------------------------------------------------------------------------


def test_an_answer_one_container_got_serves_another_without_a_request(
    state: MemorySharedState, epoch: FakeClock, mocked: responses.RequestsMock
) -> None:
    # Given Mojang knows Notch and jeb_'s profile
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})
    mocked.get(PROFILE_URL + JEB, json=profile_body(JEB, "jeb_", textures(cape="x")))
    first, second = container(state, epoch), container(state, epoch)

    # When one container looks them up, then another
    looked_up = first.uuid_for_name("Notch"), first.profile(JEB)
    shared = second.uuid_for_name("notch"), second.profile(JEB)

    # Then the second got the same answers (the same types) and Mojang was asked once each
    assert shared == looked_up
    assert isinstance(shared[0], PlayerId)
    assert isinstance(shared[1], PlayerProfile)
    assert len(mocked.calls) == 2


def test_not_found_is_shared_for_the_negative_ttl_only(
    state: MemorySharedState, epoch: FakeClock, mocked: responses.RequestsMock
) -> None:
    mocked.get(NAME_URL + "Nobody", status=404)
    assert container(state, epoch).uuid_for_name("Nobody") is None

    # A new container within the negative TTL: no request
    epoch.advance(119)
    assert container(state, epoch).uuid_for_name("Nobody") is None
    assert len(mocked.calls) == 1

    # After it: asked again
    epoch.advance(2)
    assert container(state, epoch).uuid_for_name("Nobody") is None
    assert len(mocked.calls) == 2


def test_a_found_answer_is_shared_for_the_ttl(
    state: MemorySharedState, epoch: FakeClock, mocked: responses.RequestsMock
) -> None:
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})
    container(state, epoch).uuid_for_name("Notch")
    epoch.advance(3599)
    container(state, epoch).uuid_for_name("Notch")
    assert len(mocked.calls) == 1
    epoch.advance(2)
    container(state, epoch).uuid_for_name("Notch")
    assert len(mocked.calls) == 2


def test_a_transient_failure_is_never_shared(
    state: MemorySharedState, epoch: FakeClock, mocked: responses.RequestsMock
) -> None:
    # Given Mojang's WAF blocks the first container (and its retry)
    mocked.get(NAME_URL + "Notch", status=403, body="<html>blocked</html>")
    with pytest.raises(UpstreamError):
        container(state, epoch).uuid_for_name("Notch")
    assert state.read(["name:notch"], epoch()) == {}

    # Then the next container asks Mojang itself, once the failed lease has ended
    mocked.replace(responses.GET, NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})
    epoch.advance(3.0)
    assert container(state, epoch).uuid_for_name("Notch") == PlayerId(id=NOTCH, name="Notch")
    assert set(state.read(["name:notch"], epoch())) == {"name:notch"}


def test_a_container_waits_for_the_lease_holders_answer(
    state: MemorySharedState, epoch: FakeClock, mocked: responses.RequestsMock
) -> None:
    # Given another container holds the lease on "notch" and answers 0.3 s later
    assert state.lease("name:notch", epoch(), epoch() + 3.0)
    slept: list[float] = []
    waiting = container(state, epoch, slept=slept)
    answer = '{"id": "' + NOTCH + '", "name": "Notch"}'

    def holder_answers_while_we_wait(seconds: float) -> None:
        slept.append(seconds)
        epoch.advance(seconds)
        if sum(slept) >= 0.3:
            state.write("name:notch", answer, epoch() + 3600)

    waiting.shared._sleep = holder_answers_while_we_wait  # type: ignore[union-attr]

    # When this container asks
    player = waiting.uuid_for_name("Notch")

    # Then it got the holder's answer without asking Mojang, after a few short polls
    assert player == PlayerId(id=NOTCH, name="Notch")
    assert len(mocked.calls) == 0
    assert 0.3 <= sum(slept) < 1.0


def test_a_lease_whose_holder_never_answers_ends_and_the_waiter_asks_itself(
    state: MemorySharedState, epoch: FakeClock, mocked: responses.RequestsMock
) -> None:
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})
    assert state.lease("name:notch", epoch(), epoch() + 3.0)
    slept: list[float] = []

    player = container(state, epoch, slept=slept, lease_seconds=3.0).uuid_for_name("Notch")

    assert player == PlayerId(id=NOTCH, name="Notch")
    assert len(mocked.calls) == 1
    assert 2.5 <= sum(slept) <= 3.0  # waited about the lease, no longer


def test_a_waiter_gives_up_at_its_deadline(
    state: MemorySharedState, epoch: FakeClock, mocked: responses.RequestsMock
) -> None:
    assert state.lease("name:notch", epoch(), epoch() + 3.0)
    with pytest.raises(UpstreamError, match="timed out"):
        container(state, epoch).uuid_for_name("Notch", deadline=Deadline(0.5, clock=epoch))
    assert len(mocked.calls) == 0


def test_bulk_lookups_share_each_name(
    state: MemorySharedState, epoch: FakeClock, mocked: responses.RequestsMock
) -> None:
    mocked.post(BULK_URL, json=[{"id": NOTCH, "name": "Notch"}])
    first = container(state, epoch).uuids_for_names(["Notch", "Nobody"])
    # The second container sends nothing: both answers (found, not found) are shared
    second = container(state, epoch).uuids_for_names(["notch", "nobody"])
    assert [p.id for p in first.found] == [p.id for p in second.found] == [NOTCH]
    assert second.not_found == ["nobody"]
    assert len(mocked.calls) == 1


# -- the limiter ------------------------------------------------------------------------------


def limiter(
    state: SharedState, epoch: FakeClock, per_minute: int, slept: list[float]
) -> RateLimiter:
    def sleep(seconds: float) -> None:
        slept.append(seconds)
        epoch.advance(seconds)

    return RateLimiter(state, per_minute=per_minute, pause_seconds=10, clock=epoch, sleep=sleep)


def test_the_limit_admits_exactly_its_number_in_a_window_then_waits(
    state: MemorySharedState, epoch: FakeClock
) -> None:
    slept: list[float] = []
    # Two containers, one state: three requests a minute between them
    one, two = limiter(state, epoch, 3, slept), limiter(state, epoch, 3, slept)
    one.acquire(None)
    epoch.advance(1)
    two.acquire(None)
    one.acquire(None)
    assert slept == []  # exactly the limit: no wait

    # The fourth waits until the first request's slot has left the window
    two.acquire(None)
    assert slept == [pytest.approx(WINDOW_SECONDS + WINDOW_MARGIN_SECONDS - 1)]


def test_over_the_limit_a_lookup_that_cannot_wait_tells_when_to_try_again(
    state: MemorySharedState, epoch: FakeClock
) -> None:
    slept: list[float] = []
    gate = limiter(state, epoch, 1, slept)
    gate.acquire(None)
    epoch.advance(20)
    with pytest.raises(RateLimitedError) as caught:
        gate.acquire(Deadline(10, clock=epoch))
    assert caught.value.retry_after == 41  # 61 s after the first request
    assert str(caught.value) == (
        "Mojang API unavailable: Mojang's rate limit was reached: try again in 41 seconds"
    )
    assert slept == []


def test_zero_switches_the_limit_off(state: MemorySharedState, epoch: FakeClock) -> None:
    slept: list[float] = []
    gate = limiter(state, epoch, 0, slept)
    for _ in range(1000):
        gate.acquire(Deadline(1, clock=epoch))
    assert slept == []


def test_a_429_seen_by_one_container_pauses_all(
    state: MemorySharedState, epoch: FakeClock, mocked: responses.RequestsMock
) -> None:
    # Given Mojang answers one container 429 (no Retry-After), then would answer
    mocked.get(NAME_URL + "Notch", status=429, json={"path": "/x"})
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})
    first = container(state, epoch, pause_seconds=10)
    first.transport.max_retries = 0
    with pytest.raises(UpstreamError, match="429"):
        first.uuid_for_name("Notch")

    # When another container asks with 5 s left: it sends nothing and the model is told
    with pytest.raises(RateLimitedError, match="try again in 10 seconds"):
        container(state, epoch).name_for_uuid(JEB, deadline=Deadline(5, clock=epoch))
    assert len(mocked.calls) == 1

    # With time enough, it waits the pause out, then asks
    slept: list[float] = []
    player = container(state, epoch, slept=slept).uuid_for_name("Notch")
    assert player == PlayerId(id=NOTCH, name="Notch")
    assert sum(slept) == pytest.approx(10)


def test_settings_give_the_limiter_and_the_shared_cache(
    state: MemorySharedState,
) -> None:
    settings = Settings.from_env(
        {"MOJANG_MAX_REQUESTS_PER_MINUTE": "7", "MOJANG_CACHE_LEASE_SECONDS": "2"}
    )
    client = MojangClient.from_settings(settings, state)
    assert client.transport.limiter is not None
    assert client.transport.limiter.per_minute == 7
    assert client.transport.limiter.state is state
    assert client.shared is not None
    assert client.shared.lease_seconds == 2
    # Without shared state: memory cache only, and a limiter of this process
    alone = MojangClient.from_settings(settings)
    assert alone.shared is None
    assert isinstance(alone.transport.limiter.state, MemorySharedState)  # type: ignore[union-attr]
    assert Settings.from_env({}).mojang_max_requests_per_minute == 50 < 60  # under the quota


@pytest.mark.parametrize(("value", "valid"), [("0", True), ("600", True), ("601", False)])
def test_the_limit_setting_is_bounded(value: str, valid: bool) -> None:
    from mojang_chat.core.settings import ConfigurationError

    if valid:
        Settings.from_env({"MOJANG_MAX_REQUESTS_PER_MINUTE": value})
    else:
        with pytest.raises(ConfigurationError, match="MOJANG_MAX_REQUESTS_PER_MINUTE"):
            Settings.from_env({"MOJANG_MAX_REQUESTS_PER_MINUTE": value})


# -- the DynamoDB adapter ---------------------------------------------------------------------


@pytest.fixture
def dynamo() -> Iterator[DynamoSharedState]:
    with mock_aws():
        client: Any = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="cache",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoSharedState(client, "cache")


def test_dynamo_answers_expire_and_leases_exclude_each_other(dynamo: DynamoSharedState) -> None:
    assert dynamo.read(["a"], NOW) == {}
    assert dynamo.lease("a", NOW, NOW + 3)
    assert not dynamo.lease("a", NOW + 1, NOW + 4)  # held
    assert dynamo.read(["a"], NOW + 1) == {}  # a lease is no answer
    assert dynamo.lease("a", NOW + 3, NOW + 6)  # ended: taken over
    dynamo.write("a", "null", NOW + 120)
    assert dynamo.read(["a", "b"], NOW + 4) == {"a": "null"}
    assert not dynamo.lease("a", NOW + 5, NOW + 8)  # a fresh answer: nothing to lease
    # DynamoDB deletes expired items late: the reader checks the expiry itself
    assert dynamo.read(["a"], NOW + 121) == {}
    assert dynamo.lease("a", NOW + 121, NOW + 124)


def test_dynamo_slots_tickets_and_pause(dynamo: DynamoSharedState) -> None:
    assert dynamo.next_ticket() == (1, 0.0)
    assert dynamo.take_slot(0, NOW, NOW - 61) is None
    assert dynamo.take_slot(0, NOW + 10, NOW - 51) == NOW  # taken 10 s ago
    assert dynamo.take_slot(0, NOW + 62, NOW + 1) is None  # out of the window
    dynamo.pause_until(NOW + 30)
    dynamo.pause_until(NOW + 20)  # an earlier end never shortens a pause
    assert dynamo.next_ticket() == (2, NOW + 30)
    assert dynamo.read([f"k{n}" for n in range(150)], NOW) == {}  # over BatchGetItem's 100
    assert dynamo.calls["BatchGetItem"] == 2


def test_dynamo_unavailable_the_lookup_goes_to_mojang(
    epoch: FakeClock, mocked: responses.RequestsMock
) -> None:
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})
    # Given DynamoDB unreachable (nothing listens on the port)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    unreachable = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, connect_timeout=0.5),
    )
    broken = DynamoSharedState(unreachable, "cache")
    # Then the answer still comes, from Mojang, and the limiter lets it through
    player = container(broken, epoch, per_minute=1).uuid_for_name("Notch")
    assert player == PlayerId(id=NOTCH, name="Notch")
    assert len(mocked.calls) == 1


def test_threads_of_one_container_share_one_lookup(
    state: MemorySharedState, epoch: FakeClock, mocked: responses.RequestsMock
) -> None:
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})
    client = container(state, epoch)
    threads = [threading.Thread(target=client.uuid_for_name, args=("Notch",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(mocked.calls) == 1
