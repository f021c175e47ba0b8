"""The project side by side with its peers (benchmarks/contenders.py): same stand-ins, same
latencies, same questions, each contender in a process of its own, interleaved run by run.

Measures per contender: latency over the floor at each question size, Mojang requests per
question, CPU per warm request (the whole process, every thread), instructions per warm
request under callgrind (when valgrind is installed), cold import + first request and the
peak RSS of a cold process.
"""

from __future__ import annotations

import re
import shutil
import statistics
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.contenders import CONTENDERS, PEERS, Worker, available
from benchmarks.upstreams import Upstreams, question

Names = Callable[[int], list[str]]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rotated(keys: Sequence[str], turn: int) -> list[str]:
    """``keys`` starting at a different one each turn: no contender always goes first."""
    turn %= len(keys)
    return [*keys[turn:], *keys[:turn]]


def contenders() -> list[str]:
    """The contenders whose frameworks are installed."""
    return [key for key in CONTENDERS if available(key)]


def cold(up: Upstreams, keys: Sequence[str], repeats: int, name: Names) -> dict[str, Any]:
    """Fresh interpreters: import and set-up, the first request, the peak RSS after it. The
    first of several rounds is discarded (it writes the bytecode caches)."""
    up.set_latency(0.0, 0.0)
    runs: dict[str, list[dict[str, float]]] = {key: [] for key in keys}
    discard = int(repeats > 1)
    for turn in range(repeats + discard):
        for key in rotated(keys, turn):
            worker = Worker(key, up.environment())
            first = answered(worker, question(name(1)))["seconds"]
            rss = worker.peak_rss_mb()
            worker.close()
            if turn >= discard:
                runs[key].append({"init_s": worker.init_s, "first_s": first, "rss": rss})
    return {
        key: {
            "init_s": median([r["init_s"] for r in runs[key]]),
            "first_request_s": median([r["first_s"] for r in runs[key]]),
            "cold_s": median([r["init_s"] + r["first_s"] for r in runs[key]]),
            "peak_rss_mb": max(r["rss"] for r in runs[key]),
        }
        for key in keys
    }


def warm(
    up: Upstreams,
    keys: Sequence[str],
    *,
    sizes: Sequence[int],
    repeats: int,
    cpu_requests: int,
    latency: tuple[float, float],
    name: Names,
) -> dict[str, Any]:
    """One long-lived worker per contender. CPU per warm request first, zero-latency
    upstreams, one player a question; then latency at each size with ``latency`` (model,
    Mojang) seconds, every contender asked in turn, and the Mojang requests of each question."""
    workers = {key: Worker(key, up.environment()) for key in keys}
    try:
        up.set_latency(0.0, 0.0)
        for worker in workers.values():  # warm: the first request's imports, connections
            answered(worker, question(name(1)))
        cpu: dict[str, list[float]] = {key: [] for key in keys}
        failed: dict[str, list[str]] = {key: [] for key in keys}
        for turn in range(cpu_requests):
            for key in rotated(keys, turn):
                reply = workers[key].ask(question(name(1)))
                if "error" in reply:
                    failed[key].append(f"{reply['error']} after {reply['seconds']:.1f} s")
                else:
                    cpu[key].append(reply["cpu_s"])
        up.set_latency(*latency)
        seconds: dict[str, dict[int, list[float]]] = {k: {s: [] for s in sizes} for k in keys}
        mojang: dict[str, dict[int, list[int]]] = {k: {s: [] for s in sizes} for k in keys}
        for turn in range(repeats):
            for size in sizes:
                for key in rotated(keys, turn + size):
                    before = up.mojang_requests()
                    reply = workers[key].ask(question(name(size)))
                    if "error" in reply:
                        failed[key].append(f"{reply['error']} after {reply['seconds']:.1f} s")
                        continue
                    seconds[key][size].append(reply["seconds"])
                    mojang[key][size].append(up.mojang_requests() - before)
    finally:
        for worker in workers.values():
            worker.close()
    floor = 2 * latency[0] + latency[1]  # two model calls, one round of Mojang requests
    return {
        key: {
            "cpu_ms": median(cpu[key]) * 1000,
            # Failed questions are left out of the medians and shown here.
            "failures": len(failed[key]),
            "first_failures": failed[key][:3],
            "floor_s": floor,
            "sizes": {
                str(size): {
                    "median_s": median(seconds[key][size]),
                    "ratio": median(seconds[key][size]) / floor if floor else None,
                    "mojang_requests": median(mojang[key][size]),
                }
                for size in sizes
            },
        }
        for key in keys
    }


def answered(worker: Worker, text: str) -> dict[str, Any]:
    """The reply to a question that must be answered (a cold start's, a warm-up)."""
    reply = worker.ask(text)
    if "error" in reply:
        raise RuntimeError(f"{worker.key}: {reply['error']} after {reply['seconds']:.1f} s")
    return reply


CALLGRIND_TOTAL = re.compile(r"^summary:\s*(\d+)", re.MULTILINE)


def callgrind_total(dump: str) -> int:
    """The instruction count of one callgrind dump."""
    match = CALLGRIND_TOTAL.search(dump)
    if match is None:
        raise ValueError("no summary line in the callgrind dump")
    return int(match.group(1))


def instructions(up: Upstreams, keys: Sequence[str], requests: int, name: Names) -> dict[str, Any]:
    """Instructions per warm request (one player, zero latency) under callgrind, which counts
    the same on a busy machine as on an idle one (``skipped`` says why there are none). Every
    contender at once: the counts do not depend on the time each took."""
    if not requests:
        return {"skipped": "smoke run"}
    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind not installed"}
    up.set_latency(0.0, 0.0)
    questions = {key: [question(name(1)) for _ in range(requests + 2)] for key in keys}

    def count(key: str, folder: Path) -> float:
        out = folder / f"{key}.callgrind"
        # A dump before each getppid(): the worker calls it on a mark, so the dump ending at
        # the second mark holds the requests between the marks alone, not the imports.
        prefix = ["valgrind", "-q", "--tool=callgrind", "--dump-before=getppid"]
        worker = Worker(
            key,
            {**up.environment(), "PYTHONHASHSEED": "0"},
            prefix=[*prefix, f"--callgrind-out-file={out}"],
        )
        asked = iter(questions[key])
        for _ in range(2):
            answered(worker, next(asked))
        worker.mark()
        for _ in range(requests):
            answered(worker, next(asked))
        worker.mark()
        worker.close()
        return callgrind_total(Path(f"{out}.2").read_text()) / requests

    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(len(keys)) as pool:
        counts = pool.map(lambda key: count(key, Path(folder)), keys)
        return {"requests": requests, "per_request": dict(zip(keys, counts, strict=True))}


def best_peer(results: dict[str, Any], value: Callable[[Any], float]) -> float:
    """The best (lowest) value among the peers measured."""
    return min((value(results[key]) for key in PEERS if key in results), default=float("nan"))
