"""The parser every request body goes through (``http/resolver.py`` ``parse_json_body``): JSON
beyond ``MAX_JSON_DEPTH`` or with a number longer than ``MAX_JSON_NUMBER_CHARS`` is refused as
``BodyBeyondLimits`` (a 400), never a RecursionError or a ValueError (a 500); what looks like
either inside a string is text, and passes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mojang_chat.http.limits import (
    JSON_NUMBER_TOO_LONG,
    JSON_TOO_DEEP,
    MAX_JSON_DEPTH,
    MAX_JSON_NUMBER_CHARS,
)
from mojang_chat.http.resolver import BodyBeyondLimits, parse_json_body


def nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


def objects(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": [1, value, "]]]"]}
    return value


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (nested(100_000), JSON_TOO_DEEP),
        (nested(MAX_JSON_DEPTH + 1), JSON_TOO_DEEP),
        ('{"a": ' + nested(MAX_JSON_DEPTH) + "}", JSON_TOO_DEEP),
        (json.dumps(objects(MAX_JSON_DEPTH)), JSON_TOO_DEEP),  # 2 levels each: 64
        ("9" * 5000, JSON_NUMBER_TOO_LONG),  # Python's own limit is 4,300 digits
        ("[" + "9" * (MAX_JSON_NUMBER_CHARS + 1) + "]", JSON_NUMBER_TOO_LONG),
        ('{"a": -1.' + "5" * MAX_JSON_NUMBER_CHARS + "}", JSON_NUMBER_TOO_LONG),
        ("[1e" + "9" * MAX_JSON_NUMBER_CHARS + "]", JSON_NUMBER_TOO_LONG),
    ],
    ids=["100k", "limit+1", "in-an-object", "objects", "5000-digits", "101", "float", "exponent"],
)
def test_json_beyond_the_limits_is_refused_naming_the_limit(text: str, why: str) -> None:
    with pytest.raises(BodyBeyondLimits) as refused:
        parse_json_body(text)
    assert refused.value.msg == why
    assert isinstance(refused.value, json.JSONDecodeError)  # Powertools' 400


@pytest.mark.parametrize(
    "value",
    [
        json.loads(nested(MAX_JSON_DEPTH)),
        objects(MAX_JSON_DEPTH // 2),
        {"message": "[" * 5000 + "{" * 5000, "n": "9" * 5000},  # text, not structure
        {"message": 'a "quoted" \\ [[[[ "' + "\\" * 9, "more": ["]", "[", "}{"]},
        {"n": int("9" * MAX_JSON_NUMBER_CHARS), "f": -1.5e300, "t": [True, False, None]},
        [[]] * 1000,
    ],
    ids=["limit", "objects", "strings", "escapes", "numbers", "wide"],
)
def test_json_within_the_limits_is_parsed_as_json_parses_it(value: Any) -> None:
    text = json.dumps(value)
    assert parse_json_body(text) == json.loads(text)


def test_invalid_json_is_powertools_usual_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError) as refused:
        parse_json_body("{not json")
    assert not isinstance(refused.value, BodyBeyondLimits)


@given(st.recursive(st.none() | st.integers(-(10**50), 10**50) | st.text(), st.lists))
def test_depth_is_counted_exactly(value: Any) -> None:
    def depth(item: Any) -> int:
        return 1 + max(map(depth, item), default=0) if isinstance(item, list) else 0

    text = json.dumps(value)
    if depth(value) > MAX_JSON_DEPTH:
        with pytest.raises(BodyBeyondLimits):
            parse_json_body(text)
    else:
        assert parse_json_body(text) == value
