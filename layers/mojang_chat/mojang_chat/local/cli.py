"""The command line: ``serve`` the API locally, ``ask`` one question, run the ``demo`` (on
the configured model, else on the stand-ins; ``demo --offline`` always on the stand-ins), or
``invoke`` one function on an event file, as ``sam local invoke`` does.

Configuration errors are printed as one message (exit status 2), never as a stack trace.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from mojang_chat.core.settings import ConfigurationError, get_settings
from mojang_chat.core.statuses import TERMINAL_STATUSES
from mojang_chat.local import demo
from mojang_chat.local.demo import assistant_id, model_problem
from mojang_chat.local.events import Request
from mojang_chat.local.invoke import EventError, invoke, read_event
from mojang_chat.local.server import (
    DEFAULT_CONCURRENCY,
    LocalApi,
    LocalServer,
    PortInUse,
    default_template,
)
from mojang_chat.local.template import Application, TemplateError

RUNS_PATH = "/v1/threads/runs"
# The origin a local site that embeds the widget is served from (a dev server's usual port).
LOCAL_ALLOWED_ORIGINS = "http://localhost:3000"
LABELS = {"in_progress": "in progress", "requires_action": "requires action"}


def load_dotenv(path: Path) -> None:
    """Read ``KEY=value`` lines of a .env file into the environment, without overriding what
    is already set (a deliberate ``export`` wins over the file)."""
    if not path.is_file():
        return
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip().removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or line.startswith("#") or not key.strip():
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        os.environ.setdefault(key.strip(), value)


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def serve(
    template: Path,
    host: str,
    port: int,
    mode: str,
    out: TextIO | None = None,
    notice: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> int:
    """Serve the template's HTTP API (and the demo page) until Ctrl-C, with up to
    ``concurrency`` concurrent invocations of each function."""
    out = out or sys.stdout
    from mojang_chat import container
    from mojang_chat.local.aws import local_aws

    app = Application.from_file(template)
    api = LocalApi(app, concurrency)
    with local_aws(app, api.invoke_function):
        # Deployed, API Gateway answers CORS from the template's AllowedOrigins (which has no
        # default: a deployment names its sites); here the handlers do, for a local site.
        os.environ.setdefault("CORS_ALLOWED_ORIGINS", LOCAL_ALLOWED_ORIGINS)
        container.reset()
        try:
            server = LocalServer(api, host, port)
        except PortInUse as error:
            print(f"error: {error.strerror}", file=sys.stderr)
            return 1
        server.mode = mode if app.find("POST", RUNS_PATH) else "chat"
        server.notice = notice
        url = server.url
        print(f"mojang-chat is running at {url}", file=out)
        print(f"  demo page   {url}/", file=out)
        print(f"  API docs    {url}/docs  {url}/v1/docs", file=out)
        for route in sorted(app.routes, key=lambda r: (r.path, r.method)):
            print(f"  {route.method:<7} {url}{route.path}  ({route.function})", file=out)
        problem = model_problem()
        if notice:
            print(f"\n{notice}", file=out)
        elif problem:
            print(f"\nwarning: {problem}", file=out)
        else:
            settings = get_settings()
            where = settings.openai_base_url or "https://api.openai.com/v1"
            print(f"\nmodel: {settings.openai_model} at {where}", file=out)
            silence = demo.unanswered(str(where))
            if silence:
                # Said now, not at the first question: a newcomer's typo or a stopped Ollama.
                print(f"warning: the model server at {where} {silence}", file=sys.stderr)
        print("Press Ctrl-C to stop.", file=out, flush=True)
        _stop_on_sigterm()
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            print("\nstopped", file=out)
        finally:
            server.server_close()
            container.reset()
    return 0


class Transcript:
    """Prints a conversation's statuses and tool calls as they happen (the tutorial's
    transcript); ``requires action`` waits for the calls so that it can name them."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def status(self, status: str) -> None:
        if status != "requires_action":
            self.line(LABELS.get(status, status))

    def calls(self, calls: Sequence[tuple[str, Any, Any]]) -> None:
        """Each call as ``name(key="value")``; arguments that are not a JSON object (a model's
        invalid JSON, as a string) are shown as the model wrote them."""
        for name, arguments, output in calls:
            if isinstance(arguments, dict):
                shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in arguments.items())
            else:
                shown = "" if arguments is None else str(arguments)
            self.line(f"requires action: {name}({shown})")
            if output is not None:
                self.line(f"  \u2192 {json.dumps(output, ensure_ascii=False)}")

    def line(self, text: str) -> None:
        print(text, file=self.out, flush=True)


def ask(question: str, out: TextIO | None = None) -> int:
    """Answer one question through the single request cycle (the code ``POST /chat`` runs)."""
    from mojang_chat.chat.model import ModelError
    from mojang_chat.core.deadline import Deadline, DeadlineExceeded
    from mojang_chat.guard import UNKNOWN_CLIENT
    from mojang_chat.http.chat import ChatRequest, answer_question

    try:
        request = ChatRequest(message=question)
    except ValueError as error:
        print(f"error: the question is not valid: {error}", file=sys.stderr)
        return 2
    transcript = Transcript(out or sys.stdout)
    try:
        deadline = Deadline(get_settings().request_deadline_seconds)
        outcome = answer_question(
            request,
            deadline,
            # One process, one person: the guard's counters are this process's (in memory).
            client=UNKNOWN_CLIENT,
            on_status=transcript.status,
            on_tool_results=lambda batch: transcript.calls(
                [(r.call.name, r.arguments, r.output) for r in batch]
            ),
        )
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (ModelError, DeadlineExceeded) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"\n{outcome.answer}", file=transcript.out)
    return 0


def ask_runs(question: str, template: Path, out: TextIO | None = None) -> int:
    """Answer one question through the runs API and the local Step Functions workflow,
    printing each status as the polling sees it."""
    from mojang_chat import container
    from mojang_chat.local.aws import local_aws

    app = Application.from_file(template)
    if app.find("POST", RUNS_PATH) is None:
        print(f"error: template.yaml has no POST {RUNS_PATH} route (no runs API)", file=sys.stderr)
        return 2
    api = LocalApi(app, tracebacks=False)
    transcript = Transcript(out or sys.stdout)

    def call(method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else b""
        headers = [("Content-Type", "application/json"), ("Host", "localhost")]
        reply = api.handle(Request(method, path, headers, data))
        payload = reply.json() if reply.body else None
        if reply.status >= 400:
            error = (payload or {}).get("error") or {}
            raise RuntimeError(f"{method} {path}: {reply.status} {error.get('message', '')}")
        return payload

    with local_aws(app, api.invoke_function):
        container.reset()
        try:
            thread = {"messages": [_user(question)]}
            body = {"assistant_id": assistant_id(), "thread": thread}
            run = call("POST", RUNS_PATH, body)
            last: str | None = None
            seen: set[str] = set()
            while True:
                if run["status"] != last:
                    # The server's tool calls are run steps (kept after the run ends): each
                    # step once, with its outputs, before the status that followed it.
                    path = f"/v1/threads/{run['thread_id']}/runs/{run['id']}/steps"
                    for step in call("GET", f"{path}?order=asc&limit=100")["data"]:
                        if step["type"] != "tool_calls" or step["id"] in seen:
                            continue
                        seen.add(step["id"])
                        transcript.calls(
                            [
                                (
                                    c["function"]["name"],
                                    _arguments(c["function"]["arguments"]),
                                    _arguments(c["function"]["output"]),
                                )
                                for c in step["step_details"]["tool_calls"]
                            ]
                        )
                    transcript.status(run["status"])
                last = run["status"]
                if run["status"] in TERMINAL_STATUSES:
                    break
                time.sleep(0.2)
                run = call("GET", f"/v1/threads/{run['thread_id']}/runs/{run['id']}")
            if run["status"] not in ("completed", "incomplete"):
                message = (run.get("last_error") or {}).get("message", run["status"])
                print(f"error: the run ended as {run['status']}: {message}", file=sys.stderr)
                return 1
            listing = call("GET", f"/v1/threads/{run['thread_id']}/messages?order=desc&limit=1")
            texts = [
                part["text"]["value"]
                for message in listing["data"][:1]
                for part in message["content"]
                if part["type"] == "text"
            ]
            print("\n" + "\n".join(texts), file=transcript.out)
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        finally:
            container.reset()
    return 0


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def _arguments(raw: Any) -> Any:
    """A tool call's arguments: the JSON object the model wrote, or its text as written when
    that is not one (the workflow answers such a call with an error the model can correct)."""
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError):
        return raw
    return parsed if isinstance(parsed, dict) else raw


@contextlib.contextmanager
def terminal_output(*, quiet: bool) -> Iterator[None]:
    """Answers and statuses alone on stdout, so that they can be piped: the package's JSON
    logs go to stderr (only warnings and errors when ``quiet``, else they would bury a
    transcript); Powertools' CloudWatch metrics (an EMF blob per invocation, on stdout) and its
    "No application metrics to publish" warnings are off (POWERTOOLS_METRICS_DISABLED=false
    shows them); moto's Step Functions interpreter, which logs its own objects' reprs when an
    execution fails, is silent (the run's ``last_error`` says why it failed)."""
    from mojang_chat.core.observability import logger

    handler = logger.registered_handler
    stream = getattr(handler, "stream", None)
    level = logger.log_level
    moto_logger = logging.getLogger("moto.stepfunctions")
    moto_level = moto_logger.level
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)
    if quiet:
        logger.setLevel(logging.WARNING)
    moto_logger.setLevel(logging.CRITICAL + 1)  # its modules' loggers inherit the level
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "No application metrics to publish")
            yield
    finally:
        moto_logger.setLevel(moto_level)
        logger.setLevel(level)
        if isinstance(handler, logging.StreamHandler) and stream is not None:
            handler.setStream(stream)


def parser() -> argparse.ArgumentParser:
    """The command line's arguments."""
    main = argparse.ArgumentParser(prog="python -m mojang_chat", description=__doc__)
    main.add_argument(
        "--template", type=Path, default=None, help="the SAM template (default: template.yaml)"
    )
    commands = main.add_subparsers(dest="command", required=True)
    for name, text in (
        ("serve", "serve the HTTP API and the demo page"),
        ("demo", "serve on the configured model, or on the stand-ins without one"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=3000)
        command.add_argument(
            "--concurrency",
            type=_positive,
            default=DEFAULT_CONCURRENCY,
            help="invocations of each function at once, each in its own container "
            f"(default {DEFAULT_CONCURRENCY})",
        )
        command.add_argument(
            "--mode",
            choices=("runs", "responses", "chat"),
            default="runs",
            help="how the demo page's widget asks (runs and responses fall back to chat "
            "without a /v1 API)",
        )
        command.add_argument("--notice", help="a line to show on the demo page")
        if name == "demo":
            command.add_argument(
                "--offline",
                action="store_true",
                help="answer with the stand-in model and sample Mojang players, even with a "
                "model configured",
            )
    invoke_command = commands.add_parser(
        "invoke",
        help="run one function of template.yaml on an event, as `sam local invoke` does "
        "(without Docker): the response on stdout, the logs on stderr",
    )
    invoke_command.add_argument("function", help="the function's logical id, e.g. ChatFunction")
    invoke_command.add_argument(
        "-e", "--event", required=True, help="the event's JSON file (events/...), or - for stdin"
    )
    ask_command = commands.add_parser("ask", help="answer one question in the terminal")
    ask_command.add_argument("question")
    ask_command.add_argument(
        "--runs", action="store_true", help="go through the runs API and the workflow"
    )
    return main


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status."""
    args = parser().parse_args(argv)
    load_dotenv(Path.cwd() / ".env")
    template = args.template or Path.cwd() / "template.yaml"
    if not template.is_file():
        template = default_template()
    try:
        if args.command in ("ask", "invoke"):
            event = read_event(args.event) if args.command == "invoke" else None
            get_settings()  # an invalid setting is an error, not a reason for the stand-ins
            with terminal_output(quiet=args.command == "ask"), demo.upstreams() as notice:
                if notice:
                    print(f"note: {demo.STANDINS_NOTE}", file=sys.stderr, flush=True)
                if args.command == "invoke":
                    return invoke(template, args.function, event)
                return ask_runs(args.question, template) if args.runs else ask(args.question)
        with terminal_output(quiet=False):
            return _serve(args, template)
    except (TemplateError, ConfigurationError, EventError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace, template: Path) -> int:
    """``serve``, or ``demo``: on the stand-ins when no model is configured or offline."""
    if args.command != "demo":
        return serve(
            template,
            args.host,
            args.port,
            args.mode,
            notice=args.notice,
            concurrency=args.concurrency,
        )
    with demo.upstreams(offline=args.offline) as notice:
        if notice:
            print(f'try: "{demo.EXAMPLE_QUESTION}"', flush=True)
        # The page says when the stand-ins answer (unless told what else to say).
        return serve(
            template,
            args.host,
            args.port,
            args.mode,
            notice=args.notice or notice,
            concurrency=args.concurrency,
        )
