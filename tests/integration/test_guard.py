"""The cost guard through the real handlers and the local server: ``POST /chat`` and creating a
run refused with the documented status, body and ``Retry-After``, the model never called for a
refused request, reads never refused, and the tokens of a run's model steps counted."""

from __future__ import annotations

import json
import os
import time
import warnings
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mojang_chat.local.server import serving
from tests.aws import RunsStack, runs_stack, schema_errors
from tests.fakes import model_server as fake_model
from tests.helpers import TUTORIAL, LambdaContext, function_handler, load_event, use_settings

__all__ = ["runs_stack"]  # the fixture, imported for pytest

chat_handler = function_handler("ChatFunction")
LOOKUP = fake_model.tool_calls(("get_uuid_from_username", {"username": "merrydith"}))


def ask(source_ip: str, **headers: str) -> dict[str, Any]:
    """The chat function's response to the tutorial question from ``source_ip``."""
    event = load_event("chat-tutorial.json")
    event["requestContext"]["http"]["sourceIp"] = source_ip
    event["headers"].update(headers)
    response: dict[str, Any] = chat_handler(event, LambdaContext())
    return response


def test_chat_refuses_a_client_over_its_minute_without_calling_the_model(app_env: Any) -> None:
    model, _ = app_env
    # Given two questions a minute per client
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_settings(monkeypatch, CLIENT_REQUESTS_PER_MINUTE="2")
        assert ask("203.0.113.7")["statusCode"] == 200
        assert ask("203.0.113.7")["statusCode"] == 200
        calls = len(model.requests)

        # When the same address asks a third time, claiming to be someone else in headers
        response = ask("203.0.113.7", **{"x-forwarded-for": "198.51.100.1"})

        # Then it is refused with 429 rate_limited and when to come back, in /chat's shape
        assert response["statusCode"] == 429
        body = json.loads(response["body"])
        assert set(body) == {"error", "request_id"}
        assert body["error"]["type"] == "rate_limited"
        assert "at most 2 a minute" in body["error"]["message"]
        assert 1 <= int(response["headers"]["Retry-After"]) <= 60
        # And the model was not called for it
        assert len(model.requests) == calls
        # Another address still gets its answers
        assert ask("198.51.100.1")["statusCode"] == 200


def test_chat_answers_503_once_the_daily_budget_is_spent(app_env: Any) -> None:
    model, _ = app_env
    with pytest.MonkeyPatch.context() as monkeypatch:
        # Given a budget that the first question (one model call) spends
        use_settings(monkeypatch, TOKENS_PER_DAY="1", CLIENT_REQUESTS_PER_MINUTE="0")
        model.script(fake_model.answer("hello"))
        assert ask("203.0.113.7")["statusCode"] == 200
        calls = len(model.requests)

        # When anyone asks again
        response = ask("198.51.100.1")

        # Then 503 budget_exhausted, until midnight UTC, with no model call
        assert response["statusCode"] == 503
        assert json.loads(response["body"])["error"]["type"] == "budget_exhausted"
        midnight = (int(time.time()) // 86400 + 1) * 86400
        assert abs(int(response["headers"]["Retry-After"]) - (midnight - time.time())) <= 2
        assert len(model.requests) == calls


def test_a_client_over_its_tokens_is_refused_429(app_env: Any) -> None:
    model, _ = app_env
    with pytest.MonkeyPatch.context() as monkeypatch:
        # Given a client budget that one question (one model call) spends
        use_settings(monkeypatch, CLIENT_TOKENS_PER_DAY="1", CLIENT_REQUESTS_PER_MINUTE="0")
        model.script(fake_model.answer("hello"), fake_model.answer("hello"))
        assert ask("203.0.113.7")["statusCode"] == 200
        # Then that client is refused until midnight UTC, with no model call...
        response = ask("203.0.113.7")
        assert response["statusCode"] == 429
        body = json.loads(response["body"])
        assert body["error"]["type"] == "rate_limited"
        assert "model budget for today" in body["error"]["message"]
        assert int(response["headers"]["Retry-After"]) > 60
        assert len(model.requests) == 1
        # ...and another is not
        assert ask("198.51.100.1")["statusCode"] == 200


def usage_counters(table: str) -> dict[str, int]:
    """Every counter of the usage table, by key."""
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return {item["id"]["S"]: int(item["n"]["N"]) for item in items}


def test_creating_runs_is_guarded_and_polls_never_are(
    runs_stack: RunsStack, app_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openai

    # Given one run a minute per client, on the local server (sourceIp: the socket's peer)
    use_settings(monkeypatch, CLIENT_REQUESTS_PER_MINUTE="1")
    model, _ = app_env
    with serving(runs_stack.api) as server, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # beta.threads is deprecated
        client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-unused", max_retries=0)

        def create() -> Any:
            return client.beta.threads.create_and_run(
                assistant_id="asst_default",
                thread={"messages": [{"role": "user", "content": TUTORIAL}]},
            )

        run = create()

        # When a second run is asked for in the same minute
        with pytest.raises(openai.RateLimitError) as refused:
            create()

        # Then the SDK sees OpenAI's 429, with when to retry
        response = refused.value.response
        assert 1 <= int(response.headers["retry-after"]) <= 60
        body = response.json()
        assert schema_errors("ErrorResponse", body) == []
        assert body["error"]["code"] == "rate_limit_exceeded"
        assert body["error"]["type"] == "requests"
        # And 100 polls and message lists in that minute are all answered
        for _ in range(50):
            run = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
            client.beta.threads.messages.list(thread_id=run.thread_id)
        while run.status not in ("completed", "failed", "incomplete", "expired", "cancelled"):
            time.sleep(0.05)
            run = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)

    # And the one admitted run completed, its model steps' tokens counted for its client and
    # for the deployment, in the usage table
    assert run.status == "completed"
    assert run.usage is not None
    counters = usage_counters(os.environ["USAGE_TABLE_NAME"])
    by_kind = {key.rsplit("#", 1)[0]: n for key, n in counters.items()}
    assert by_kind == {
        "client-tokens#127.0.0.1": run.usage.total_tokens,
        "tokens": run.usage.total_tokens,
        "client-requests#127.0.0.1": 1,  # the refused one took nothing
    }
    assert run.usage.total_tokens > 0
    assert len(model.requests) == 2  # the tutorial's two model calls, for one run


def test_a_refused_run_creates_nothing(
    runs_stack: RunsStack, app_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mojang_chat import container

    model, _ = app_env
    # Given the day's budget spent (by another client)
    use_settings(monkeypatch, TOKENS_PER_DAY="100")
    container.guard().count_tokens("198.51.100.1", 100)
    runs_table = os.environ["RUNS_TABLE_NAME"]
    before = boto3.client("dynamodb").scan(TableName=runs_table)["Count"]

    # When a run is asked for
    thread = {"messages": [{"role": "user", "content": TUTORIAL}]}
    request = {"assistant_id": "asst_default", "thread": thread}
    status, body = runs_stack.call("POST", "/v1/threads/runs", request)

    # Then 503 in OpenAI's shape, and no thread, no run, no execution, no model call
    assert status == 503, body
    assert schema_errors("ErrorResponse", body) == []
    assert body["error"]["code"] == "budget_exhausted"
    assert body["error"]["type"] == "server_error"
    assert boto3.client("dynamodb").scan(TableName=runs_table)["Count"] == before
    executions = runs_stack.sfn.list_executions(stateMachineArn=runs_stack.state_machine_arn)
    assert executions["executions"] == []
    assert model.requests == []


def test_a_run_whose_budget_runs_out_fails_rate_limited(
    runs_stack: RunsStack, app_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = app_env
    # Given a client budget that the run's first model call spends
    use_settings(monkeypatch, CLIENT_TOKENS_PER_DAY="1")
    model.script(LOOKUP, fake_model.answer_from_tools())

    run, _ = runs_stack.poll(runs_stack.create(TUTORIAL))

    # Then the run failed at its second model step, which never reached the model
    assert run["status"] == "failed"
    assert run["last_error"]["code"] == "rate_limit_exceeded"
    assert "model budget for today" in run["last_error"]["message"]
    assert len(model.requests) == 1


def test_chat_is_refused_by_name_when_the_usage_counters_cannot_be_reached(app_env: Any) -> None:
    model, _ = app_env
    # Given a usage table that does not exist (deleted, or a wrong name in the configuration)
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        use_settings(monkeypatch, USAGE_TABLE_NAME="no-such-table")
        calls = len(model.requests)

        # When a question comes
        response = ask("203.0.113.9")

        # Then it is refused, closed, with a 503 that names the cause, and the model not called
        assert response["statusCode"] == 503
        body = json.loads(response["body"])
        assert body["error"]["type"] == "guard_unavailable"
        assert "usage counters" in body["error"]["message"]
        assert "no-such-table" not in response["body"]
        assert len(model.requests) == calls
