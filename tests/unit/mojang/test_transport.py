"""The retrying transport: status mapping, bounded retries with back-off and Retry-After, the
deadline, body limits, metrics and logs; mostly through the lookups that use it."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses

from mojang_chat.core.deadline import Deadline
from mojang_chat.mojang import (
    InvalidInputError,
    MojangClient,
    MojangError,
    PlayerId,
    UpstreamError,
)
from mojang_chat.mojang import transport as mojang_transport
from mojang_chat.mojang.decoding import decode_player_id
from mojang_chat.mojang.transport import MojangRequest, Rejected, Transport
from tests.helpers import FakeClock
from tests.unit.mojang.helpers import (
    JEB,
    NAME_URL,
    NOTCH,
    make_client,
    sent_timeout,
)


def response_headers(call: Any) -> Any:
    return call.response.headers


# -- status mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            404,
            {
                "path": "/minecraft/profile/lookup/name/x",
                "errorMessage": "Couldn't find any profile with name x",
            },
        ),
        (204, None),
    ],
)
def test_404_and_204_mean_not_found(
    mocked: responses.RequestsMock, client: MojangClient, status: int, body: Any
) -> None:
    if body is None:
        mocked.get(NAME_URL + "x", status=status, body=b"")
    else:
        mocked.get(NAME_URL + "x", status=status, json=body)

    assert client.uuid_for_name("x") is None
    assert len(mocked.calls) == 1


def test_400_constraint_violation_is_invalid_input_and_not_retried(
    mocked: responses.RequestsMock, client: MojangClient, slept: list[float]
) -> None:
    mocked.get(
        NAME_URL + "weird",
        status=400,
        json={
            "path": "/minecraft/profile/lookup/name/weird",
            "error": "CONSTRAINT_VIOLATION",
            "errorMessage": "getProfileName.name: Invalid profile name",
        },
    )

    with pytest.raises(InvalidInputError, match=r"Mojang rejected it.*Invalid profile name"):
        client.uuid_for_name("weird")
    assert len(mocked.calls) == 1
    assert slept == []


@pytest.mark.parametrize("status", [302, 401, 415])
def test_unexpected_statuses_fail_without_retries(
    mocked: responses.RequestsMock, client: MojangClient, slept: list[float], status: int
) -> None:
    mocked.get(NAME_URL + "Notch", status=status, headers={"Location": "https://evil.test/"})

    with pytest.raises(UpstreamError, match=f"HTTP {status}") as caught:
        client.uuid_for_name("Notch")
    assert caught.value.status == status
    assert len(mocked.calls) == 1  # and the redirect was not followed
    assert slept == []


# -- retries ----------------------------------------------------------------------------------


TRANSIENT = [
    pytest.param(
        {
            "status": 403,
            "body": "<html><body>403 Forbidden</body></html>",
            "content_type": "text/html",
        },
        "blocked by Mojang's firewall (HTTP 403)",
        403,
        id="403-html",
    ),
    pytest.param(
        {"status": 429, "json": {"path": "/minecraft/profile/lookup/name/Notch"}},
        "rate limited (HTTP 429)",
        429,
        id="429",
    ),
    pytest.param({"status": 500, "body": "oops"}, "server error (HTTP 500)", 500, id="500"),
    pytest.param({"status": 503, "body": ""}, "server error (HTTP 503)", 503, id="503"),
    pytest.param(
        {"body": requests.exceptions.ReadTimeout("read timed out")},
        "timed out",
        None,
        id="read-timeout",
    ),
    pytest.param(
        {"body": requests.exceptions.ConnectTimeout("connect timed out")},
        "timed out",
        None,
        id="connect-timeout",
    ),
    pytest.param(
        {"body": requests.exceptions.ConnectionError("reset")},
        "connection failed",
        None,
        id="connection-error",
    ),
    pytest.param(
        {"status": 200, "body": '{"id": "069a'},
        "malformed response (HTTP 200)",
        200,
        id="malformed-json",
    ),
    pytest.param({"status": 200, "body": ""}, "malformed response (HTTP 200)", 200, id="empty-200"),
    pytest.param(
        {"status": 200, "json": {"name": "Notch"}},
        "malformed response (HTTP 200)",
        200,
        id="missing-id",
    ),
    pytest.param(
        {"status": 200, "json": {"id": "nothex", "name": "Notch"}},
        "malformed response (HTTP 200)",
        200,
        id="bad-id",
    ),
    pytest.param(
        {"status": 200, "json": [1, 2]}, "malformed response (HTTP 200)", 200, id="wrong-shape"
    ),
]


@pytest.mark.parametrize(("response", "reason", "status"), TRANSIENT)
def test_transient_failures_are_retried_with_backoff_then_raise(
    mocked: responses.RequestsMock,
    client: MojangClient,
    slept: list[float],
    response: dict[str, Any],
    reason: str,
    status: int | None,
) -> None:
    mocked.get(NAME_URL + "Notch", **response)

    with pytest.raises(UpstreamError) as caught:
        client.uuid_for_name("Notch")

    assert len(mocked.calls) == 3  # the first try and max_retries=2 retries
    assert slept == [0.25, 0.5]
    assert caught.value.reason == reason
    assert caught.value.status == status
    assert str(caught.value) == f"Mojang API unavailable: {reason}"
    assert isinstance(caught.value, MojangError)


def test_a_transient_failure_then_an_answer_returns_the_answer(
    mocked: responses.RequestsMock, client: MojangClient, slept: list[float]
) -> None:
    mocked.get(
        NAME_URL + "Notch", status=429, json={"path": "/minecraft/profile/lookup/name/Notch"}
    )
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})

    assert client.uuid_for_name("Notch") == PlayerId(id=NOTCH, name="Notch")
    assert slept == [0.25]


def test_retry_after_seconds_is_honoured(
    mocked: responses.RequestsMock, client: MojangClient, slept: list[float]
) -> None:
    mocked.get(NAME_URL + "Notch", status=429, json={"path": "/"}, headers={"Retry-After": "1.5"})
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})

    assert client.uuid_for_name("Notch") is not None
    assert slept == [1.5]


def test_a_retry_after_beyond_the_cap_ends_the_retries_at_once(
    mocked: responses.RequestsMock, client: MojangClient, slept: list[float]
) -> None:
    mocked.get(NAME_URL + "Notch", status=429, json={"path": "/"}, headers={"Retry-After": "60"})

    with pytest.raises(UpstreamError, match="rate limited"):
        client.uuid_for_name("Notch")
    assert len(mocked.calls) == 1
    assert slept == []


def test_backoff_doubles_up_to_the_cap(mocked: responses.RequestsMock, slept: list[float]) -> None:
    client = make_client(slept, max_retries=5, backoff=0.5, max_backoff=1.0)
    mocked.get(NAME_URL + "Notch", status=503)

    with pytest.raises(UpstreamError):
        client.uuid_for_name("Notch")
    assert slept == [0.5, 1.0, 1.0, 1.0, 1.0]


# -- deadline and body limits -----------------------------------------------------------------


def test_no_retry_starts_whose_backoff_would_not_fit_the_deadline(
    mocked: responses.RequestsMock, client: MojangClient, slept: list[float], clock: FakeClock
) -> None:
    mocked.get(NAME_URL + "Notch", status=500)

    with pytest.raises(UpstreamError, match=r"server error \(HTTP 500\)"):
        client.uuid_for_name("Notch", deadline=Deadline(0.2, clock=clock))
    assert len(mocked.calls) == 1
    assert slept == []


def test_each_request_timeout_is_capped_by_the_deadline(
    mocked: responses.RequestsMock, client: MojangClient, clock: FakeClock
) -> None:
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})
    mocked.get(NAME_URL + "jeb_", json={"id": JEB, "name": "jeb_"})

    client.uuid_for_name("Notch", deadline=Deadline(1.5, clock=clock))
    client.uuid_for_name("jeb_", deadline=Deadline(30, clock=clock))

    assert sent_timeout(mocked.calls[0]) == 1.5
    assert sent_timeout(mocked.calls[1]) == 4.0


def test_an_expired_deadline_sends_nothing(
    mocked: responses.RequestsMock, client: MojangClient, clock: FakeClock
) -> None:
    deadline = Deadline(1, clock=clock)
    clock.advance(2)

    with pytest.raises(UpstreamError, match="timed out"):
        client.uuid_for_name("Notch", deadline=deadline)
    assert len(mocked.calls) == 0


def test_a_body_larger_than_the_limit_is_cut_off(
    mocked: responses.RequestsMock, slept: list[float]
) -> None:
    client = make_client(slept, max_body_bytes=1000, max_retries=1)
    big = json.dumps({"id": NOTCH, "name": "N" * 5000})
    # One answer declares its length, the other streams without Content-Length.
    mocked.get(NAME_URL + "Notch", body=big, auto_calculate_content_length=True)
    mocked.get(NAME_URL + "Notch", body=big)

    with pytest.raises(UpstreamError, match="response too large"):
        client.uuid_for_name("Notch")
    assert len(mocked.calls) == 2
    assert "Content-Length" in response_headers(mocked.calls[0])
    assert "Content-Length" not in response_headers(mocked.calls[1])


# -- metrics, logs ----------------------------------------------------------------------------


def test_requests_and_upstream_errors_are_counted(
    mocked: responses.RequestsMock,
    client: MojangClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counted: list[str] = []
    monkeypatch.setattr(mojang_transport, "count", lambda name, value=1: counted.append(name))
    mocked.get(NAME_URL + "Notch", status=503)

    with pytest.raises(UpstreamError):
        client.uuid_for_name("Notch")

    assert counted.count("MojangRequests") == 3
    assert counted.count("MojangRetries") == 2
    assert counted.count("MojangUpstreamErrors") == 1


def test_failures_are_logged_without_the_player_name(
    mocked: responses.RequestsMock, client: MojangClient, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.get(NAME_URL + "SecretPlayer42", status=503)

    with pytest.raises(UpstreamError):
        client.uuid_for_name("SecretPlayer42")
    with pytest.raises(InvalidInputError):
        client.uuid_for_name("Secret/Player")

    logged = [(record.getMessage(), str(record.__dict__)) for record in caplog.records]
    assert any("server error (HTTP 503)" in extra for _, extra in logged)  # warned...
    assert all(
        "SecretPlayer42" not in extra and "Secret/Player" not in extra for _, extra in logged
    )
    assert all(record.levelname != "ERROR" for record in caplog.records)


# -- the transport on its own -----------------------------------------------------------------


def name_request(name: str) -> MojangRequest[PlayerId]:
    return MojangRequest("GET", NAME_URL + name, "uuid_for_name", decode_player_id)


def test_a_400_without_a_readable_reason_is_rejected_without_one(
    mocked: responses.RequestsMock, slept: list[float]
) -> None:
    transport = Transport(requests.Session(), sleep=slept.append)
    mocked.get(NAME_URL + "Notch", status=400, body="<html>Bad Request</html>")

    assert transport.fetch(name_request("Notch"), deadline=None) == Rejected("no reason given")
    assert len(mocked.calls) == 1
    assert slept == []


@pytest.mark.parametrize(
    "headers",
    [{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, {"Retry-After": "-1"}, {}],
    ids=["http-date", "negative", "none"],
)
def test_a_408_is_retried_after_the_normal_backoff_unless_told_a_usable_delay(
    mocked: responses.RequestsMock, slept: list[float], headers: dict[str, str]
) -> None:
    transport = Transport(requests.Session(), sleep=slept.append)
    mocked.get(NAME_URL + "Notch", status=408, headers=headers)
    mocked.get(NAME_URL + "Notch", json={"id": NOTCH, "name": "Notch"})

    assert transport.fetch(name_request("Notch"), deadline=None) == PlayerId(id=NOTCH, name="Notch")
    assert slept == [0.25]
