"""The core's adapters, each kind held to the same tests: the DynamoDB store and the Step
Functions workflow (in moto), and the in-memory ones the unit tests use (tests/fakes/runs.py),
so that what the unit tests prove with the fakes holds for the real adapters too."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from mojang_chat.chat.types import Usage
from mojang_chat.core.statuses import RunStatus
from mojang_chat.runs.errors import RunNotFound
from mojang_chat.runs.records import (
    CalledFunction,
    MessageRecord,
    RunRecord,
    ThreadRecord,
    ToolCallRecord,
)
from mojang_chat.runs.store import DynamoRunStore, RunStore, transition
from mojang_chat.runs.workflow import StepFunctionsWorkflow, Workflow, execution_arn
from tests.fakes.runs import ConditionFailed, MemoryRunStore, MemoryWorkflow

TABLE = "runs"
ROLE = "arn:aws:iam::123456789012:role/runs"
# Never executed (moto runs no definition unless told to): executions stay RUNNING until
# stopped, as a run's does while its model step runs.
DEFINITION = {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[RunStore]:
    if request.param == "memory":
        yield MemoryRunStore()
        return
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield DynamoRunStore(client, TABLE)


@pytest.fixture(params=["memory", "stepfunctions"])
def workflow(request: pytest.FixtureRequest) -> Iterator[Workflow]:
    if request.param == "memory":
        yield MemoryWorkflow()
        return
    with mock_aws():
        client = boto3.client("stepfunctions")
        machine = client.create_state_machine(
            name="runs", definition=json.dumps(DEFINITION), roleArn=ROLE
        )
        yield StepFunctionsWorkflow(client, machine["stateMachineArn"])


def records(suffix: str = "1") -> tuple[ThreadRecord, RunRecord]:
    thread = ThreadRecord(
        id=f"thread_{suffix}",
        created_at=100,
        run_id=f"run_{suffix}",
        metadata={"t": "1"},
        messages=[
            MessageRecord(
                id="msg_1", thread_id=f"thread_{suffix}", created_at=100, role="user", text="who?"
            )
        ],
        conversation=[{"role": "user", "content": "who?"}],
        ttl=9_999,
    )
    run = RunRecord(
        id=f"run_{suffix}",
        thread_id=f"thread_{suffix}",
        assistant_id="asst_default",
        created_at=100,
        status=RunStatus.QUEUED,
        model="gpt-test",
        instructions="be brief",
        tools=[{"type": "function", "function": {"name": "lookup", "strict": True}}],
        metadata={"r": "2"},
        expires_at=700,
        ttl=9_999,
    )
    return thread, run


def test_what_is_created_reads_back_as_it_was(store: RunStore) -> None:
    thread, run = records()
    store.create(thread, run)

    for consistent in (False, True):
        assert store.get_run(run.id, consistent=consistent) == run
        assert store.get_thread(thread.id, consistent=consistent) == thread
    assert store.get_run("run_2") is None
    assert store.get_thread("thread_2") is None


def test_create_never_overwrites(store: RunStore) -> None:
    thread, run = records()
    store.create(thread, run)
    changed = run.model_copy(update={"status": RunStatus.FAILED})

    with pytest.raises((ConditionFailed, ClientError)):
        store.create(thread, changed)

    assert store.get_run(run.id) == run


def test_a_run_is_replaced_at_its_version_only(store: RunStore) -> None:
    thread, run = records()
    store.create(thread, run)
    started = run.started(110)
    assert started is not None

    assert store.replace_run(started, version=0)
    assert store.replace_run(started, version=0) is False
    assert store.get_run(run.id, consistent=True) == started.model_copy(update={"version": 1})


def test_a_transition_writes_the_change_and_counts_the_version(store: RunStore) -> None:
    thread, run = records()
    store.create(thread, run)
    call = ToolCallRecord(id="call_1", function=CalledFunction(name="lookup", arguments="{}"))

    started = transition(store, run.id, lambda r: r.started(110))
    waiting = transition(store, run.id, lambda r: r.awaiting_tools([call], Usage(1, 2, 3)))
    unchanged = transition(store, run.id, lambda r: None)

    assert (started.status, started.version) == (RunStatus.IN_PROGRESS, 1)
    assert (waiting.status, waiting.version, waiting.tool_calls) == (
        RunStatus.REQUIRES_ACTION,
        2,
        [call],
    )
    assert unchanged == waiting == store.get_run(run.id, consistent=True)
    with pytest.raises(RunNotFound):
        transition(store, "run_2", lambda r: r.started(110))


def test_a_turn_is_saved_whole_or_not_at_all(store: RunStore) -> None:
    thread, run = records()
    store.create(thread, run)
    started = run.started(110)
    assert started is not None
    answered = thread.model_copy(
        update={"conversation": [*thread.conversation, {"role": "assistant", "content": "bob"}]}
    )

    # A turn saved against a version the run has moved on from writes neither item
    assert store.replace_run(started, version=0)
    assert store.save_turn(started, version=0, thread=answered) is False
    assert store.get_thread(thread.id, consistent=True) == thread
    # At the current version it writes both
    assert store.save_turn(started, version=1, thread=answered)
    assert store.get_thread(thread.id, consistent=True) == answered
    assert store.get_run(run.id, consistent=True) == started.model_copy(update={"version": 2})


def test_tool_outputs_are_added_one_call_at_a_time(store: RunStore) -> None:
    thread, run = records()
    store.create(thread, run)

    store.save_tool_output(thread.id, "call_1", '{"id":"1"}')
    store.save_tool_output(thread.id, "call_2", '{"id":"2"}')

    stored = store.get_thread(thread.id, consistent=True)
    assert stored is not None
    assert stored.tool_outputs == {"call_1": '{"id":"1"}', "call_2": '{"id":"2"}'}
    assert stored.model_copy(update={"tool_outputs": {}}) == thread
    with pytest.raises((ConditionFailed, ClientError)):
        store.save_tool_output("thread_2", "call_1", "{}")


def test_an_execution_is_started_described_and_stopped(workflow: Workflow) -> None:
    assert workflow.describe("run_1") is None

    workflow.start("run_1", "thread_1")
    assert workflow.describe("run_1") == "RUNNING"

    workflow.stop("run_1", "RunCancelled", "the client cancelled the run")
    assert workflow.describe("run_1") == "ABORTED"
    # Stopping an execution that never started is no error
    workflow.stop("run_2", "RunCancelled", "the client cancelled the run")
    assert workflow.describe("run_2") is None


def test_step_functions_names_the_execution_by_the_run_and_gives_it_the_ids() -> None:
    with mock_aws():
        client = boto3.client("stepfunctions")
        machine = client.create_state_machine(
            name="runs", definition=json.dumps(DEFINITION), roleArn=ROLE
        )["stateMachineArn"]

        StepFunctionsWorkflow(client, machine).start("run_1", "thread_1")

        execution = client.describe_execution(executionArn=execution_arn(machine, "run_1"))
        assert execution["name"] == "run_1"
        assert json.loads(execution["input"]) == {"run_id": "run_1", "thread_id": "thread_1"}
