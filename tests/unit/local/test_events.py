"""API Gateway's HTTP API (payload 2.0) as the local server makes it, without a socket: the
event a request becomes, the text/base64 body rule, the response a handler's return value
becomes, and the context a handler gets."""

from __future__ import annotations

import base64

import pytest

from mojang_chat.local.events import LambdaContext, Request, build_event, lambda_response
from mojang_chat.local.template import Route
from tests.helpers import application, load_event

ALLOWED = "http://localhost:3000"


def test_event_has_the_shape_of_the_events_files() -> None:
    # Given the event `sam local generate-event` wrote for the tutorial question
    expected = load_event("chat-tutorial.json")
    body = base64.b64decode(expected["body"])
    request = Request(
        "POST",
        "/chat",
        [("Content-Type", "application/json"), ("Origin", ALLOWED), ("User-Agent", "test")],
        body,
    )
    # When the local server turns the same request into an event
    event = build_event(request, Route("POST", "/chat", "ChatFunction"), {}, "req-1")
    # Then it has the same keys at every level, the same route key, and the JSON body as text
    # (as API Gateway passes it; `sam local generate-event` writes every body in base64)
    assert event.keys() == expected.keys()
    assert event["requestContext"].keys() == expected["requestContext"].keys()
    assert event["requestContext"]["http"].keys() == expected["requestContext"]["http"].keys()
    assert event["routeKey"] == expected["routeKey"] == event["requestContext"]["routeKey"]
    assert event["isBase64Encoded"] is False
    assert event["body"] == body.decode()
    assert event["headers"]["origin"] == ALLOWED  # names lower-cased, as API Gateway does


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("text/plain", True),
        ("application/xml", True),
        ("application/octet-stream", False),
        ("image/png", False),
        ("application/x-www-form-urlencoded", False),
        (None, False),
    ],
)
def test_text_bodies_arrive_as_text_and_others_in_base64(
    content_type: str | None, text: bool
) -> None:
    body = b'{"message": "caf\xc3\xa9"}'
    headers = [("Content-Type", content_type)] if content_type else []
    event = build_event(
        Request("POST", "/chat", headers, body), Route("POST", "/chat", "C"), {}, "r"
    )
    assert event["isBase64Encoded"] is not text
    assert event["body"] == (body.decode() if text else base64.b64encode(body).decode())
    # Bytes that are not UTF-8 are never passed as text
    binary = build_event(
        Request("POST", "/chat", headers, b"\xff\xfe"), Route("POST", "/chat", "C"), {}, "r"
    )
    assert binary["isBase64Encoded"] is True


def test_event_carries_path_parameters_query_and_cookies() -> None:
    route = Route("GET", "/v1/threads/{thread_id}/runs/{run_id}", "V1Function")
    params = route.match("/v1/threads/thread_1/runs/run_2")
    assert params == {"thread_id": "thread_1", "run_id": "run_2"}
    request = Request(
        "GET",
        "/v1/threads/thread_1/runs/run_2?limit=1&order=desc&limit=2",
        [("Cookie", "a=1; b=2"), ("Accept", "a"), ("Accept", "b")],
    )
    event = build_event(request, route, params, "req-2")
    assert event["routeKey"] == "GET /v1/threads/{thread_id}/runs/{run_id}"
    assert event["pathParameters"] == params
    assert event["rawQueryString"] == "limit=1&order=desc&limit=2"
    assert event["queryStringParameters"] == {"limit": "1,2", "order": "desc"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["accept"] == "a,b"
    assert event["isBase64Encoded"] is False
    assert "body" not in event


def test_response_bodies_headers_and_cookies_are_written_back() -> None:
    reply = lambda_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "image/png"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": base64.b64encode(b"\x89PNG").decode(),
            "isBase64Encoded": True,
        },
        "req-3",
    )
    assert reply.status == 201
    assert reply.body == b"\x89PNG"
    assert [v for k, v in reply.headers if k == "Set-Cookie"] == ["a=1; Path=/", "b=2"]
    # A handler that returns only a body gets API Gateway's 200 JSON response
    plain = lambda_response({"hello": "world"}, "req-4")
    assert (plain.status, plain.json()) == (200, {"hello": "world"})


def test_the_context_names_the_function_and_counts_down_from_its_timeout() -> None:
    function = application().functions["ChatFunction"]
    context = LambdaContext(function, "req-5")
    assert context.function_name == "ChatFunction"
    assert context.aws_request_id == "req-5"
    assert context.invoked_function_arn.endswith(":function:ChatFunction")
    assert context.memory_limit_in_mb == function.memory_mb
    assert 0 < context.get_remaining_time_in_millis() <= function.timeout * 1000
    assert LambdaContext(function).aws_request_id != LambdaContext(function).aws_request_id
