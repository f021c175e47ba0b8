"""What the /v1 front doors share of OpenAI's requests: fields no route knows, the caller's
function tools, ``tool_choice``, and text content (the service reads text only, and bounds it).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mojang_chat.http.errors import ApiError, openai_problem, unrecognized, unsupported

# OpenAI's rule for a function's name.
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# Tool types OpenAI has that run on its own servers: this API has none of them.
HOSTED_TOOLS = ("code_interpreter", "file_search")


def refuse_unknown(fields: Iterable[str], ignored: Collection[str]) -> None:
    """A 400 for the first field of a request that is neither known nor accepted and
    ignored (``ignored``)."""
    for name in fields:
        if name not in ignored:
            raise unrecognized(name)


def content_text(content: object, param: str, kinds: Collection[str]) -> str | None:
    """A message's content as text (None when there is none): a string, or text parts of
    ``kinds`` joined by newlines; image, audio and file parts are refused (the service reads
    text only)."""
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ApiError(400, f"Invalid '{param}'.", param=param, code="invalid_type")
    texts = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in kinds or not isinstance(part.get("text"), str):
            raise unsupported(
                f"{param}[{index}].type",
                f"Content of type '{kind}' is not supported: this service reads text only.",
                code="unsupported_value",
            )
        texts.append(part["text"])
    return "\n".join(texts)


def bounded(text: str, param: str, max_chars: int) -> str:
    """``text``, when it has at most ``max_chars`` characters."""
    if len(text) > max_chars:
        raise ApiError(
            400,
            f"Invalid '{param}': a message's text is at most {max_chars} characters; this one "
            f"is {len(text)}.",
            param=param,
            code="string_above_max_length",
        )
    return text


_FORBID = ConfigDict(extra="forbid")


class FunctionDefinition(BaseModel):
    """A function the caller offers the model (``FunctionObject``)."""

    model_config = _FORBID
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(BaseModel):
    model_config = _FORBID
    type: Literal["function"]
    function: FunctionDefinition


def function_tools(
    tools: Sequence[Mapping[str, Any]], param: str = "tools"
) -> list[dict[str, Any]]:
    """The caller's tools, each a valid function tool, as the core keeps them; a 400 naming
    the first that is not (``tools[i]...``)."""
    found: list[dict[str, Any]] = []
    names: set[str] = set()
    for index, tool in enumerate(tools):
        where = f"{param}[{index}]"
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        if kind in HOSTED_TOOLS:
            raise unsupported(
                f"{where}.type",
                f"Tools of type '{kind}' are not supported: only function tools are (the "
                "server's Mojang tools are always offered besides).",
                code="unsupported_value",
            )
        if kind != "function":
            raise ApiError(
                400,
                f"Invalid '{where}.type': expected 'function'.",
                param=f"{where}.type",
                code="invalid_value",
            )
        try:
            valid = FunctionTool.model_validate(tool)
        except ValidationError as error:
            message, inner, code = openai_problem(error.errors())
            inner_param = f"{where}.{inner}" if inner else where
            raise ApiError(
                400, message.replace(f"'{inner}'", f"'{inner_param}'"), param=inner_param, code=code
            ) from None
        function = valid.function
        if not FUNCTION_NAME.match(function.name):
            raise ApiError(
                400,
                f"Invalid '{where}.function.name': a function's name is 1 to 64 letters, "
                "digits, underscores or dashes.",
                param=f"{where}.function.name",
                code="invalid_value",
            )
        if function.name in names:
            raise ApiError(
                400,
                f"Duplicate function name '{function.name}' in '{param}'.",
                param=f"{where}.function.name",
                code="invalid_value",
            )
        names.add(function.name)
        schema_type = (function.parameters or {}).get("type", "object")
        if schema_type != "object":
            raise ApiError(
                400,
                f"Invalid '{where}.function.parameters': a function's parameters are a JSON "
                "Schema of type 'object'.",
                param=f"{where}.function.parameters",
                code="invalid_function_parameters",
            )
        found.append(valid.model_dump(exclude_none=True))
    return found


def check_tool_choice(choice: object, named: str | None) -> None:
    """A 400 for a ``tool_choice`` the model would refuse: ``auto``, ``none``, ``required``, or
    a function named by its name."""
    if choice is None or choice in ("auto", "none", "required"):
        return
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(named, str):
        return
    raise ApiError(
        400,
        "Invalid 'tool_choice': 'auto', 'none', 'required', or a function named by its name.",
        param="tool_choice",
        code="invalid_value",
    )
