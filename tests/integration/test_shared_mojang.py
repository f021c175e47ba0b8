"""The Mojang cache and limiter shared by containers, proved with real processes: each one a
container (its own memory, its own clients) that shares only DynamoDB, a moto server on
127.0.0.1 reached through boto3's standard AWS_ENDPOINT_URL, and the stand-in Mojang."""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from mojang_chat.local.aws import create_table, moto_server
from mojang_chat.local.standins.mojang import JEB_UUID, MERRYDITH_UUID, NOTCH_UUID
from tests.fakes.mojang_server import FakeMojangServer, Fault
from tests.helpers import application

NAME_ROUTE = "/minecraft/profile/lookup/name/"
# Spawned, not forked: a container shares nothing with another but what it is given.
SPAWN = multiprocessing.get_context("spawn")


def lookups_in_a_container(
    environment: dict[str, str], names: list[str], deadline: float, start: Any, out: Any
) -> None:
    """One container: the names looked up in turn once every container is ready (``start``, a
    barrier), each answered by a player's id, None (not found) or the error the model reads."""
    os.environ.update(environment)
    from mojang_chat import container
    from mojang_chat.core.deadline import Deadline
    from mojang_chat.mojang.errors import MojangError

    client = container.mojang()
    start.wait()
    answers: list[str | None] = []
    for name in names:
        try:
            player = client.uuid_for_name(name, deadline=Deadline(deadline))
            answers.append(None if player is None else player.id)
        except MojangError as error:
            answers.append(str(error))
    out.put(answers)


@pytest.fixture(scope="module")
def aws() -> Iterator[dict[str, str]]:
    with moto_server() as environment:
        yield environment


@pytest.fixture
def mojang() -> Iterator[FakeMojangServer]:
    with FakeMojangServer() as server:
        yield server


@pytest.fixture
def environment(aws: dict[str, str], mojang: FakeMojangServer) -> dict[str, str]:
    """The containers' environment: a fresh MojangCacheTable (the template's) of their own."""
    table = f"mojang-cache-{uuid.uuid4().hex[:8]}"
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=aws["AWS_ENDPOINT_URL"],
        region_name=aws["AWS_DEFAULT_REGION"],
        aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
    )
    create_table(application(), "MojangCacheTable", dynamodb, table)
    return {
        **aws,
        "MOJANG_CACHE_TABLE_NAME": table,
        "MINECRAFT_SERVICES_URL": mojang.url,
        "MOJANG_SESSION_URL": mojang.url,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "MojangChatTest",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }


def run_containers(
    environment: dict[str, str],
    names_per_container: list[list[str]],
    *,
    deadline: float = 10.0,
    together: bool = True,
) -> list[list[str | None]]:
    """Each list of names looked up by a container of its own; all start at one moment
    (``together``) or one after the other."""
    answers = []
    if not together:
        for names in names_per_container:
            answers += run_containers(environment, [names], deadline=deadline)
        return answers
    out = SPAWN.Queue()
    start = SPAWN.Barrier(len(names_per_container))
    processes = [
        SPAWN.Process(
            target=lookups_in_a_container, args=(environment, names, deadline, start, out)
        )
        for names in names_per_container
    ]
    for process in processes:
        process.start()
    results = [out.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=10)
        assert process.exitcode == 0
    return results


def test_two_containers_one_lookup(environment: dict[str, str], mojang: FakeMojangServer) -> None:
    # When one container looks up merrydith and a nobody, then another the same
    answers = run_containers(
        environment, [["merrydith", "nobody_here"], ["MERRYDITH", "Nobody_Here"]], together=False
    )

    # Then both got the same answers, and Mojang was asked once per name, on the current route
    assert answers == [[MERRYDITH_UUID, None], [MERRYDITH_UUID, None]]
    assert sorted(r.path for r in mojang.requests()) == [
        NAME_ROUTE + "merrydith",
        NAME_ROUTE + "nobody_here",
    ]


def test_containers_asking_at_once_wait_for_the_first_ones_answer(
    environment: dict[str, str], mojang: FakeMojangServer
) -> None:
    # Given a Mojang that takes 0.5 s to answer
    mojang.latency = 0.5

    # When four containers ask for Notch at the same moment
    answers = run_containers(environment, [["Notch"]] * 4)

    # Then one asked Mojang (it took the lease) and the others had its answer
    assert answers == [[NOTCH_UUID]] * 4
    assert [r.path for r in mojang.requests()] == [NAME_ROUTE + "Notch"]


def test_the_limit_holds_across_containers(
    environment: dict[str, str], mojang: FakeMojangServer
) -> None:
    # Given three requests a minute for the whole deployment
    limited = {**environment, "MOJANG_MAX_REQUESTS_PER_MINUTE": "3"}

    # When two containers look up six different names, each with 2 s to answer
    answers = run_containers(
        limited,
        [["Notch", "jeb_", "nobody1"], ["Dinnerbone", "merrydith", "nobody2"]],
        deadline=2.0,
    )

    # Then Mojang got three requests; the other lookups told the model when to try again
    assert len(mojang.requests()) == 3
    told = [a for b in answers for a in b if a is not None and "rate limit was reached" in a]
    assert len(told) == 3
    assert all("try again in" in message for message in told)


def test_a_429_seen_by_one_container_slows_all(
    environment: dict[str, str], mojang: FakeMojangServer
) -> None:
    # Given Mojang answers the first request 429, and pauses of 30 s after one
    mojang.inject(Fault.rate_limited(), times=1, path_prefix=NAME_ROUTE)
    paused = {
        **environment,
        "MOJANG_MAX_RETRIES": "0",
        "MOJANG_RATE_LIMIT_PAUSE_SECONDS": "30",
    }

    # When one container is refused, then another asks with 3 s to answer
    first, second = run_containers(paused, [["Notch"], ["jeb_"]], deadline=3.0, together=False)

    # Then the second sent nothing and told the model when to try again
    assert first == ["Mojang API unavailable: rate limited (HTTP 429)"]
    assert second[0] is not None
    assert "rate limit was reached: try again in" in second[0]
    assert [r.path for r in mojang.requests()] == [NAME_ROUTE + "Notch"]
    assert JEB_UUID not in second
