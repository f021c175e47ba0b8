"""functions/run_workflow.asl.json: the one definition that the template deploys and the tests
execute; linted by cfn-lint's state machine rule, JSONPath only, a Retry on every task."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from mojang_chat.chat.model import ModelRateLimited, ModelUnavailable, ModelUnreachable
from mojang_chat.core.settings import Settings
from mojang_chat.core.statuses import RunStatus
from mojang_chat.runs.workflow import STEP_GRACE_SECONDS, WORKFLOW_TIMEOUT_SECONDS
from tests.helpers import ROOT
from tests.sam import lint_template, load_definition, load_template, translate_template

DEFINITION_FILE = ROOT / "functions" / "run_workflow.asl.json"
SUBSTITUTIONS = {
    "RunStepsFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:RunStepsFunction",
    "Partition": "aws",
}
TRANSIENT_LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def substitute(definition: dict[str, Any], substitutions: dict[str, str]) -> dict[str, Any]:
    """The definition with ``${Name}`` replaced as DefinitionSubstitutions does; a name with
    no value fails (CloudFormation would deploy the placeholder as is)."""
    text = json.dumps(definition)
    names = set(re.findall(r"\$\{(\w+)\}", text))
    missing = names - set(substitutions)
    assert not missing, f"no substitution for {sorted(missing)}"
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    substituted: dict[str, Any] = json.loads(text)
    return substituted


def states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, those inside Map and Parallel states too."""
    for name, state in definition["States"].items():
        yield name, state
        processors = [state.get("ItemProcessor"), state.get("Iterator")]
        processors += state.get("Branches", [])
        for processor in processors:
            if processor:
                yield from states(processor)


def test_the_template_deploys_this_file_with_every_substitution() -> None:
    # Given the state machine of the template
    machine = load_template()["Resources"]["RunStateMachine"]["Properties"]
    assert machine["DefinitionUri"] == "functions/run_workflow.asl.json"
    assert machine["Type"] == "STANDARD"
    # When the template is translated (the file is inlined as `sam package` does)
    translated = translate_template(parameters={"OpenAIApiKeySecretName": "key"})
    (resource,) = [
        r
        for r in translated["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    separator, lines = resource["Properties"]["DefinitionString"]["Fn::Join"]
    # Then what deploys is this very file, retry intervals and all
    assert json.loads(separator.join(lines)) == load_definition(DEFINITION_FILE)
    # And every ${Name} in it has a substitution
    assert set(resource["Properties"]["DefinitionSubstitutions"]) == set(SUBSTITUTIONS)
    substitute(load_definition(DEFINITION_FILE), SUBSTITUTIONS)


def test_the_definition_passes_cfn_lints_state_machine_rule() -> None:
    definition = substitute(load_definition(DEFINITION_FILE), SUBSTITUTIONS)
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "RunStateMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/runs",
                    "Definition": definition,
                },
            }
        },
    }
    assert [str(match) for match in lint_template(template)] == []


def test_the_definition_uses_jsonpath_only() -> None:
    definition = load_definition(DEFINITION_FILE)
    text = json.dumps(definition)
    assert "JSONata" not in text
    assert definition.get("QueryLanguage", "JSONPath") == "JSONPath"
    for name, state in states(definition):
        assert "Assign" not in state, name
        assert state.get("QueryLanguage", "JSONPath") == "JSONPath", name


def test_every_task_retries_transient_lambda_errors() -> None:
    for name, state in states(load_definition(DEFINITION_FILE)):
        if state["Type"] != "Task":
            continue
        retried = {error for retry in state["Retry"] for error in retry["ErrorEquals"]}
        assert retried >= TRANSIENT_LAMBDA_ERRORS, name
        for retry in state["Retry"]:
            # Small but realistic: a second or two, doubling, twice
            assert 1 <= retry["IntervalSeconds"] <= 2, name
            assert retry["MaxAttempts"] == 2, name
            assert retry["BackoffRate"] == 2, name


def code_exceptions() -> dict[str, type[BaseException]]:
    """The exception classes of the shared package, by name (its modules the steps import)."""
    import mojang_chat.runs.steps  # noqa: F401 (the steps, and everything they may raise)

    found: dict[str, type[BaseException]] = {}
    pending: list[type[BaseException]] = [BaseException]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("mojang_chat."):
            found[cls.__name__] = cls
    return found


def test_every_error_a_retry_or_catch_names_is_an_exception_of_the_code() -> None:
    # Lambda reports an uncaught exception by its class's name: a Retry or a Catch naming a
    # class that was renamed or removed would never match again, silently
    definition = load_definition(DEFINITION_FILE)
    named = {
        error
        for _, state in states(definition)
        for rule in [*state.get("Retry", []), *state.get("Catch", [])]
        for error in rule["ErrorEquals"]
        if not error.startswith(("States.", "Lambda."))
    }
    exceptions = code_exceptions()
    assert named <= set(exceptions), sorted(named - set(exceptions))
    # And the model step retries exactly the model adapter's transient errors
    retried = {
        error
        for retry in definition["States"]["InProgress"]["Retry"]
        for error in retry["ErrorEquals"]
        if not error.startswith("Lambda.")
    }
    assert retried == {ModelUnavailable.__name__, ModelRateLimited.__name__}
    # but not a model that takes no connection (a subclass, with a name of its own): the run
    # fails after the adapter's own retries, as fast as /chat answers 503
    assert issubclass(ModelUnreachable, ModelUnavailable)
    assert ModelUnreachable.__name__ not in retried


def test_failures_are_caught_into_failed_with_last_error() -> None:
    definition = load_definition(DEFINITION_FILE)
    to_failed = {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MarkFailed"}
    for name in ("InProgress", "RunTools"):
        assert definition["States"][name]["Catch"] == [to_failed]
    # A wait that times out (past expires_at), or a run that no longer waits, goes on to the
    # model step, which ends the run as its record says; anything else fails it
    ended, failed = definition["States"]["RequiresAction"]["Catch"]
    assert ended == {
        "ErrorEquals": ["RunNotWaiting", "States.Timeout"],
        "ResultPath": None,
        "Next": "InProgress",
    }
    assert failed == to_failed
    assert definition["States"]["MarkFailed"]["Next"] == "Failed"
    assert definition["States"]["Failed"]["Type"] == "Fail"


def test_the_states_are_the_run_statuses() -> None:
    definition = load_definition(DEFINITION_FILE)
    # Every status the model step may return is a RunStatus and has a state of its own
    choices = definition["States"]["AfterModel"]["Choices"]
    returned = {choice["StringEquals"] for choice in choices}
    assert returned <= {status.value for status in RunStatus}
    assert returned == {status.value for status in RunStatus if status.terminal} | {"in_progress"}
    names = {"".join(part.title() for part in s.split("_")) for s in returned}
    assert names <= set(definition["States"])
    assert {"Queued", "InProgress", "RequiresAction"} <= set(definition["States"])
    assert definition["States"]["RunTools"]["Type"] == "Map"
    assert definition["StartAt"] == "Queued"


def test_requires_action_waits_for_the_callers_token_until_the_run_expires() -> None:
    definition = load_definition(DEFINITION_FILE)
    wait = definition["States"]["RequiresAction"]
    assert wait["Resource"].endswith(":::lambda:invoke.waitForTaskToken")
    assert wait["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    # Its timeout is the model step's wait_seconds (until the run's expires_at)
    assert wait["TimeoutSecondsPath"] == "$.model.wait_seconds"
    selected = definition["States"]["InProgress"]["ResultSelector"]
    assert selected["wait_seconds.$"] == "$.Payload.wait_seconds"
    assert definition["States"]["AfterTools"]["Choices"] == [
        {"Variable": "$.model.waits", "BooleanEquals": True, "Next": "RequiresAction"}
    ]


def task_worst_seconds(state: dict[str, Any], function_timeout: int) -> int:
    """The longest a task state can take by its numbers: every attempt (the first and each
    retry of every retrier) running to its timeout, and every retry waiting its longest
    (full jitter waits at most the interval)."""
    per_attempt = min(state["TimeoutSeconds"], function_timeout)
    attempts, waits = 1, 0
    for retry in state["Retry"]:
        attempts += retry["MaxAttempts"]
        waits += sum(
            round(retry["IntervalSeconds"] * retry["BackoffRate"] ** n)
            for n in range(retry["MaxAttempts"])
        )
    return int(attempts * per_attempt + waits)


def run_tail_seconds() -> int:
    """How long after ``expires_at`` a run can still be open, at worst: every step that starts
    after it ends the run at once, so what is left is the step in flight (the model step is
    the longest) and, when that fails, MarkFailed."""
    definition = load_definition(DEFINITION_FILE)
    function_timeout = load_template()["Resources"]["RunStepsFunction"]["Properties"]["Timeout"]
    model = definition["States"]["InProgress"]
    tool = definition["States"]["RunTools"]["ItemProcessor"]["States"]["RunTool"]
    fail = definition["States"]["MarkFailed"]
    assert task_worst_seconds(tool, function_timeout) <= task_worst_seconds(model, function_timeout)
    return task_worst_seconds(model, function_timeout) + task_worst_seconds(fail, function_timeout)


def test_a_run_reaches_a_terminal_status_within_its_stated_bound() -> None:
    # Given the numbers of the ASL file and the template
    tail = run_tail_seconds()
    expires = load_template()["Parameters"]["RunExpiresSeconds"]
    # Then the bound docs/runs.md states is the one they give
    runs_doc = (ROOT / "docs" / "runs.md").read_text(encoding="utf-8")
    assert f"`RUN_EXPIRES_SECONDS` + {tail} s" in runs_doc
    assert f"{expires['Default'] + tail} s" in runs_doc
    # And a read that late reconciles the record with its execution
    assert tail <= STEP_GRACE_SECONDS
    # And the workflow outlives the longest run, so it ends it itself (never a timeout)
    definition = load_definition(DEFINITION_FILE)
    assert definition["TimeoutSeconds"] == WORKFLOW_TIMEOUT_SECONDS
    assert expires["MaxValue"] + tail <= WORKFLOW_TIMEOUT_SECONDS
    assert Settings.model_fields["run_expires_seconds"].metadata[-1].le == expires["MaxValue"]


def test_a_step_answers_inside_its_lambda_and_task_timeouts() -> None:
    # The step's work ends by its deadline (REQUEST_DEADLINE_SECONDS less the margin), so the
    # function's own timeout, and the task's, never cut a step that behaves
    settings = Settings()
    function_timeout = load_template()["Resources"]["RunStepsFunction"]["Properties"]["Timeout"]
    assert settings.request_deadline_seconds + 2 <= function_timeout
    definition = load_definition(DEFINITION_FILE)
    tool = definition["States"]["RunTools"]["ItemProcessor"]["States"]["RunTool"]
    for state in (definition["States"]["InProgress"], tool):
        assert state["TimeoutSeconds"] > function_timeout


def transitions(scope: dict[str, Any]) -> Iterator[tuple[str, str, set[str]]]:
    """(state, the name it may go to, the names of its scope), for every scope."""
    names = set(scope["States"])
    yield "StartAt", scope["StartAt"], names
    for name, state in scope["States"].items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [choice["Next"] for choice in state.get("Choices", [])]
        targets += [catch["Next"] for catch in state.get("Catch", [])]
        for target in filter(None, targets):
            yield name, target, names
        for processor in [state.get("ItemProcessor"), *state.get("Branches", [])]:
            if processor:
                yield from transitions(processor)


def test_every_next_names_a_state_of_its_scope() -> None:
    # cfn-lint checks the structure, moto accepts a missing state until it is reached
    for state, target, names in transitions(load_definition(DEFINITION_FILE)):
        assert target in names, f"{state} -> {target}"
