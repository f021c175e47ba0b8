"""Test controls on the stand-in model (``mojang_chat.local.standins.model``): every request
is checked against OpenAI's official schema, plus the rules the real API enforces beyond it,
and what the real API would have rejected is answered with its 400 and recorded.

    with FakeModelServer() as server:
        server.script(tool_calls(("get_uuid_from_username", {"username": "merrydith"})),
                      answer_from_tools())
        client = openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
        ...
        assert server.schema_errors == []

The stand-in's reply DSL is re-exported, so a test scripts with ``fake_model.tool_calls(...)``.
jsonschema is a test dependency: the package's stand-in never imports it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Self

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from mojang_chat.local.standins.model import (
    HELP,
    ModelServer,
    RecordedRequest,
    Step,
    Violation,
    answer,
    answer_from_tools,
    disconnect,
    error,
    hang,
    overloaded,
    rate_limited,
    raw,
    server_error,
    tool_calls,
    trickle,
)

__all__ = [
    "HELP",
    "SCHEMA_DIR",
    "FakeModelServer",
    "RecordedRequest",
    "Step",
    "Violation",
    "answer",
    "answer_from_tools",
    "disconnect",
    "error",
    "hang",
    "overloaded",
    "rate_limited",
    "raw",
    "request_violation",
    "schema_validator",
    "server_error",
    "tool_calls",
    "trickle",
]

# The official OpenAPI schemas (transitive closures of openai/openai-openapi, each file names its
# commit), kept in the repository so a fresh clone tests with no other checkout.
SCHEMA_DIR = Path(__file__).resolve().parent / "openai"
CHAT_SCHEMA_FILE = SCHEMA_DIR / "chat_completions.closure.json"

Json = Any


def _nullable_to_anyof(node: Json) -> Json:
    """Rewrite OpenAPI 3.0 ``nullable: true`` as JSON Schema, which jsonschema understands.

    The closure mixes both styles; without this, ``"max_completion_tokens": null`` (which the
    real API accepts) would be reported as a violation.
    """
    if isinstance(node, list):
        return [_nullable_to_anyof(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable_to_anyof(value) for key, value in node.items()}
    if out.pop("nullable", None) is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def schema_validator(name: str) -> jsonschema.Draft202012Validator:
    """A validator for ``#/components/schemas/<name>`` of chat_completions.closure.json."""
    document = json.loads(CHAT_SCHEMA_FILE.read_text())
    components = _nullable_to_anyof(document["components"])
    # The document itself is the root, so `#/components/schemas/...` refs resolve inside it.
    root = {"$ref": f"#/components/schemas/{name}", "components": components}
    return jsonschema.Draft202012Validator(root)


def _param(path: Iterable[str | int]) -> str:
    """A JSON path in OpenAI's notation, e.g. ``messages[1].content``."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return text.lstrip(".")


def _most_specific(error: ValidationError) -> ValidationError:
    """Descend through discriminated unions (messages by role, tools by type) to the branch
    the instance meant, so the message names the real problem, not "valid under none of"."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        branches: dict[Any, list[ValidationError]] = defaultdict(list)
        for sub in error.context:
            branches[sub.schema_path[0]].append(sub)
        meant = [
            errors
            for errors in branches.values()
            if not any(
                list(e.relative_path) in (["role"], ["type"]) and e.validator in ("enum", "const")
                for e in errors
            )
        ]
        if len(meant) != 1:
            break
        error = best_match(meant[0]) or error
    return error


def _schema_violation(body: Json) -> Violation | None:
    error = best_match(schema_validator("CreateChatCompletionRequest").iter_errors(body))
    if error is None:
        return None
    error = _most_specific(error)
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        param = _param([*error.absolute_path, *missing[:1]])
        return Violation(
            f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
        )
    param = _param(error.absolute_path)
    return Violation(f"Invalid '{param}': {error.message}", param or None, "invalid_value")


_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def _strict_problem(schema: Json, context: tuple[str, ...]) -> str | None:
    """The first rule of strict mode that `schema` breaks, worded like the real API."""
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return (
                f"In context={context}, 'additionalProperties' is required to be supplied "
                "and to be false."
            )
        properties = schema.get("properties", {})
        missing = [key for key in properties if key not in schema.get("required", [])]
        if missing:
            return (
                f"In context={context}, 'required' is required to be supplied and to be an "
                f"array including every key in properties. Missing '{missing[0]}'."
            )
        for key, sub in properties.items():
            if problem := _strict_problem(sub, (*context, "properties", key)):
                return problem
    for keyword in ("items", "additionalItems"):
        if problem := _strict_problem(schema.get(keyword), (*context, keyword)):
            return problem
    for keyword in ("anyOf", "allOf", "oneOf", "prefixItems"):
        for index, sub in enumerate(schema.get(keyword, [])):
            if problem := _strict_problem(sub, (*context, keyword, str(index))):
                return problem
    for keyword in ("$defs", "definitions"):
        for key, sub in schema.get(keyword, {}).items():
            if problem := _strict_problem(sub, (*context, keyword, key)):
                return problem
    return None


def _tool_violation(tools: list[Json]) -> Violation | None:
    for index, tool in enumerate(tools):
        if tool.get("type") != "function":
            continue
        function = tool["function"]
        name, param = function["name"], f"tools[{index}].function.name"
        if len(name) > 64:
            return Violation(
                f"Invalid '{param}': string too long. Expected a string with maximum length 64, "
                f"but got a string with length {len(name)} instead.",
                param,
                "string_above_max_length",
            )
        if not _TOOL_NAME.match(name):
            return Violation(
                f"Invalid '{param}': string does not match pattern. Expected a string that "
                "matches the pattern '^[a-zA-Z0-9_-]+$'.",
                param,
                "invalid_value",
            )
        if function.get("strict") is True:
            problem = _strict_problem(function.get("parameters", {}), ())
            if problem:
                return Violation(
                    f"Invalid schema for function '{name}': {problem}",
                    f"tools[{index}].function.parameters",
                    "invalid_function_parameters",
                )
    return None


def _sequence_violation(messages: list[Json]) -> Violation | None:
    """Tool messages must answer the calls of the assistant message before them, and every
    call must be answered before the conversation goes on: the real API 400s otherwise."""
    offered: set[str] = set()
    pending: dict[str, None] = {}
    for index, message in enumerate(messages):
        role, param = message["role"], f"messages.[{index}].role"
        if role == "tool":
            if message["tool_call_id"] not in offered:
                return Violation(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    param,
                )
            pending.pop(message["tool_call_id"], None)
            continue
        if pending:
            return _unanswered(pending, param)
        calls = (message.get("tool_calls") or []) if role == "assistant" else []
        offered = {call["id"] for call in calls}
        pending = dict.fromkeys(call["id"] for call in calls)
    if pending:
        return _unanswered(pending, f"messages.[{len(messages)}].role")
    return None


def _unanswered(pending: Mapping[str, None], param: str) -> Violation:
    return Violation(
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + ", ".join(pending),
        param,
    )


def request_violation(body: Json) -> Violation | None:
    """Why the real API would reject this chat completion request, or None if it would not."""
    violation = _schema_violation(body)
    if violation is None:
        violation = _tool_violation(body.get("tools", []))
    if violation is None:
        violation = _sequence_violation(body["messages"])
    return violation


class FakeModelServer(ModelServer):
    """The stand-in model, answering what the real API would reject with its 400, and
    recording it in ``schema_errors`` (which a test expects to stay empty)."""

    def __init__(self, *, api_key: str | None = None, latency: float = 0.0) -> None:
        super().__init__(api_key=api_key, latency=latency)
        self._schema_errors: list[Violation] = []

    def start(self) -> Self:
        """Load the schema first: a broken schema file fails here, not inside a request."""
        schema_validator("CreateChatCompletionRequest")
        return super().start()

    def check(self, body: Json, raw: bytes) -> Violation | None:
        """The schema's and the API's own rules first, then the stand-in's; recorded."""
        violation = request_violation(body) if isinstance(body, dict) else None
        violation = violation or super().check(body, raw)
        if violation is not None:
            with self._lock:
                self._schema_errors.append(violation)
        return violation

    @property
    def schema_errors(self) -> list[Violation]:
        """Requests the real API would have rejected with 400 (a copy)."""
        with self._lock:
            return list(self._schema_errors)

    def reset(self) -> None:
        """Forget the script, the recorded requests, the crashes and the schema errors."""
        super().reset()
        with self._lock:
            self._schema_errors.clear()
