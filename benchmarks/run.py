"""``make bench``: every number of issue 6 in one run, printed as a table (target and pass/fail
next to each) and written to benchmarks/results/latest.json.

    python -m benchmarks.run            # the full run (a few minutes)
    python -m benchmarks.run --quick    # the smallest configuration, zero latency: a smoke test

Upstreams are the project's stand-in model and Mojang API on 127.0.0.1 (local/standins)
with a configurable latency per model call and per Mojang request. ``/chat`` and the runs
path go through the local server (local/server.py), i.e. real HTTP into the very handlers
Lambda runs, with Step Functions and DynamoDB in-process through moto. Medians everywhere:
the machines this runs on are shared and noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import requests

from benchmarks import burst, cold, tutorial, upstreams
from benchmarks.upstreams import Upstreams, player_names, question
from mojang_chat.core import TERMINAL_STATUSES

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
SIZES = (1, 3, 10, 25)
# MOJANG_MAX_REQUESTS_PER_MINUTE in the burst's limited run: low enough that the burst meets it.
BURST_LIMIT = 15


@dataclass(frozen=True)
class Config:
    """How much to measure."""

    model_latency: float
    mojang_latency: float
    sizes: Sequence[int]
    chat_repeats: int
    tutorial_repeats: int
    runs_repeats: int
    cold_repeats: int
    overhead_requests: int
    rps_seconds: float
    burst_questions: int
    burst_players: int
    burst_threads: int


FULL = Config(0.4, 0.08, SIZES, 7, 3, 3, 7, 300, 5.0, 1000, 50, 20)
QUICK = Config(0.0, 0.0, (1,), 1, 1, 1, 1, 5, 0.5, 20, 5, 4)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Names:
    """Fresh player names for every question, so that each one really reaches Mojang
    (a cached answer would beat the critical path)."""

    def __init__(self) -> None:
        self._all = iter(player_names(100_000))

    def take(self, count: int) -> list[str]:
        return [next(self._all) for _ in range(count)]


# -- 1 and 2: /chat against the critical path and the tutorial ------------------------------


def chat_latency(server_url: str, config: Config, names: Names) -> dict[str, Any]:
    """Median end-to-end ``POST /chat`` seconds per question size."""
    session = requests.Session()

    def ask(count: int) -> float:
        started = time.perf_counter()
        response = session.post(
            f"{server_url}/chat", json={"message": question(names.take(count))}, timeout=60
        )
        elapsed = time.perf_counter() - started
        body = response.json()
        if response.status_code != 200 or body["status"] != "completed":
            raise RuntimeError(f"/chat failed: {response.status_code} {body}")
        return elapsed

    ask(1)  # the container's first request is measured by the cold start, not here
    floor = 2 * config.model_latency + config.mojang_latency
    sizes: dict[str, Any] = {}
    for size in config.sizes:
        median_s = median([ask(size) for _ in range(config.chat_repeats)])
        sizes[str(size)] = {
            "median_s": median_s,
            "critical_path_s": floor,
            "ratio": median_s / floor if floor else None,
        }
    return sizes


def tutorial_latency(up: Upstreams, config: Config, names: Names) -> dict[str, float]:
    """Median seconds of the tutorial's approach per question size (benchmarks/tutorial.py)."""
    with tutorial.emulator(up.model.base_url) as service:
        client = openai.OpenAI(base_url=service.base_url, api_key="sk-bench", max_retries=0)
        results = {}
        for size in config.sizes:
            times = []
            for _ in range(config.tutorial_repeats):
                started = time.perf_counter()
                tutorial.ask(client, up.mojang.url, question(names.take(size)))
                times.append(time.perf_counter() - started)
            results[str(size)] = median(times)
    return results


# -- 3: the runs path ------------------------------------------------------------------------


def runs_path(server_url: str, config: Config, names: Names) -> dict[str, Any]:
    """Seconds from create_and_run to ``completed`` for a client polling every 250 ms, and
    the workflow's state transitions per run (from the execution's history)."""
    import boto3

    from mojang_chat.runs.records import ASSISTANT_ID
    from mojang_chat.runs.workflow import execution_arn

    session = requests.Session()
    sfn = boto3.client("stepfunctions")
    machine = os.environ["RUN_STATE_MACHINE_ARN"]
    times: list[float] = []
    transitions: list[int] = []
    for _ in range(config.runs_repeats):
        body = {
            "assistant_id": ASSISTANT_ID,
            "thread": {"messages": [{"role": "user", "content": question(names.take(1))}]},
        }
        started = time.perf_counter()
        run = session.post(f"{server_url}/v1/threads/runs", json=body, timeout=30).json()
        while run["status"] not in TERMINAL_STATUSES:
            time.sleep(0.25)
            url = f"{server_url}/v1/threads/{run['thread_id']}/runs/{run['id']}"
            run = session.get(url, timeout=30).json()
        times.append(time.perf_counter() - started)
        if run["status"] != "completed":
            raise RuntimeError(f"the run ended {run['status']}: {run.get('last_error')}")
        history = sfn.get_execution_history(executionArn=execution_arn(machine, run["id"]))
        transitions.append(sum(e["type"].endswith("StateEntered") for e in history["events"]))
    return {
        "median_s": median(times),
        "critical_path_s": 2 * config.model_latency + config.mojang_latency,
        "state_transitions": median(transitions),
    }


# -- 4: cold start ---------------------------------------------------------------------------


def cold_start(up: Upstreams, config: Config) -> dict[str, Any]:
    """Fresh interpreters (benchmarks/cold.py); the first run of each mode is discarded
    (it writes the bytecode caches)."""
    environment = up.environment()
    runs: dict[str, list[dict[str, Any]]] = {}
    for mode in cold.MODES:
        cold.measure(mode, environment)
        runs[mode] = [cold.measure(mode, environment) for _ in range(config.cold_repeats)]

    def med(mode: str, key: str) -> float:
        return median([run[key] for run in runs[mode]])

    openai_s = med("openai", "import_s")
    init_s = med("init", "init_s")
    return {
        "import_openai_s": openai_s,
        "init_s": init_s,
        "ratio": init_s / openai_s,
        "first_request_s": med("init", "first_request_s"),
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs["init"]),
        "lazy_openai_init_s": med("init-lazy", "init_s"),
        "lazy_openai_first_request_s": med("init-lazy", "first_request_s"),
        "tracing_active_init_s": med("init-traced", "init_s"),
    }


# -- 5: warm overhead ------------------------------------------------------------------------


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """The metrics' EMF lines (Lambda sends stdout to CloudWatch) into /dev/null."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def warm_overhead(server_url: str, config: Config, names: Names) -> dict[str, Any]:
    """CPU seconds the handler thread spends per request (``time.thread_time``: waits for the
    upstreams are not CPU time), for a one-player question whose model and Mojang calls all
    run on that thread; and requests per second of the local server, zero-latency upstreams."""
    sys.path.insert(0, str(ROOT / "functions" / "chat"))
    import app  # type: ignore[import-not-found]

    from mojang_chat import container

    overheads = []
    with stdout_to_devnull():
        for _ in range(config.overhead_requests):
            event = cold._event(question(names.take(1)))
            context = cold._Context()
            started = time.thread_time()
            response = app.lambda_handler(event, context)
            overheads.append(time.thread_time() - started)
            if response["statusCode"] != 200:
                raise RuntimeError(f"handler answered {response['statusCode']}")
    container.reset()

    count = 0
    lock = threading.Lock()
    stop = time.monotonic() + config.rps_seconds

    def client() -> None:
        nonlocal count
        session = requests.Session()
        while time.monotonic() < stop:
            body = {"message": question(["merrydith"])}
            session.post(f"{server_url}/chat", json=body, timeout=30).raise_for_status()
            with lock:
                count += 1

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(client) for _ in range(4)]:
            future.result()
    return {
        "median_ms": median(overheads) * 1000,
        "p99_ms": percentile(overheads, 0.99) * 1000,
        "requests_per_second": count / (time.monotonic() - started),
    }


# -- 6: Mojang traffic -----------------------------------------------------------------------


def mojang_burst(up: Upstreams, config: Config) -> dict[str, Any]:
    """Upstream requests for a burst of questions about a few distinct players, asked from
    many threads through the /chat logic of one process (its cache and single-flight)."""
    from mojang_chat import container
    from mojang_chat.core.deadline import Deadline
    from mojang_chat.guard import UNKNOWN_CLIENT
    from mojang_chat.http.chat import ChatRequest, answer_question

    container.reset()
    players = player_names(config.burst_players, prefix="Burst")
    up.add_players(players)
    draw = random.Random(6)
    questions = [
        question(draw.sample(players, draw.choice((1, 1, 2, 3))))
        for _ in range(config.burst_questions)
    ]
    before = up.mojang_requests()

    def ask(text: str) -> None:
        answer_question(ChatRequest(message=text), Deadline(25.0), client=UNKNOWN_CLIENT)

    with stdout_to_devnull(), ThreadPoolExecutor(config.burst_threads) as pool:
        list(pool.map(ask, questions))
    sent = up.mojang_requests() - before
    return {
        "questions": len(questions),
        "players": len(players),
        "requests": sent,
        "floor": len(players),
        "ratio": sent / len(players),
    }


# -- the table -------------------------------------------------------------------------------


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(metric, value, target, met) for the table."""
    out: list[tuple[str, str, str, bool | None]] = []
    chat, base = results["chat"], results["tutorial"]
    for size, row in chat.items():
        ratio = row["ratio"]
        out.append(
            (
                f"/chat {size} player(s)",
                f"{row['median_s'] * 1000:.0f} ms "
                f"(min {row['critical_path_s'] * 1000:.0f} ms, "
                + (f"{ratio:.2f}x)" if ratio else "n/a)"),
                "<= 1.10x min",
                None if ratio is None else ratio <= 1.10,
            )
        )
        speedup = base[size] / row["median_s"]
        target = 3.0 if size == "1" else 5.0 if size == "25" else None
        out.append(
            (
                f"tutorial {size} player(s)",
                f"{base[size] * 1000:.0f} ms ({speedup:.1f}x slower)",
                f">= {target:.0f}x" if target else "-",
                None if target is None else speedup >= target,
            )
        )
    runs = results["runs"]
    out.append(
        (
            "runs: create -> completed",
            f"{runs['median_s'] * 1000:.0f} ms, {runs['state_transitions']:.0f} state transitions",
            "-",
            None,
        )
    )
    start = results["cold_start"]
    out.append(
        (
            "cold init (import+init)",
            f"{start['init_s'] * 1000:.0f} ms "
            f"(openai alone {start['import_openai_s'] * 1000:.0f} ms, {start['ratio']:.2f}x)",
            "<= 1.30x",
            start["ratio"] <= 1.30,
        )
    )
    out.append(
        (
            "cold first request",
            f"{start['first_request_s'] * 1000:.0f} ms (openai "
            f"deferred: init {start['lazy_openai_init_s'] * 1000:.0f} + first "
            f"{start['lazy_openai_first_request_s'] * 1000:.0f} ms)",
            "-",
            None,
        )
    )
    out.append(
        ("cold init, tracing Active", f"{start['tracing_active_init_s'] * 1000:.0f} ms", "-", None)
    )
    out.append(
        ("cold peak RSS", f"{start['peak_rss_mb']:.0f} MB", "< 128 MB", start["peak_rss_mb"] < 128)
    )
    warm = results["warm"]
    out.append(
        (
            "warm overhead",
            f"median {warm['median_ms']:.2f} ms, p99 {warm['p99_ms']:.2f} ms",
            "< 5 ms median",
            warm["median_ms"] < 5,
        )
    )
    out.append(("local server, 0-latency", f"{warm['requests_per_second']:.0f} req/s", "-", None))
    burst = results["mojang_burst"]
    out.append(
        (
            f"Mojang, {burst['questions']} q / {burst['players']} players",
            f"{burst['requests']} requests ({burst['ratio']:.2f}x floor)",
            "<= 1.10x",
            burst["ratio"] <= 1.10,
        )
    )
    shared = results["lambda_burst"]
    alone, limited = shared["one_process"], shared["limited"]
    out.append(
        (
            f"Mojang, {shared['containers']} containers",
            f"{shared['shared']['requests']} requests vs {alone['requests']} in one process "
            f"({shared['ratio']:.2f}x); {shared['shared']['correct']}/{shared['questions']} "
            f"correct; {shared['shared']['deprecated_requests']} on deprecated routes",
            "<= 1.15x",
            shared["ratio"] <= 1.15
            and shared["shared"]["correct"] == shared["questions"]
            and shared["shared"]["deprecated_requests"] == 0,
        )
    )
    out.append(
        (
            f"Mojang, limit {shared['limit']}/min",
            f"max {limited['max_per_60s']} in 60 s; {limited['correct']} correct, "
            f"{limited['told_rate_limited']} told to retry, {limited['errors']} errors",
            f"<= {shared['limit']}, 0 err",
            limited["max_per_60s"] <= shared["limit"]
            and limited["errors"] == 0
            and limited["wrong"] == 0,
        )
    )
    out.append(
        (
            "DynamoDB per question",
            f"{shared['shared']['dynamodb_reads_per_question']:.2f} reads, "
            f"{shared['shared']['dynamodb_writes_per_question']:.2f} writes",
            "-",
            None,
        )
    )
    return out


def table(results: dict[str, Any]) -> str:
    lines = [f"{'metric':<30} {'measured':<58} {'target':<14} result"]
    for metric, value, target, met in rows(results):
        verdict = "-" if met is None else "pass" if met else "FAIL"
        lines.append(f"{metric:<30} {value:<58} {target:<14} {verdict}")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpus": os.cpu_count(),
    }


def measure(config: Config, progress: Callable[[str], None]) -> dict[str, Any]:
    """Every measurement of the issue, in one run."""
    from mojang_chat import container
    from mojang_chat.local.server import running

    names = Names()
    results: dict[str, Any] = {"machine": machine(), "config": config.__dict__}
    with upstreams.running(2000) as up:
        progress("cold start")
        results["cold_start"] = cold_start(up, config)
        with running(quiet=True) as server:
            progress("warm overhead")
            results["warm"] = warm_overhead(server.url, config, names)
            progress("Mojang burst")
            up.set_latency(0.0, config.mojang_latency)
            results["mojang_burst"] = mojang_burst(up, config)
            container.reset()
            up.set_latency(config.model_latency, config.mojang_latency)
            progress("/chat latency")
            results["chat"] = chat_latency(server.url, config, names)
            progress("runs path")
            results["runs"] = runs_path(server.url, config, names)
        progress("Lambda-like burst")
        quick = config.burst_questions <= QUICK.burst_questions
        results["lambda_burst"] = burst.lambda_burst(
            up, burst.QUICK if quick else burst.FULL, BURST_LIMIT
        )
        progress("tutorial baseline")
        results["tutorial"] = tutorial_latency(up, config, names)
    results["table"] = [
        {"metric": m, "measured": v, "target": t, "met": ok} for m, v, t, ok in rows(results)
    ]
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smallest configuration, no latency")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--model-latency", type=float, help="seconds per model call")
    parser.add_argument("--mojang-latency", type=float, help="seconds per Mojang request")
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    overrides = {
        "model_latency": args.model_latency,
        "mojang_latency": args.mojang_latency,
    }
    config = Config(**{**config.__dict__, **{k: v for k, v in overrides.items() if v is not None}})
    # The functions' logs and metrics go to stdout, as in Lambda: away from the table.
    warnings.filterwarnings("ignore", "No application metrics to publish")
    with stdout_to_devnull():
        results = measure(config, lambda step: print(f"... {step}", file=sys.stderr, flush=True))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(table(results))
    print(
        f"\n{results['machine']['platform']}, {results['machine']['cpus']} CPUs; "
        f"JSON in {args.output}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
