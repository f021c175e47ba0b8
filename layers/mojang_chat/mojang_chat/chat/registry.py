"""A registry of tools: typed Python functions, offered to the model as strict function schemas.

A tool is defined once, by its signature and docstring; the JSON schema the model sees is
generated from it (through the openai SDK's strict-schema rules) and the model's arguments are
validated against the same pydantic model before the function runs. Whatever goes wrong in a
tool call (arguments that are not JSON or do not fit, an unknown tool, an exception in the tool)
becomes a tool output the model reads, never a crashed request.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import cached_property
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from mojang_chat.chat.types import ToolCall, ToolResult
from mojang_chat.core.deadline import Deadline
from mojang_chat.core.isolation import ContainerExecutor
from mojang_chat.core.observability import count, logger

# The Chat Completions API's rule for function names.
_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
# The deepest nesting of arguments a tool reads: far beyond any tool's schema, far below what
# validating, storing or returning them in a trace could choke on.
MAX_ARGUMENT_DEPTH = 32


class ToolInputError(ValueError):
    """Raised by a tool when the model's input is unusable; the message goes to the model."""


class Tool:
    """A typed function offered to the model.

    The first parameter may be annotated with the registry's context type: it is passed by the
    caller and left out of the schema. Every other parameter is part of the schema.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        context_type: type | None = None,
        readable_errors: tuple[type[Exception], ...] = (),
    ) -> None:
        self.function = function
        self._readable_errors: tuple[type[Exception], ...] = (ToolInputError, *readable_errors)
        self.name = function.__name__
        if not self.name or not set(self.name) <= _NAME_CHARACTERS or len(self.name) > 64:
            raise ValueError(f"{self.name!r} is not a valid tool name")
        doc = inspect.getdoc(function)
        if not doc:
            raise ValueError(f"tool {self.name} needs a docstring: it is the model's description")
        self.description = doc
        hints = get_type_hints(function, include_extras=True)
        parameters = list(inspect.signature(function).parameters.values())
        self.takes_context = bool(
            parameters
            and context_type is not None
            and hints.get(parameters[0].name) is context_type
        )
        if self.takes_context:
            parameters = parameters[1:]
        fields: dict[str, Any] = {
            p.name: (
                hints[p.name],
                ... if p.default is inspect.Parameter.empty else p.default,
            )
            for p in parameters
        }
        self.arguments_model: type[BaseModel] = create_model(
            f"{self.name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
        )

    @cached_property
    def definition(self) -> dict[str, Any]:
        """The Chat Completions ``tools`` entry: a strict function schema."""
        from openai import pydantic_function_tool

        tool = pydantic_function_tool(
            self.arguments_model, name=self.name, description=self.description
        )
        plain: dict[str, Any] = json.loads(json.dumps(tool))  # plain dicts, as on the wire
        return plain

    def __call__(self, call: ToolCall, context: object) -> ToolResult:
        """Run one call of this tool; every failure becomes an ``error`` output."""
        try:
            raw = json.loads(call.arguments or "{}")
        except json.JSONDecodeError as error:
            return _failure(call, None, f"the arguments are not valid JSON ({error.msg})")
        except RecursionError:
            return _failure(call, None, _TOO_DEEP)
        except ValueError:
            # Python reads integers of at most 4,300 digits (sys.get_int_max_str_digits).
            return _failure(call, None, "the arguments hold a number too long to read")
        if not isinstance(raw, dict):
            return _failure(call, None, "the arguments must be a JSON object")
        if _depth(raw) > MAX_ARGUMENT_DEPTH:
            return _failure(call, None, _TOO_DEEP)
        try:
            arguments = self.arguments_model.model_validate(raw)
        except ValidationError as error:
            return _failure(call, raw, "invalid arguments: " + _argument_problems(error))
        kwargs = {name: getattr(arguments, name) for name in type(arguments).model_fields}
        try:
            if self.takes_context:
                value = self.function(context, **kwargs)
            else:
                value = self.function(**kwargs)
        except self._readable_errors as error:
            # Written for the model: it can retry, correct itself or tell the user.
            return _failure(call, raw, str(error))
        except Exception as error:
            # A bug: the model only needs to know that the call failed; the log has the rest.
            logger.exception("tool failed", extra={"tool": call.name})
            return _failure(call, raw, f"the tool failed unexpectedly ({type(error).__name__})")
        return ToolResult(call, raw, _as_output(value))


class ToolRegistry:
    """The tools offered to the model, by name."""

    def __init__(
        self,
        context_type: type | None = None,
        readable_errors: tuple[type[Exception], ...] = (),
    ) -> None:
        """``context_type``: the type of the first parameter that callers pass to every tool;
        ``readable_errors``: exceptions whose messages are written for the model."""
        self._context_type = context_type
        self._readable_errors = readable_errors
        self._tools: dict[str, Tool] = {}

    def tool(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: register ``function`` as a tool (its name is the function's name)."""
        tool = Tool(function, self._context_type, self._readable_errors)
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name} is registered twice")
        self._tools[tool.name] = tool
        self.__dict__.pop("definitions", None)
        return function

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    @cached_property
    def definitions(self) -> list[dict[str, Any]]:
        """The ``tools`` parameter of a Chat Completions request."""
        return [tool.definition for tool in self._tools.values()]

    def run(self, call: ToolCall, context: object) -> ToolResult:
        """Run one tool call; an unknown tool becomes an ``error`` output."""
        tool = self._tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self._tools))
            result = _failure(call, None, f"there is no tool named {call.name!r} (tools: {known})")
        else:
            result = tool(call, context)
        count("ToolCalls")
        if result.failed:
            count("ToolErrors")
        return result

    def run_all(
        self,
        calls: list[ToolCall],
        context: object,
        deadline: Deadline,
        executor: Executor,
    ) -> list[ToolResult]:
        """Run one turn's tool calls concurrently, in the order given; a call still running at
        the deadline is answered with a timeout error (its thread is left to finish alone)."""
        if len(calls) == 1:
            return [self.run(calls[0], context)]
        futures = [executor.submit(self.run, call, context) for call in calls]
        results = []
        for call, future in zip(calls, futures, strict=True):
            try:
                results.append(future.result(timeout=deadline.remaining()))
            except FutureTimeout:
                future.cancel()
                results.append(_failure(call, None, "the tool did not finish in time"))
        return results


def new_executor() -> ThreadPoolExecutor:
    """The thread pool one container runs tool calls on (created once per container); each
    call runs as part of the invocation that made it (its container, its log keys)."""
    return ContainerExecutor(max_workers=16, thread_name_prefix="tool")


def _failure(call: ToolCall, arguments: dict[str, Any] | None, message: str) -> ToolResult:
    return ToolResult(call, arguments, {"error": message})


_TOO_DEEP = f"the arguments are nested more than {MAX_ARGUMENT_DEPTH} levels deep"


def _depth(value: object) -> int:
    """How deeply ``value`` (parsed JSON) nests, counted without recursion."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in item)
    return deepest


def _argument_problems(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _as_output(value: object) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return dict(value)
    return {"result": value}
