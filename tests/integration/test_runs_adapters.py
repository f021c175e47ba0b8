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
from mojang_chat.runs.dynamodb import DynamoRunStore
from mojang_chat.runs.errors import NotFound
from mojang_chat.runs.paging import Page
from mojang_chat.runs.records import (
    AssistantRecord,
    FunctionCallRecord,
    MessageRecord,
    RunRecord,
    StepCall,
    StepRecord,
    ThreadRecord,
    ToolCallRecord,
    new_id,
)
from mojang_chat.runs.store import RunStore, transition
from mojang_chat.runs.workflow import StepFunctionsWorkflow, Workflow, execution_arn
from tests.fakes.runs import ConditionFailed, MemoryRunStore, MemoryWorkflow

TABLE = "runs"
ROLE = "arn:aws:iam::123456789012:role/runs"
# Never executed (moto runs no definition unless told to): executions stay RUNNING until
# stopped, as a run's does while its model step runs.
DEFINITION = {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}
TTL = 9_999


def create_table(client: object) -> None:
    """The runs table as template.yaml defines it (partition ``pk``, sort ``sk``)."""
    client.create_table(  # type: ignore[attr-defined]
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[RunStore]:
    if request.param == "memory":
        yield MemoryRunStore()
        return
    with mock_aws():
        client = boto3.client("dynamodb")
        create_table(client)
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


def thread_record() -> ThreadRecord:
    return ThreadRecord(id=new_id("thread"), created_at=100, metadata={"t": "1"}, ttl=TTL)


def message(thread: ThreadRecord, text: str, run_id: str | None = None) -> MessageRecord:
    return MessageRecord(
        id=new_id("msg"),
        thread_id=thread.id,
        created_at=100,
        role="user" if run_id is None else "assistant",
        text=text,
        run_id=run_id,
        ttl=TTL,
    )


def run_record(thread: ThreadRecord) -> RunRecord:
    return RunRecord(
        id=new_id("run"),
        thread_id=thread.id,
        assistant_id="asst_default",
        created_at=100,
        status=RunStatus.QUEUED,
        model="gpt-test",
        instructions="be brief",
        tools=[
            {"type": "function", "function": {"name": "lookup", "parameters": {"minimum": 0.5}}}
        ],
        metadata={"r": "2"},
        expires_at=700,
        ttl=TTL,
    )


def step_record(run: RunRecord, *call_ids: str) -> StepRecord:
    return StepRecord(
        id=new_id("step"),
        run_id=run.id,
        thread_id=run.thread_id,
        assistant_id=run.assistant_id,
        created_at=110,
        type="tool_calls",
        calls=[StepCall(id=c, name="lookup", arguments="{}") for c in call_ids],
        ttl=TTL,
    )


def started_run(store: RunStore) -> tuple[ThreadRecord, RunRecord]:
    thread = thread_record()
    store.create_thread(thread, [message(thread, "who?")])
    run = run_record(thread)
    assert store.start_run(run, None)
    return thread, run


def test_a_thread_and_its_messages_read_back_as_written(store: RunStore) -> None:
    thread = thread_record()
    first, second = message(thread, "one"), message(thread, "two")
    store.create_thread(thread, [first, second])

    for consistent in (False, True):
        stored = store.get_thread(thread.id, consistent=consistent)
        assert stored == thread.model_copy(update={"message_count": 2})
    assert store.get_message(thread.id, first.id) == first
    assert store.list_messages(thread.id, Page(order="asc")) == [first, second]
    assert store.get_thread(new_id("thread")) is None
    with pytest.raises((ConditionFailed, ClientError)):
        store.create_thread(thread, [])


def test_messages_page_in_both_orders_after_and_before_an_id(store: RunStore) -> None:
    thread = thread_record()
    messages = [message(thread, str(i)) for i in range(5)]
    store.create_thread(thread, messages)
    ids = [m.id for m in messages]

    def page(**kwargs: object) -> list[str]:
        return [m.id for m in store.list_messages(thread.id, Page(**kwargs))]  # type: ignore[arg-type]

    # limit + 1 records come back: the extra one says there are more
    assert page(limit=2, order="asc") == ids[:3]
    assert page(limit=2, order="desc") == ids[::-1][:3]
    assert page(limit=10, order="asc", after=ids[1]) == ids[2:]
    assert page(limit=10, order="desc", after=ids[3]) == ids[:3][::-1]
    assert page(limit=10, order="asc", before=ids[2]) == ids[:2]
    assert page(limit=10, order="desc", before=ids[1]) == ids[2:][::-1]
    assert page(limit=1, order="asc", after=ids[0], before=ids[3]) == ids[1:3]


def test_messages_are_added_within_the_bound_and_deleted_with_the_count(store: RunStore) -> None:
    thread = thread_record()
    store.create_thread(thread, [message(thread, "one")])
    second, third = message(thread, "two"), message(thread, "three")

    assert store.add_messages(thread.id, [second], max_messages=2)
    assert store.add_messages(thread.id, [third], max_messages=2) is False
    assert store.get_message(thread.id, third.id) is None
    assert store.delete_message(thread.id, second.id)
    assert store.delete_message(thread.id, second.id) is False
    assert store.add_messages(thread.id, [third], max_messages=2)
    stored = store.get_thread(thread.id, consistent=True)
    assert stored is not None
    assert stored.message_count == 2
    with pytest.raises(NotFound):
        store.add_messages(new_id("thread"), [third], max_messages=2)


def test_metadata_is_replaced_on_existing_records_only(store: RunStore) -> None:
    thread = thread_record()
    first = message(thread, "one")
    store.create_thread(thread, [first])

    assert store.put_thread(thread.model_copy(update={"metadata": {"k": "v"}}))
    assert store.put_message(first.model_copy(update={"metadata": {"m": "1"}}))

    stored = store.get_thread(thread.id, consistent=True)
    assert stored is not None
    assert (stored.metadata, stored.message_count) == ({"k": "v"}, 1)
    assert store.get_message(thread.id, first.id) == first.model_copy(
        update={"metadata": {"m": "1"}}
    )
    assert store.put_thread(thread_record()) is False
    assert store.put_message(message(thread, "never added")) is False


def test_a_run_starts_only_after_the_run_it_saw_last(store: RunStore) -> None:
    thread, run = started_run(store)

    stored = store.get_thread(thread.id, consistent=True)
    assert stored is not None
    assert stored.last_run_id == run.id
    assert store.get_run(thread.id, run.id) == run
    # A second run that saw no run before loses to the first
    assert store.start_run(run_record(thread), None) is False
    # One that saw the first starts
    later = run_record(thread)
    assert store.start_run(later, run.id)
    assert [r.id for r in store.list_runs(thread.id, Page())] == [later.id, run.id]


def test_a_run_is_replaced_at_its_version_only(store: RunStore) -> None:
    thread, run = started_run(store)
    started = run.started(110)
    assert started is not None

    assert store.replace_run(started, version=0)
    assert store.replace_run(started, version=0) is False
    stored = store.get_run(thread.id, run.id, consistent=True)
    assert stored == started.model_copy(update={"version": 1})


def test_a_transition_writes_the_change_and_counts_the_version(store: RunStore) -> None:
    thread, run = started_run(store)
    call = ToolCallRecord(id="call_1", function=FunctionCallRecord(name="lookup", arguments="{}"))

    started = transition(store, thread.id, run.id, lambda r: r.started(110))
    calling = transition(
        store, thread.id, run.id, lambda r: r.calling_tools("step_1", [], [call], Usage(1, 2, 3))
    )
    waiting = transition(store, thread.id, run.id, lambda r: r.waiting("token"))
    unchanged = transition(store, thread.id, run.id, lambda r: None)

    assert (started.status, started.version) == (RunStatus.IN_PROGRESS, 1)
    assert (calling.status, calling.client_calls, calling.rounds) == (
        RunStatus.IN_PROGRESS,
        [call],
        1,
    )
    assert (waiting.status, waiting.task_token, waiting.version) == (
        RunStatus.REQUIRES_ACTION,
        "token",
        3,
    )
    assert unchanged == waiting == store.get_run(thread.id, run.id, consistent=True)
    with pytest.raises(NotFound):
        transition(store, thread.id, new_id("run"), lambda r: r.started(110))


def test_a_turn_is_saved_whole_or_not_at_all(store: RunStore) -> None:
    thread, run = started_run(store)
    started = run.started(110)
    assert started is not None
    step = step_record(run, "call_1")
    answer = message(thread, "bob", run_id=run.id)

    # A turn saved against a version the run has moved on from writes nothing
    assert store.replace_run(started, version=0)
    assert store.save_turn(started, version=0, items=[step, answer]) is False
    assert store.get_step(thread.id, run.id, step.id) is None
    # At the current version it writes all
    assert store.save_turn(started, version=1, items=[step, answer])
    assert store.get_step(thread.id, run.id, step.id) == step
    assert store.get_message(thread.id, answer.id) == answer
    stored = store.get_run(thread.id, run.id, consistent=True)
    assert stored == started.model_copy(update={"version": 2})


def test_tool_outputs_land_on_their_step_one_call_at_a_time(store: RunStore) -> None:
    thread, run = started_run(store)
    step = step_record(run, "call_1", "call_2")
    assert store.save_turn(run, 0, [step])

    store.save_outputs(thread.id, run.id, step.id, {"call_1": '{"id":"1"}'})
    half = store.get_step(thread.id, run.id, step.id)
    assert half is not None
    assert not half.answered
    store.save_outputs(thread.id, run.id, step.id, {"call_2": '{"id":"2"}'})

    stored = store.get_step(thread.id, run.id, step.id)
    assert stored is not None
    assert stored.answered
    assert stored.outputs == {"call_1": '{"id":"1"}', "call_2": '{"id":"2"}'}
    assert [s.id for s in store.list_steps(thread.id, run.id, Page())] == [step.id]
    with pytest.raises((ConditionFailed, ClientError)):
        store.save_outputs(thread.id, run.id, new_id("step"), {"call_1": "{}"})


def test_the_history_is_every_message_and_step_in_the_order_made(store: RunStore) -> None:
    thread, run = started_run(store)
    step = step_record(run, "call_1")
    answer = message(thread, "bob", run_id=run.id)
    store.save_turn(run, 0, [step])
    store.save_turn(run, 1, [answer])

    history = store.history(thread.id)

    assert [item.id for item in history][1:] == [step.id, answer.id]
    assert isinstance(history[0], MessageRecord)
    assert history[0].text == "who?"


def test_a_deleted_thread_leaves_nothing(store: RunStore) -> None:
    thread, run = started_run(store)
    store.save_turn(run, 0, [step_record(run, "call_1")])

    assert store.delete_thread(thread.id)

    assert store.get_thread(thread.id) is None
    assert store.history(thread.id) == []
    assert store.get_run(thread.id, run.id) is None
    assert store.locate_run(run.id) is None
    assert store.delete_thread(thread.id) is False


def test_a_thread_and_messages_beyond_one_transaction_are_written_whole(store: RunStore) -> None:
    # DynamoDB takes at most 100 items in a transaction; a history sent whole can hold more
    thread = thread_record()
    run = run_record(thread)
    first = [message(thread, str(i)) for i in range(120)] + [step_record(run, "call_1")]
    store.create_thread(thread, first)
    more = [message(thread, f"more {i}") for i in range(110)]

    assert store.add_messages(thread.id, more, max_messages=1000)
    # Refused whole, what went ahead of the transaction taken back
    refused = [message(thread, f"refused {i}") for i in range(110)]
    assert store.add_messages(thread.id, refused, max_messages=300) is False

    assert [item.id for item in store.history(thread.id)] == [i.id for i in first + more]
    stored = store.get_thread(thread.id, consistent=True)
    assert stored is not None
    assert stored.message_count == 230


def test_assistants_are_kept_listed_and_deleted(store: RunStore) -> None:
    made = [
        AssistantRecord(id=new_id("asst"), created_at=100, name=str(i), instructions="hi")
        for i in range(3)
    ]
    for assistant in made:
        store.put_assistant(assistant)

    assert store.get_assistant(made[0].id) == made[0]
    assert store.list_assistants(Page(limit=2)) == made[::-1]
    assert store.list_assistants(Page(order="asc", after=made[0].id)) == made[1:]
    assert store.delete_assistant(made[1].id)
    assert store.delete_assistant(made[1].id) is False
    assert store.get_assistant(made[1].id) is None


def test_an_execution_is_started_described_and_stopped(workflow: Workflow) -> None:
    assert workflow.describe("run_1") is None

    workflow.start("run_1", "thread_1")
    assert workflow.describe("run_1") == "RUNNING"

    workflow.stop("run_1", "RunCancelled", "the client cancelled the run")
    assert workflow.describe("run_1") == "ABORTED"
    # Stopping an execution that never started is no error
    workflow.stop("run_2", "RunCancelled", "the client cancelled the run")
    assert workflow.describe("run_2") is None


def test_resuming_with_a_token_nothing_waits_on_says_so() -> None:
    assert MemoryWorkflow().resume("not-a-token") is False
    # moto checks tokens only when it executes definitions (as the runs stack has it)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions")
        machine = client.create_state_machine(
            name="runs", definition=json.dumps(DEFINITION), roleArn=ROLE
        )["stateMachineArn"]
        assert StepFunctionsWorkflow(client, machine).resume("not-a-token") is False


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
