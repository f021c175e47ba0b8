"""Property-based tests (hypothesis) of name and UUID validation and of URL building: whatever
string the model writes, a request either goes to one of the three configured Mojang base URLs
with a path of the allowed shape, or no request goes out at all."""

from __future__ import annotations

import io
import json
import re
import string
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import urllib3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from mojang_chat.chat import ToolCall
from mojang_chat.core.deadline import Deadline
from mojang_chat.mojang import (
    InvalidInputError,
    MojangClient,
    ToolContext,
    Transport,
    mojang_tools,
    normalize_name,
    normalize_uuid,
)

SESSION = "https://sessionserver.mojang.com"
SERVICES = "https://api.minecraftservices.com"
NAME = r"[A-Za-z0-9_]{1,25}"
HEX32 = r"[0-9a-f]{32}"
# Every request the adapter may send: (method, base URL, path pattern).
ALLOWED = [
    ("GET", SERVICES, rf"/minecraft/profile/lookup/name/{NAME}"),
    ("POST", SERVICES, r"/minecraft/profile/lookup/bulk/byname"),
    ("GET", SERVICES, rf"/minecraft/profile/lookup/{HEX32}"),
    ("GET", SESSION, rf"/session/minecraft/profile/{HEX32}"),
]
EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What a model might write: anything at all, near-misses of valid values, and known tricks.
TRICKS = [
    "../../x",
    "Notch/../../session",
    "Notch?x=1",
    "Notch#frag",
    "Notch%2F..",
    "Notch\n",
    "Notch ",
    " Notch",
    "Nötch",
    "\uff2eotch",  # fullwidth N
    "٣٣٣",  # Arabic-Indic digits (str.isdigit() says yes)
    "a" * 26,
    "",
    "069a79f4-44e9-4726-a5be-fca90e38aaf5/../x",
    "069a79f444e94726a5befca90e38aaf5?x",
    "069a79f444e94726a5befca90e38aaf5\nx",
    "http://evil.example/",
    "@evil.example",
    "//evil.example",
]
model_text = st.one_of(
    st.text(),
    st.text(alphabet=string.printable, max_size=40),
    st.from_regex(NAME, fullmatch=True),
    st.from_regex(r"[0-9a-fA-F-]{30,40}", fullmatch=True),
    st.uuids().map(str),
    st.uuids().map(lambda u: u.hex.upper()),
    st.sampled_from(TRICKS),
    st.builds(lambda a, b: a + b, st.sampled_from(TRICKS), st.text(max_size=5)),
)


class RecordingSession(requests.Session):
    """Records every request and answers "not found" (a bulk lookup: nobody), sending
    nothing anywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, bytes | None]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        self.sent.append((str(method), str(url), kwargs.get("data")))
        response = requests.Response()
        bulk = str(method) == "POST"
        response.status_code = 200 if bulk else 204
        # As requests' adapter builds it: urllib3's response, its body not read yet.
        body = io.BytesIO(b"[]" if bulk else b"")
        response.raw = urllib3.HTTPResponse(body, preload_content=False)
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        return response


def new_client() -> tuple[MojangClient, RecordingSession]:
    session = RecordingSession()
    client = MojangClient(
        Transport(session), session_url=SESSION, services_url=SERVICES, cache=None
    )
    return client, session


def assert_allowed(sent: list[tuple[str, str, bytes | None]]) -> None:
    for method, url, body in sent:
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}"
        assert not parts.query, url
        assert not parts.fragment, url
        assert any(
            method == m and base == b and re.fullmatch(p, parts.path) for m, b, p in ALLOWED
        ), url
        if method == "POST":
            names = json.loads(body or b"")
            assert 1 <= len(names) <= 10
            assert all(re.fullmatch(NAME, name) for name in names), names


@EXAMPLES
@given(model_text)
def test_a_name_is_valid_exactly_when_it_can_be_a_path_segment(text: str) -> None:
    try:
        name = normalize_name(text)
    except InvalidInputError:
        assert re.fullmatch(NAME, text) is None
    else:
        assert name == text
        assert re.fullmatch(NAME, name)


@EXAMPLES
@given(model_text)
def test_a_uuid_is_valid_exactly_when_it_is_a_uuid(text: str) -> None:
    try:
        value = normalize_uuid(text)
    except InvalidInputError:
        return
    assert re.fullmatch(HEX32, value)
    assert uuid.UUID(text.strip()).hex == value  # the same UUID, only reformatted


@EXAMPLES
@given(model_text)
def test_single_lookups_send_an_allowed_request_or_none(text: str) -> None:
    client, session = new_client()
    for lookup in (client.uuid_for_name, client.name_for_uuid, client.profile):
        session.sent.clear()
        try:
            lookup(text)
        except InvalidInputError:
            assert session.sent == []  # refused before any URL was built
            continue
        assert len(session.sent) <= 1  # an offline (v3) UUID is answered locally
        assert_allowed(session.sent)


@EXAMPLES
@given(st.lists(model_text, max_size=25))
def test_bulk_lookups_send_only_valid_names_to_the_bulk_endpoint(names: list[str]) -> None:
    client, session = new_client()
    result = client.uuids_for_names(names)
    assert_allowed(session.sent)
    sent = [name for _, _, body in session.sent for name in json.loads(body or b"")]
    assert {name.lower() for name in sent} == {
        name.lower() for name in names if re.fullmatch(NAME, name)
    }
    invalid = {n.lower() for n in names if not re.fullmatch(NAME, n)}
    assert {p.name.lower() for p in result.invalid} == invalid


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | model_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(model_text, inner, max_size=3),
    max_leaves=10,
)
arguments = st.one_of(
    st.dictionaries(
        st.sampled_from(["username", "usernames", "uuid", "extra"]),
        st.one_of(model_text, st.lists(model_text, max_size=12), json_value),
        max_size=3,
    ).map(json.dumps),
    model_text,  # not even JSON
)


@settings(EXAMPLES, max_examples=400)
@given(st.sampled_from([*mojang_tools.names, "unknown_tool"]), arguments)
def test_any_tool_call_the_model_writes_sends_only_allowed_requests(
    name: str, raw_arguments: str
) -> None:
    client, session = new_client()
    context = ToolContext(mojang=client, deadline=Deadline(5))
    result = mojang_tools.run(ToolCall(id="call_1", name=name, arguments=raw_arguments), context)
    assert isinstance(result.output, dict)
    assert_allowed(session.sent)


@pytest.mark.parametrize("trick", TRICKS)
def test_every_known_trick_sends_nothing(trick: str) -> None:
    client, session = new_client()
    for lookup in (client.uuid_for_name, client.name_for_uuid, client.profile):
        with pytest.raises(InvalidInputError):
            lookup(trick)
    assert session.sent == []
