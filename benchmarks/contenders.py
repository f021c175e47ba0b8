"""The project and what its users would pick instead, each in an interpreter of its own
(``python -m benchmarks.contenders <key>``), answering questions sent on its stdin against the
stand-ins named in its environment.

Contenders: ``project`` (functions/chat/app.py's handler, given the API Gateway event Lambda
gives it), ``plain`` (a Chat Completions loop over the openai SDK, tool calls one after
another), ``agents`` (openai-agents' ``Runner``) and ``pydantic_ai`` (pydantic-ai's ``Agent``
over its OpenAI provider); and ``floor``, a yardstick rather than a peer: the plain loop with
no SDK, raw requests. The three peers get the same two Mojang tools, written as a user
would: requests, one Session, Mojang's current routes, the bulk lookup's chunks of 10 sent
concurrently like the project's. No retries anywhere: a failure is a failed benchmark.

The protocol, one JSON document a line: the worker first says ``{"init_s"}`` (imports and
set-up, what a cold start pays before the first request), then answers each
``{"question"}`` with ``{"seconds", "cpu_s", "answer"}`` (``error`` instead of ``answer`` when it
failed) (``cpu_s``: ``time.process_time``,
every thread of the process) and ``{"rss"}`` with ``{"peak_rss_mb"}``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time each contender imports what it needs, inside its cold start
    from openai.types.chat import ChatCompletionFunctionToolParam

ROOT = Path(__file__).resolve().parent.parent

# Key, label and the module the contender needs (None: the project's own dependencies).
CONTENDERS: dict[str, tuple[str, str | None]] = {
    "project": ("this project (/chat handler)", None),
    "plain": ("openai SDK loop", None),
    "agents": ("openai-agents 0.24 Runner", "agents"),
    "pydantic_ai": ("pydantic-ai 2.62 Agent", "pydantic_ai"),
    "floor": ("yardstick: requests, no SDK", None),
}
# What users would pick instead; the yardstick is no such thing, only the least work possible.
PEERS = ("plain", "agents", "pydantic_ai")
INSTRUCTIONS = "You answer questions about Minecraft players with the tools you are given."
MAX_ROUNDS = 8
BULK_CHUNK = 10  # Mojang's cap per bulk request

Ask = Callable[[str], str]


def available(key: str) -> bool:
    """Whether the contender's framework is installed (``make bench`` installs every one)."""
    module = CONTENDERS[key][1]
    return module is None or importlib.util.find_spec(module) is not None


# -- the peers' tools --------------------------------------------------------------------------


def mojang_tools() -> list[Callable[..., str]]:
    """The two lookups the benchmark's questions need, as plain typed functions (each
    framework makes its schema from the signature and docstring) that return JSON text (what
    the model reads; openai-agents would send a dict's Python repr)."""
    import requests

    session = requests.Session()
    base = os.environ["MINECRAFT_SERVICES_URL"]
    pool = ThreadPoolExecutor(4)

    def get_uuid_from_username(username: str) -> str:
        """Look up the UUID of one Minecraft player by username."""
        response = session.get(f"{base}/minecraft/profile/lookup/name/{username}", timeout=10)
        if response.status_code in (204, 404):
            return json.dumps({"found": False, "username": username})
        response.raise_for_status()
        return json.dumps({"found": True, **response.json()})

    def get_uuids_from_usernames(usernames: list[str]) -> str:
        """Look up the UUIDs of several Minecraft players at once."""

        def chunk(names: list[str]) -> list[dict[str, Any]]:
            url = f"{base}/minecraft/profile/lookup/bulk/byname"
            response = session.post(url, json=names, timeout=10)
            response.raise_for_status()
            found: list[dict[str, Any]] = response.json()
            return found

        chunks = [usernames[i : i + BULK_CHUNK] for i in range(0, len(usernames), BULK_CHUNK)]
        found = [player for part in pool.map(chunk, chunks) for player in part]
        known = {player["name"].lower() for player in found}
        missing = [name for name in usernames if name.lower() not in known]
        return json.dumps({"found": found, "not_found": missing})

    return [get_uuid_from_username, get_uuids_from_usernames]


# A user of the bare SDK writes the schemas by hand.
PLAIN_TOOLS: list[ChatCompletionFunctionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "get_uuid_from_username",
            "description": "Look up the UUID of one Minecraft player by username.",
            "parameters": {
                "type": "object",
                "properties": {"username": {"type": "string"}},
                "required": ["username"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_uuids_from_usernames",
            "description": "Look up the UUIDs of several Minecraft players at once.",
            "parameters": {
                "type": "object",
                "properties": {"usernames": {"type": "array", "items": {"type": "string"}}},
                "required": ["usernames"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    },
]


# -- the contenders ----------------------------------------------------------------------------


def project() -> Ask:
    """The chat function's handler, imported as Lambda imports it."""
    from benchmarks import cold

    sys.path.insert(0, str(ROOT / "functions" / "chat"))
    import app  # type: ignore[import-not-found]

    def ask(question: str) -> str:
        response = app.lambda_handler(cold._event(question), cold._Context())
        if response["statusCode"] != 200:
            raise RuntimeError(f"/chat answered {response['statusCode']}: {response['body']}")
        answer: str = json.loads(response["body"])["answer"]
        return answer

    return ask


def plain() -> Ask:
    """The loop a user of the bare SDK writes: call, run the tool calls, call again."""
    import openai

    client = openai.OpenAI(max_retries=0)  # OPENAI_BASE_URL and OPENAI_API_KEY
    functions = {tool.__name__: tool for tool in mojang_tools()}
    model = os.environ["OPENAI_MODEL"]

    def ask(question: str) -> str:
        messages: list[Any] = [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": question},
        ]
        for _ in range(MAX_ROUNDS):
            completion = client.chat.completions.create(
                model=model, messages=messages, tools=PLAIN_TOOLS
            )
            message = completion.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                function = call.function  # type: ignore[union-attr]
                output = functions[function.name](**json.loads(function.arguments))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": output})
        raise RuntimeError("no answer within the round cap")

    return ask


def agents_runner() -> Ask:
    """openai-agents: an ``Agent`` with function tools, run by ``Runner`` on one event loop
    (as an async server would: the client's connection pool lives on it)."""
    import asyncio

    import agents
    from openai import AsyncOpenAI

    agents.set_tracing_disabled(True)  # its traces would go to OpenAI's servers
    agent = agents.Agent(
        name="players",
        instructions=INSTRUCTIONS,
        tools=[agents.function_tool(tool) for tool in mojang_tools()],
        model=agents.OpenAIChatCompletionsModel(
            model=os.environ["OPENAI_MODEL"], openai_client=AsyncOpenAI(max_retries=0)
        ),
    )
    loop = asyncio.new_event_loop()

    def ask(question: str) -> str:
        result = loop.run_until_complete(agents.Runner.run(agent, question, max_turns=MAX_ROUNDS))
        return str(result.final_output)

    return ask


def pydantic_agent() -> Ask:
    """pydantic-ai: an ``Agent`` with plain tools over its OpenAI provider, on one event loop."""
    import asyncio

    from openai import AsyncOpenAI
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel(
        os.environ["OPENAI_MODEL"],
        provider=OpenAIProvider(openai_client=AsyncOpenAI(max_retries=0)),
    )
    agent = Agent(model, instructions=INSTRUCTIONS, tools=mojang_tools())
    loop = asyncio.new_event_loop()

    def ask(question: str) -> str:
        return str(loop.run_until_complete(agent.run(question)).output)

    return ask


def floor() -> Ask:
    """The yardstick: the same loop with no SDK at all, requests and json and hand-built
    bodies. What any contender spends at least on the question's three HTTP requests."""
    import requests

    session = requests.Session()
    url = os.environ["OPENAI_BASE_URL"].rstrip("/") + "/chat/completions"
    session.headers["Authorization"] = f"Bearer {os.environ['OPENAI_API_KEY']}"
    functions = {tool.__name__: tool for tool in mojang_tools()}
    model = os.environ["OPENAI_MODEL"]

    def ask(question: str) -> str:
        messages: list[Any] = [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": question},
        ]
        for _ in range(MAX_ROUNDS):
            body = {"model": model, "messages": messages, "tools": PLAIN_TOOLS}
            response = session.post(url, json=body, timeout=60)
            response.raise_for_status()
            message = response.json()["choices"][0]["message"]
            if not message.get("tool_calls"):
                return str(message["content"])
            messages.append(message)
            for call in message["tool_calls"]:
                function = call["function"]
                output = functions[function["name"]](**json.loads(function["arguments"]))
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})
        raise RuntimeError("no answer within the round cap")

    return ask


BUILDERS: dict[str, Callable[[], Ask]] = {
    "project": project,
    "plain": plain,
    "agents": agents_runner,
    "pydantic_ai": pydantic_agent,
    "floor": floor,
}


# -- the worker (in its own interpreter) -------------------------------------------------------


def serve(key: str, requests_in: IO[str], replies: IO[str]) -> None:
    """Build the contender, then answer the protocol's requests until EOF."""
    started = time.perf_counter()
    ask = BUILDERS[key]()
    replies.write(json.dumps({"init_s": time.perf_counter() - started}) + "\n")
    replies.flush()
    for line in requests_in:
        request = json.loads(line)
        reply: dict[str, Any]
        if "question" in request:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                reply = {"answer": ask(request["question"])}
            except Exception as error:  # counted and shown by the benchmark, never hidden
                reply = {"error": f"{type(error).__name__}: {error}"}
            reply["seconds"] = time.perf_counter() - started
            reply["cpu_s"] = time.process_time() - cpu
        elif "mark" in request:
            # Under callgrind (--dump-before=getppid) a mark dumps the instruction counts
            # since the previous one: the count of the requests between two marks, alone.
            os.getppid()
            reply = {}
        else:
            # ru_maxrss is in KiB on Linux: the process's peak resident memory.
            reply = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


class Worker:
    """A contender in a fresh interpreter (optionally under ``prefix``, e.g. valgrind)."""

    def __init__(self, key: str, environment: dict[str, str], prefix: Sequence[str] = ()) -> None:
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, **environment, "PYTHONPATH": path}
        self.key = key
        self.process = subprocess.Popen(  # noqa: S603 (this interpreter, a fixed module)
            [*prefix, sys.executable, "-m", "benchmarks.contenders", key],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.init_s: float = self._call(None)["init_s"]

    def _call(self, request: dict[str, Any] | None) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        if request is not None:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.key} worker ended (exit {self.process.wait()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def ask(self, question: str) -> dict[str, Any]:
        """``{"seconds", "cpu_s", "answer" or "error"}`` for one question."""
        return self._call({"question": question})

    def peak_rss_mb(self) -> float:
        """The worker's peak resident memory so far."""
        rss: float = self._call({"rss": True})["peak_rss_mb"]
        return rss

    def mark(self) -> None:
        """Under callgrind, end one dump and start the next."""
        self._call({"mark": True})

    def close(self) -> None:
        """End the worker (EOF on its stdin) and wait for it."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=600)


def main(key: str) -> None:
    """The worker: replies on the real stdout; fd 1 itself goes to /dev/null, where the
    project's metrics write their EMF lines (Lambda sends them to its logs)."""
    replies = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    serve(key, sys.stdin, replies)


if __name__ == "__main__":
    main(sys.argv[1])
