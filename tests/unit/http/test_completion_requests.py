"""The Chat Completions request, read without a server: the messages the model is sent, the
options of each model call, and each refusal with its ``param``."""

from __future__ import annotations

from typing import Any

import pytest

from mojang_chat.chat.loop import SYSTEM_PROMPT
from mojang_chat.http.completions.requests import ChatCompletionRequest, model_messages
from mojang_chat.http.errors import ApiError
from mojang_chat.http.limits import MAX_COMPLETION_MESSAGE_CHARS

CALL = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}


def request(*messages: dict[str, Any], **fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "m", "messages": messages, **fields})


def test_the_callers_messages_follow_the_servers_prompt() -> None:
    sent = model_messages(
        request(
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ).messages
    )

    assert sent == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a\nb"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([{"role": "tool", "tool_call_id": "c9", "content": "x"}], "messages[0].tool_call_id"),
        (
            [{"role": "assistant", "tool_calls": [CALL]}, {"role": "user", "content": "next"}],
            "messages[1]",
        ),
        ([{"role": "assistant", "tool_calls": [CALL]}], "messages"),
        ([{"role": "user", "content": [{"type": "image_url"}]}], "messages[0].content[0].type"),
        (
            [{"role": "user", "content": "x" * (MAX_COMPLETION_MESSAGE_CHARS + 1)}],
            "messages[0].content",
        ),
    ],
)
def test_messages_that_do_not_add_up_are_refused(messages: list[Any], param: str) -> None:
    with pytest.raises(ApiError) as refused:
        model_messages(request(*messages).messages)

    assert refused.value.param == param


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"tool_choice": {"type": "function"}}, "tool_choice"),
        ({"frobnicate": 1}, "frobnicate"),
    ],
)
def test_options_that_cannot_be_honoured_are_refused(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(ApiError) as refused:
        request({"role": "user", "content": "hi"}, **fields).refuse_unsupported()

    assert refused.value.param == param


def test_each_model_call_gets_the_callers_options() -> None:
    chosen = request(
        {"role": "user", "content": "hi"},
        tool_choice="required",
        parallel_tool_calls=False,
        max_tokens=50,
        seed=7,
        stream=True,
        stream_options={"include_usage": True},
    )

    chosen.refuse_unsupported()  # seed is accepted and ignored

    assert chosen.options() == {
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "max_completion_tokens": 50,
    }
    assert chosen.include_usage
    assert request({"role": "user", "content": "hi"}).options() == {
        "tool_choice": None,
        "parallel_tool_calls": None,
        "max_completion_tokens": None,
    }
