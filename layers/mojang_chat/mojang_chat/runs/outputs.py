"""The one check of the caller's tool outputs: every call waiting for one answered exactly once,
by an output within ``TOOL_OUTPUT_MAX_CHARS``, and no output for a call that does not wait.

OpenAI words the refusals differently for a run's ``submit_tool_outputs`` and for a response's
``function_call_output`` items; each front door's words are one ``Wording``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mojang_chat.runs.errors import InvalidRequest


@dataclass(frozen=True)
class Wording:
    """How the refusals of one front door read: where the ``index``-th output's call id and
    text were sent, and each refusal's message."""

    call_param: Callable[[int], str]
    output_param: Callable[[int], str]
    unknown: Callable[[str, Sequence[str]], str]
    duplicate: Callable[[str], str]
    missing: Callable[[Sequence[str], Sequence[str], Sequence[str]], str]
    # Where the whole list of outputs was sent.
    outputs_param: str


# ``submit_tool_outputs`` of the Assistants API.
SUBMITTED = Wording(
    call_param=lambda index: f"tool_outputs[{index}].tool_call_id",
    output_param=lambda index: f"tool_outputs[{index}].output",
    unknown=lambda call_id, expected: (
        f"No tool call found with id '{call_id}' (waiting for: {', '.join(expected)})."
    ),
    duplicate=lambda call_id: f"Duplicate output for tool call '{call_id}'.",
    missing=lambda expected, seen, missing: (
        f"Expected tool outputs for call_ids {list(expected)}, got {sorted(seen)}; missing: "
        f"{', '.join(missing)}."
    ),
    outputs_param="tool_outputs",
)

# ``function_call_output`` items of the Responses API (OpenAI's own words).
FUNCTION_CALL_OUTPUTS = Wording(
    # The outputs are items among the input's others: ``input`` is where they were sent.
    call_param=lambda _: "input",
    output_param=lambda _: "input",
    unknown=lambda call_id, _: (
        f"No tool call found for function call output with call_id {call_id}."
    ),
    duplicate=lambda call_id: f"Duplicate output for function call '{call_id}'.",
    missing=lambda _, __, missing: f"No tool output found for function call {missing[0]}.",
    outputs_param="input",
)


def check_outputs(
    expected: Sequence[str],
    outputs: Sequence[tuple[str, str]],
    max_chars: int,
    wording: Wording,
) -> dict[str, str]:
    """The outputs by call id, when each call in ``expected`` is answered exactly once by an
    output within ``max_chars``; ``InvalidRequest`` in ``wording`` for the first that is not."""
    answers: dict[str, str] = {}
    for index, (call_id, output) in enumerate(outputs):
        if call_id not in expected:
            raise InvalidRequest(
                wording.unknown(call_id, expected), param=wording.call_param(index)
            )
        if call_id in answers:
            raise InvalidRequest(wording.duplicate(call_id), param=wording.call_param(index))
        if len(output) > max_chars:
            raise InvalidRequest(
                f"A tool output is at most {max_chars} characters (TOOL_OUTPUT_MAX_CHARS); "
                f"this one is {len(output)}.",
                param=wording.output_param(index),
                code="string_above_max_length",
            )
        answers[call_id] = output
    missing = [call_id for call_id in expected if call_id not in answers]
    if missing:
        raise InvalidRequest(
            wording.missing(expected, list(answers), missing), param=wording.outputs_param
        )
    return answers
