"""``python -m mojang_chat invoke <LogicalId> -e events/<file>.json``: one function of
template.yaml run once on one event, as ``sam local invoke`` runs it, without Docker.

As SAM does, it takes the function's handler, environment, ``Timeout`` and ``MemorySize`` from
the template, hands the handler a Lambda context (name, ARN, memory, request id, the time left
until the Timeout), prints the handler's response as JSON on stdout and the function's logs on
stderr. A handler that raises, or outlives its Timeout, prints Lambda's error object
(``errorMessage``, ``errorType``) on stdout instead, and the command exits with status 1. The
AWS services the functions use (DynamoDB, Step Functions) are moto's, in this process, as
``serve`` has them: a step of the workflow can be invoked alone, on a store that holds no run.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from mojang_chat.local.server import LocalApi
from mojang_chat.local.template import Application

# Lambda's errorType for a function that ran past its Timeout.
TIMED_OUT = "Sandbox.Timedout"


class EventError(ValueError):
    """The event file cannot be read as a JSON event."""


def read_event(path: str) -> Any:
    """The event in ``path`` (``-``: standard input), as JSON."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, ValueError) as error:
        raise EventError(f"cannot read the event {path}: {error}") from error


def invoke(template: Path, logical_id: str, event: Any, out: TextIO | None = None) -> int:
    """Run ``logical_id``'s handler once on ``event``; print its response (or Lambda's error
    object) on ``out``; the exit status (0 answered, 1 raised or timed out, 2 no such
    function)."""
    from mojang_chat import container
    from mojang_chat.local.aws import local_aws

    out = out or sys.stdout
    app = Application.from_file(template)
    function = app.functions.get(logical_id)
    if function is None:
        known = ", ".join(sorted(app.functions))
        print(
            f"error: {template.name} has no function {logical_id} (it has {known})", file=sys.stderr
        )
        return 2
    api = LocalApi(app, concurrency=1)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["response"] = api.invoke_function(logical_id, event)
        except Exception as error:  # printed with its traceback on stderr by invoke_function
            outcome["error"] = {"errorMessage": str(error), "errorType": type(error).__name__}

    with local_aws(app, api.invoke_function, only=logical_id):
        container.reset()
        try:
            # A thread of its own, so that a handler past its Timeout is given up on, as
            # Lambda stops it (the process ends with the command; nothing waits for it).
            worker = threading.Thread(target=run, name=f"invoke-{logical_id}", daemon=True)
            worker.start()
            worker.join(function.timeout)
        finally:
            container.reset()
    if worker.is_alive():
        message = f"Task timed out after {function.timeout:.2f} seconds"
        outcome["error"] = {"errorMessage": message, "errorType": TIMED_OUT}
    if "error" in outcome:
        print(json.dumps(outcome["error"]), file=out, flush=True)
        return 1
    print(json.dumps(outcome.get("response")), file=out, flush=True)
    return 0
