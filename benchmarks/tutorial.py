"""The baseline: the tutorial's approach, re-created faithfully against the same stand-ins.

The tutorial (the classic OpenAI Assistants function-calling walkthrough this project started
from) answers "what is the id of the player username merrydith" like this:

1. create a thread, add the user's message, create a run on an assistant whose one tool is
   ``get_uuid_from_username`` (a hand-written JSON schema);
2. poll the run: ``time.sleep(1)`` then ``runs.retrieve`` until it leaves queued/in_progress;
3. on ``requires_action``, run every requested tool call one after another, each with a bare
   ``requests.get`` (a new HTTP connection per call: no Session), and ``submit_tool_outputs``;
4. poll again, every second, until ``completed``; then list the thread's messages.

The Assistants API is gone (2026-08-26), so its service side is re-created here as a small
HTTP server on the Assistants paths (``AssistantsEmulator``): a run's model calls go to the same
stand-in model server, with the same latency, as the ones ``/chat`` makes, in a background thread,
exactly when the hosted service would make them (on create, and on submit). The client is the
official ``openai`` SDK's ``client.beta.threads`` calls, unchanged from the tutorial.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import requests

from mojang_chat.local.standins import LISTEN_BACKLOG

# The tutorial's tool, its schema written by hand as the tutorial did.
TUTORIAL_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_uuid_from_username",
            "description": "Get the UUID of a Minecraft player from their username",
            "parameters": {
                "type": "object",
                "properties": {"username": {"type": "string", "description": "The username"}},
                "required": ["username"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
]
INSTRUCTIONS = "You look up Minecraft players with the tools you are given."
POLL_SECONDS = 1.0  # the tutorial's time.sleep(1)
_ids = itertools.count(1)


@dataclass
class _Run:
    id: str
    thread_id: str
    status: str = "queued"
    messages: list[dict[str, Any]] = field(default_factory=list)
    required: list[dict[str, Any]] = field(default_factory=list)
    answer: str | None = None

    def body(self) -> dict[str, Any]:
        required = None
        if self.status == "requires_action":
            required = {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {"tool_calls": self.required},
            }
        return {
            "id": self.id,
            "object": "thread.run",
            "created_at": int(time.time()),
            "thread_id": self.thread_id,
            "assistant_id": "asst_tutorial",
            "status": self.status,
            "required_action": required,
            "model": "gpt-4o-mini",
            "instructions": INSTRUCTIONS,
            "tools": TUTORIAL_TOOLS,
        }


class AssistantsEmulator(ThreadingHTTPServer):
    """The hosted Assistants service's side of the tutorial, on 127.0.0.1: threads, messages,
    runs whose model calls go to ``model_base_url`` in the background, tool output submission."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG  # as the stand-ins: no client waits to be accepted

    def __init__(self, model_base_url: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.model = openai.OpenAI(base_url=model_base_url, api_key="sk-bench", max_retries=0)
        self.threads: dict[str, list[dict[str, Any]]] = {}
        self.runs: dict[str, _Run] = {}
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def advance(self, run: _Run) -> None:
        """One model call for ``run`` (what the service does after create and after submit)."""
        run.status = "in_progress"
        completion = self.model.chat.completions.create(
            model="gpt-4o-mini",
            messages=run.messages,  # type: ignore[arg-type]
            tools=TUTORIAL_TOOLS,  # type: ignore[arg-type]
        )
        message = completion.choices[0].message
        run.messages.append(message.model_dump(exclude_none=True))
        if message.tool_calls:
            run.required = [call.model_dump() for call in message.tool_calls]
            run.status = "requires_action"
        else:
            run.answer = message.content or ""
            self.threads[run.thread_id].append({"role": "assistant", "content": run.answer})
            run.status = "completed"

    def start(self, run: _Run) -> None:
        threading.Thread(target=self.advance, args=(run,), daemon=True).start()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: AssistantsEmulator

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        parts = self.path.split("?")[0].strip("/").split("/")[1:]  # without "v1"
        emulator = self.server
        if method == "POST" and parts == ["threads"]:
            thread_id = f"thread_{next(_ids)}"
            emulator.threads[thread_id] = []
            self._json({"id": thread_id, "object": "thread", "created_at": 0, "metadata": {}})
        elif parts[-1] == "messages" and method == "POST":
            emulator.threads[parts[1]].append({"role": "user", "content": body["content"]})
            self._json(_message(parts[1], "user", body["content"]))
        elif parts[-1] == "messages":
            data = [_message(parts[1], m["role"], m["content"]) for m in emulator.threads[parts[1]]]
            self._json({"object": "list", "data": data[::-1], "has_more": False})
        elif parts[-1] == "runs":
            history = [{"role": "system", "content": INSTRUCTIONS}, *emulator.threads[parts[1]]]
            run = _Run(id=f"run_{next(_ids)}", thread_id=parts[1], messages=list(history))
            emulator.runs[run.id] = run
            emulator.start(run)
            self._json(run.body())
        elif parts[-1] == "submit_tool_outputs":
            run = emulator.runs[parts[3]]
            run.messages += [
                {"role": "tool", "tool_call_id": o["tool_call_id"], "content": o["output"]}
                for o in body["tool_outputs"]
            ]
            run.status = "queued"
            emulator.start(run)
            self._json(run.body())
        else:
            self._json(emulator.runs[parts[3]].body())

    def _json(self, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _message(thread_id: str, role: str, text: str) -> dict[str, Any]:
    return {
        "id": f"msg_{next(_ids)}",
        "object": "thread.message",
        "created_at": 0,
        "thread_id": thread_id,
        "role": role,
        "content": [{"type": "text", "text": {"value": text, "annotations": []}}],
        "metadata": {},
    }


@contextlib.contextmanager
def emulator(model_base_url: str) -> Iterator[AssistantsEmulator]:
    """The emulated Assistants service, serving on a background thread."""
    server = AssistantsEmulator(model_base_url)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def get_uuid_from_username(mojang_url: str, username: str) -> str:
    """The tutorial's tool: one bare ``requests.get`` (a new connection every time)."""
    response = requests.get(f"{mojang_url}/users/profiles/minecraft/{username}", timeout=10)
    if response.status_code != 200:
        return json.dumps({"error": f"player {username} not found"})
    return json.dumps(response.json())


def ask(client: openai.OpenAI, mojang_url: str, question: str) -> str:
    """The tutorial's client loop, start to answer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # client.beta.* is deprecated
        threads = client.beta.threads
        thread = threads.create()
        threads.messages.create(thread_id=thread.id, role="user", content=question)
        run = threads.runs.create(thread_id=thread.id, assistant_id="asst_tutorial")
        while True:
            time.sleep(POLL_SECONDS)
            run = threads.runs.retrieve(run.id, thread_id=thread.id)
            if run.status == "completed":
                break
            if run.status == "requires_action" and run.required_action is not None:
                outputs = []
                for call in run.required_action.submit_tool_outputs.tool_calls:
                    username = json.loads(call.function.arguments)["username"]
                    output = get_uuid_from_username(mojang_url, username)
                    outputs.append({"tool_call_id": call.id, "output": output})
                threads.runs.submit_tool_outputs(
                    run.id,
                    thread_id=thread.id,
                    tool_outputs=outputs,  # type: ignore[arg-type]
                )
            elif run.status not in ("queued", "in_progress"):
                raise RuntimeError(f"the run ended {run.status}")
        messages = threads.messages.list(thread_id=thread.id)
        first = messages.data[0].content[0]
        return str(getattr(getattr(first, "text", None), "value", ""))
