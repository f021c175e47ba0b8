"""Cold start, measured in fresh interpreters (``python -m benchmarks.cold <mode>``, one JSON
line out): what Lambda's init phase and a container's first request cost.

Modes: ``openai`` imports the openai SDK alone (the yardstick); ``init-lazy`` imports and
initialises the chat handler module (functions/chat/app.py) with the openai import left to the
first request (the project before ``container.preload``), then answers one /chat event against
the stand-ins named in the environment (the first request) and reports the peak RSS (the
handler as it ships is measured by benchmarks/contenders.py); ``init-traced`` imports the
handler as Lambda does with tracing Active (the X-Ray SDK and botocore come with it) and stops
there.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODES = ("openai", "init-lazy", "init-traced")


class _Context:
    function_name = "ChatFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ChatFunction"
    aws_request_id = "cold-start"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def _event(question: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / "chat-tutorial.json").read_text())
    event["body"] = base64.b64encode(json.dumps({"message": question}).encode()).decode()
    event["isBase64Encoded"] = True
    return event


def child(mode: str) -> dict[str, Any]:
    """Run one mode in this (fresh) interpreter."""
    if mode == "openai":
        started = time.perf_counter()
        import openai  # noqa: F401

        return {"import_s": time.perf_counter() - started}
    if mode == "init-traced":
        os.environ.pop("POWERTOOLS_TRACE_DISABLED", None)
        os.environ["LAMBDA_TASK_ROOT"] = str(ROOT / "functions" / "chat")
    sys.path.insert(0, str(ROOT / "functions" / "chat"))
    started = time.perf_counter()
    if mode == "init-lazy":
        from mojang_chat import container

        container.preload = lambda: None
    import app  # type: ignore[import-not-found]  # functions/chat/app.py, as Lambda does

    init = time.perf_counter() - started
    result: dict[str, Any] = {"init_s": init}
    if mode == "init-traced":
        return result
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as sink:  # the metrics' EMF line, which Lambda sends to logs
        os.dup2(sink.fileno(), 1)
        started = time.perf_counter()
        response = app.lambda_handler(
            _event("what is the uuid of the player Bench00000"), _Context()
        )
        result["first_request_s"] = time.perf_counter() - started
        sys.stdout.flush()
        os.dup2(saved, 1)
    result["status"] = response["statusCode"]
    # ru_maxrss is in KiB on Linux: the process's peak resident memory.
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def measure(mode: str, environment: dict[str, str]) -> dict[str, Any]:
    """One fresh interpreter running ``mode``; its JSON result."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, **environment, "PYTHONPATH": path}
    output = subprocess.run(  # noqa: S603 (this interpreter, a fixed module, a known mode)
        [sys.executable, "-m", "benchmarks.cold", mode],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1])))
