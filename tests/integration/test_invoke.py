"""``python -m mojang_chat invoke <LogicalId> -e events/<file>.json``, the Docker-free
``sam local invoke``: every file in events/ runs through its function, the handler gets the
template's environment, timeout and memory in a Lambda context, and stdout holds the response
alone (or Lambda's error object)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mojang_chat.local import cli
from mojang_chat.local.standins import MERRYDITH_UUID
from tests.helpers import ROOT, TEMPLATE, application

EVENTS = sorted((ROOT / "events").glob("*.json"))
# What each event file is answered with on a fresh local stack (no thread or run stored yet:
# the runs events name ids that do not exist, as `sam local invoke` against an empty table).
EXPECTED_STATUS = {
    "assistants-create": 200,
    "chat-followup": 200,
    "chat-invalid": 422,
    "chat-tutorial": 200,
    "runs-create": 200,
    "runs-cancel": 404,
    "runs-messages": 404,
    "runs-retrieve": 404,
    "runs-steps": 404,
    "runs-submit-tool-outputs": 404,
}


def function_of(event: dict[str, Any]) -> str:
    """The function an event file is for: the route's, or the workflow's task function."""
    if "routeKey" not in event:
        return "RunStepsFunction"
    http = event["requestContext"]["http"]
    found = application().find(http["method"], http["path"])
    assert found is not None, http
    return found[0].function


def test_every_event_file_is_covered() -> None:
    names = {path.stem for path in EVENTS}
    assert names == set(EXPECTED_STATUS) | {n for n in names if n.startswith("run-step-")}
    assert {function_of(json.loads(p.read_text())) for p in EVENTS} == set(application().functions)


@pytest.mark.parametrize("path", EVENTS, ids=[p.stem for p in EVENTS])
def test_every_event_file_runs_through_its_function(
    app_env: Any, capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    function = function_of(json.loads(path.read_text()))

    status = cli.main(["--template", str(TEMPLATE), "invoke", function, "-e", str(path)])

    out, err = capsys.readouterr()
    [line] = out.splitlines()  # the response alone, one JSON document
    printed = json.loads(line)
    if function == "RunStepsFunction":
        # A step alone finds no run in the empty store: Lambda's error object, exit 1
        assert status == 1
        assert printed == {
            "errorMessage": "No run found with id 'run_abcdefghijklmnopqrstuvwx'.",
            "errorType": "NotFound",
        }
        assert f"[ERROR] {function} RequestId: " in err
        return
    assert status == 0, err
    assert printed["statusCode"] == EXPECTED_STATUS[path.stem]
    body = json.loads(printed["body"])
    if path.stem == "chat-tutorial":
        assert MERRYDITH_UUID in body["answer"]
    if printed["statusCode"] == 404:
        assert set(body["error"]) == {"message", "type", "param", "code"}


@pytest.fixture
def slow_template(tmp_path: Path) -> Path:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(
        textwrap.dedent(
            """
            import os, time

            def handler(event, context):
                time.sleep(event.get("sleep", 0))
                return {
                    "name": context.function_name,
                    "arn": context.invoked_function_arn,
                    "memory": context.memory_limit_in_mb,
                    "remaining": context.get_remaining_time_in_millis(),
                    "request_id": context.aws_request_id,
                    "setting": os.environ.get("FN_SETTING"),
                }
            """
        )
    )
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """
            Transform: AWS::Serverless-2016-10-31
            Resources:
              SlowFunction:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: fn/
                  Handler: app.handler
                  Timeout: 1
                  MemorySize: 512
                  Environment:
                    Variables:
                      FN_SETTING: from-the-template
            """
        )
    )
    return tmp_path / "template.yaml"


def test_the_handler_gets_the_templates_environment_memory_and_timeout(
    app_env: Any, capsys: pytest.CaptureFixture[str], slow_template: Path, tmp_path: Path
) -> None:
    event = tmp_path / "event.json"
    event.write_text("{}")

    assert (
        cli.main(["--template", str(slow_template), "invoke", "SlowFunction", "-e", str(event)])
        == 0
    )

    context = json.loads(capsys.readouterr().out)
    assert context["name"] == "SlowFunction"
    assert context["arn"].endswith(":function:SlowFunction")
    assert context["memory"] == 512
    assert 0 < context["remaining"] <= 1000
    assert context["request_id"]
    assert context["setting"] == "from-the-template"


def test_a_handler_past_its_timeout_is_given_up_on_as_lambda_does(
    app_env: Any, capsys: pytest.CaptureFixture[str], slow_template: Path, tmp_path: Path
) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"sleep": 3}')

    assert (
        cli.main(["--template", str(slow_template), "invoke", "SlowFunction", "-e", str(event)])
        == 1
    )

    assert json.loads(capsys.readouterr().out) == {
        "errorMessage": "Task timed out after 1.00 seconds",
        "errorType": "Sandbox.Timedout",
    }


def test_an_unknown_function_or_event_file_is_a_clear_error(
    app_env: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    event = str(EVENTS[0])
    assert cli.main(["--template", str(TEMPLATE), "invoke", "NoSuchFunction", "-e", event]) == 2
    err = capsys.readouterr().err
    assert "has no function NoSuchFunction" in err
    assert "ChatFunction" in err

    missing = str(tmp_path / "missing.json")
    assert cli.main(["--template", str(TEMPLATE), "invoke", "ChatFunction", "-e", missing]) == 2
    captured = capsys.readouterr()
    assert "cannot read the event" in captured.err
    assert captured.out == ""
