"""The Responses request, read without a server: what ``input`` becomes in the core's terms,
and each refusal with the ``param`` and code OpenAI's clients read."""

from __future__ import annotations

from typing import Any

import pytest

from mojang_chat.http.errors import ApiError
from mojang_chat.http.limits import MAX_INPUT_ITEMS, MAX_MESSAGE_CHARS
from mojang_chat.http.responses.requests import CreateResponseRequest, parse_items
from mojang_chat.runs import EarlierCall, NewMessage


def test_a_string_input_is_one_user_message_and_a_blank_one_none() -> None:
    assert parse_items("  who is jeb_?  ").history == [NewMessage("user", "who is jeb_?")]
    assert parse_items("   ") == ([], [], [])


def test_items_become_messages_calls_outputs_and_instructions_in_order() -> None:
    items: list[dict[str, Any]] = [
        {"role": "developer", "content": "Answer briefly."},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {
            "type": "mcp_call",
            "id": "mcp_1",
            "server_label": "mojang",
            "name": "get_uuid_from_username",
            "arguments": '{"username": "jeb_"}',
            "output": '{"found": true}',
        },
        {"role": "assistant", "content": [{"type": "output_text", "text": "done"}]},
    ]

    history, outputs, system = parse_items(items)

    assert system == ["Answer briefly."]
    assert outputs == [("c1", "sunny")]
    assert history == [
        NewMessage("user", "hi"),
        EarlierCall("c1", "weather", "{}", client=True),
        EarlierCall(
            "mcp_1",
            "get_uuid_from_username",
            '{"username": "jeb_"}',
            client=False,
            output='{"found": true}',
        ),
        NewMessage("assistant", "done"),
    ]


def test_a_failed_server_call_sent_back_keeps_its_error_as_its_output() -> None:
    item = {
        "type": "mcp_call",
        "id": "mcp_2",
        "server_label": "mojang",
        "name": "get_uuid_from_username",
        "arguments": "{}",
        "output": None,
        "error": "Mojang is unavailable",
    }

    [call] = parse_items([item]).history

    assert isinstance(call, EarlierCall)
    assert call.output == '"Mojang is unavailable"'


@pytest.mark.parametrize(
    ("items", "param", "code"),
    [
        ([{"type": "input_image", "image_url": "x"}], "input[0].type", "unsupported_value"),
        ([{"type": "mcp_call", "server_label": "other", "id": "m"}], "input[0].type", None),
        (
            [{"role": "user", "content": [{"type": "input_image"}]}],
            "input[0].content[0].type",
            "unsupported_value",
        ),
        ([{"role": "user", "content": 7}], "input[0].content", "invalid_type"),
        ([{"role": "user"}], "input[0].content", "invalid_type"),
        ([{"role": "tool", "content": "x"}], "input[0].role", "invalid_value"),
        ([{"type": "function_call", "call_id": "c", "name": "f"}], "input[0].arguments", None),
        ([{"type": "function_call_output", "call_id": "c"}], "input[0].output", "invalid_type"),
        (
            [{"role": "user", "content": "x" * (MAX_MESSAGE_CHARS + 1)}],
            "input[0].content",
            "string_above_max_length",
        ),
        ([{"role": "user", "content": "x"}] * (MAX_INPUT_ITEMS + 1), "input", None),
    ],
)
def test_an_item_that_cannot_be_read_is_named(
    items: list[dict[str, Any]], param: str, code: str | None
) -> None:
    with pytest.raises(ApiError) as refused:
        parse_items(items)

    assert refused.value.status == 400
    assert refused.value.param == param
    if code is not None:
        assert refused.value.code == code


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"frobnicate": 1}, "frobnicate"),
        ({"stream": True, "background": True}, "stream"),
        ({"store": False, "background": True}, "store"),
        ({"store": False, "conversation": "thread_x"}, "store"),
        ({"previous_response_id": "resp_x", "conversation": "thread_x"}, "previous_response_id"),
        ({"text": {"format": {"type": "json_object"}}}, "text.format"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
    ],
)
def test_an_option_that_cannot_be_honoured_is_refused(fields: dict[str, Any], param: str) -> None:
    request = CreateResponseRequest.model_validate({"input": "hi", **fields})

    def read() -> None:
        request.refuse_unsupported()
        request.options()

    with pytest.raises(ApiError) as refused:
        read()

    assert refused.value.param == param


def test_ignored_options_are_accepted_and_the_rest_become_the_core_options() -> None:
    request = CreateResponseRequest.model_validate(
        {
            "input": "hi",
            "temperature": 0.2,
            "reasoning": {"effort": "low"},
            "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "weather"},
            "parallel_tool_calls": False,
            "max_output_tokens": 64,
            "metadata": {"page": "faq"},
            "conversation": {"id": "thread_x"},
        }
    )

    request.refuse_unsupported()
    options = request.options()

    assert request.conversation_id == "thread_x"
    assert options.tools == [
        {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
    ]
    assert options.tool_choice == {"type": "function", "function": {"name": "weather"}}
    assert (options.parallel_tool_calls, options.max_completion_tokens) == (False, 64)
    assert options.metadata == {"page": "faq"}
