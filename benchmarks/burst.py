"""A Lambda-like burst: separate processes, each a container with its own memory and clients,
that share only DynamoDB (a moto server on 127.0.0.1, reached through boto3's standard
AWS_ENDPOINT_URL) answer questions about a few players, one question at a time each, as Lambda
containers do. Measures the Mojang requests against one process answering the same questions,
requests on the deprecated routes, and the most requests in any 60 s window."""

from __future__ import annotations

import multiprocessing
import os
import random
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from benchmarks.upstreams import Upstreams, player_names, question

# Spawned, not forked: a container shares nothing with another but what it is given.
SPAWN = multiprocessing.get_context("spawn")
DEPRECATED_ROUTES = ("/users/profiles/minecraft/", "/profiles/minecraft")
RATE_LIMITED = "rate limit was reached"


@dataclass(frozen=True)
class Burst:
    """``questions`` about ``players`` players, answered by ``containers`` processes."""

    containers: int
    questions: int
    players: int


FULL = Burst(20, 200, 50)
QUICK = Burst(4, 20, 5)


def answer_in_a_container(
    environment: dict[str, str],
    questions: list[tuple[str, list[str]]],
    threads: int,
    start: Any,
    out: Any,
) -> None:
    """One container: each question answered through the /chat logic; counts of answers that
    named every player's id, answers where the model was told of the rate limit instead, other
    answers, and errors (what would be a 5xx)."""
    os.environ.update(environment)
    from mojang_chat import container
    from mojang_chat.core.deadline import Deadline
    from mojang_chat.guard import UNKNOWN_CLIENT
    from mojang_chat.http.chat import ChatRequest, answer_question

    failures: list[str] = []

    def ask(item: tuple[str, list[str]]) -> str:
        text, ids = item
        told: list[str] = []
        try:
            response = answer_question(
                ChatRequest(message=text),
                Deadline(25.0),
                client=UNKNOWN_CLIENT,
                on_tool_results=lambda results: told.extend(str(r.output) for r in results),
            )
        except Exception as error:
            failures.append(f"{type(error).__name__}: {error}")
            return "errors"
        answer = response.answer.replace("-", "").lower()
        if all(id_ in answer for id_ in ids):
            return "correct"
        if any(RATE_LIMITED in output for output in told):
            return "told_rate_limited"
        return "wrong"

    # Lambda's init phase, as the functions do at import: a cold start is not the burst's.
    container.preload()
    start.wait()
    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(ask, questions))
    counts: dict[str, int] = {kind: outcomes.count(kind) for kind in set(outcomes)}
    # The DynamoDB requests of the shared cache and limiter (DynamoSharedState counts them).
    limiter = container.mojang().transport.limiter
    for operation, calls in getattr(limiter, "state", None).__dict__.get("calls", {}).items():
        counts[f"dynamodb_{operation}"] = calls
    out.put((counts, failures[:1]))


def questions_about(up: Upstreams, burst: Burst) -> list[tuple[str, list[str]]]:
    """The burst's questions (1 to 3 players each, drawn at random) with the ids they want."""
    players = player_names(burst.players, prefix="Crowd")
    up.add_players(players)
    draw = random.Random(13)
    asked = [draw.sample(players, draw.choice((1, 1, 2, 3))) for _ in range(burst.questions)]
    return [(question(names), [up.mojang.players[n.lower()].id for n in names]) for names in asked]


def run_burst(
    up: Upstreams,
    questions: list[tuple[str, list[str]]],
    environment: dict[str, str],
    *,
    containers: int,
    threads: int,
) -> dict[str, Any]:
    """The questions shared out among ``containers`` processes of ``threads`` threads."""
    up.mojang.clear_log()
    out = SPAWN.Queue()
    start = SPAWN.Barrier(containers)
    processes = [
        SPAWN.Process(
            target=answer_in_a_container,
            args=(environment, questions[index::containers], threads, start, out),
        )
        for index in range(containers)
    ]
    for process in processes:
        process.start()
    outcomes: dict[str, int] = {"correct": 0, "told_rate_limited": 0, "wrong": 0, "errors": 0}
    failures: list[str] = []
    for _ in processes:
        counts, failed = out.get(timeout=600)
        failures += failed
        for kind, count in counts.items():
            outcomes[kind] = outcomes.get(kind, 0) + count
    for process in processes:
        process.join(timeout=30)
    sent = up.mojang.requests()
    reads = outcomes.get("dynamodb_BatchGetItem", 0) + outcomes.get("dynamodb_GetItem", 0)
    writes = outcomes.get("dynamodb_PutItem", 0) + outcomes.get("dynamodb_UpdateItem", 0)
    return {
        **outcomes,
        "first_errors": sorted(set(failures))[:3],
        "dynamodb_reads_per_question": reads / len(questions),
        "dynamodb_writes_per_question": writes / len(questions),
        "requests": len(sent),
        "deprecated_requests": sum(r.path.startswith(DEPRECATED_ROUTES) for r in sent),
        "max_per_60s": max_in_window(sorted(r.at for r in sent), 60.0),
    }


def max_in_window(times: Sequence[float], window: float) -> int:
    """The most of ``times`` (sorted) in any half-open interval ``window`` long."""
    most, first = 0, 0
    for last, time in enumerate(times):
        while time - times[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def lambda_burst(up: Upstreams, burst: Burst, limit: int) -> dict[str, Any]:
    """One process (threads, its own cache), then the containers sharing DynamoDB, then the
    same with ``MOJANG_MAX_REQUESTS_PER_MINUTE`` set to ``limit``."""
    from mojang_chat.local.aws import create_table, moto_server
    from mojang_chat.local.server import default_template
    from mojang_chat.local.template import Application

    questions = questions_about(up, burst)
    base = {
        **up.environment(),
        "USAGE_TABLE_NAME": "",  # the cost guard in each process's memory, off in the bench
        "TOKENS_PER_DAY": "0",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "MOJANG_MAX_REQUESTS_PER_MINUTE": "0",  # off: the cache's effect alone
    }
    results: dict[str, Any] = {"containers": burst.containers, "questions": len(questions)}
    results["players"] = burst.players
    results["one_process"] = run_burst(up, questions, base, containers=1, threads=burst.containers)
    with moto_server() as aws:
        import boto3

        app = Application.from_file(default_template())
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=aws["AWS_ENDPOINT_URL"],
            region_name=aws["AWS_DEFAULT_REGION"],
            aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
        )
        for run, per_minute in (("shared", 0), ("limited", limit)):
            table = f"mojang-cache-{uuid.uuid4().hex[:8]}"
            create_table(app, "MojangCacheTable", dynamodb, table)
            environment = {
                **base,
                **aws,
                "MOJANG_CACHE_TABLE_NAME": table,
                "MOJANG_MAX_REQUESTS_PER_MINUTE": str(per_minute),
            }
            results[run] = run_burst(
                up, questions, environment, containers=burst.containers, threads=1
            )
    results["limit"] = limit
    results["ratio"] = results["shared"]["requests"] / max(results["one_process"]["requests"], 1)
    return results
