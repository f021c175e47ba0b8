"""The conversation service with in-memory adapters: assistants, threads and messages, runs
created, read (and reconciled), cancelled and resumed with the caller's tool outputs, without
AWS."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import get_args

import pytest
from mypy_boto3_stepfunctions.literals import ExecutionStatusType

from mojang_chat.core.statuses import RunStatus
from mojang_chat.runs import (
    ConversationCore,
    EarlierCall,
    HistoryItem,
    NewMessage,
    ThreadLimits,
)
from mojang_chat.runs.errors import CannotCancel, InvalidRequest, NotFound, RunConflict
from mojang_chat.runs.paging import Page
from mojang_chat.runs.prompt import model_messages
from mojang_chat.runs.records import (
    ASSISTANT_ID,
    FunctionCallRecord,
    RunError,
    RunOptions,
    RunRecord,
    StepCall,
    StepRecord,
    ToolCallRecord,
    is_id,
    new_id,
)
from mojang_chat.runs.workflow import STEP_GRACE_SECONDS
from tests.fakes.runs import MemoryRunStore, MemoryWorkflow
from tests.helpers import FakeClock
from tests.unit.runs.helpers import EXPIRES_SECONDS, NOW

RETENTION_SECONDS = 86_400
MAX_MESSAGES = 5
MAX_OUTPUT_CHARS = 300
OWN_TOOL = {"type": "function", "function": {"name": "get_uuid_from_username", "parameters": {}}}
QUESTION = [
    NewMessage("user", "who is bob?", {"page": "faq"}),
    NewMessage("assistant", "a player"),
    NewMessage("user", "who?"),
]


@pytest.fixture
def service(store: MemoryRunStore, workflow: MemoryWorkflow, clock: FakeClock) -> ConversationCore:
    return ConversationCore(
        store,
        workflow,
        model="gpt-test",
        expires_seconds=EXPIRES_SECONDS,
        retention_seconds=RETENTION_SECONDS,
        limits=ThreadLimits(
            thread_max_messages=MAX_MESSAGES, tool_output_max_chars=MAX_OUTPUT_CHARS
        ),
        clock=clock,
    )


def create(service: ConversationCore, **options: object) -> RunRecord:
    return service.create_thread_and_run(
        QUESTION,
        {"t": "1"},
        ASSISTANT_ID,
        RunOptions.model_validate({"metadata": {"r": "2"}, **options}),
    )


def in_progress(store: MemoryRunStore, run: RunRecord) -> RunRecord:
    """The run as the workflow's first step leaves it."""
    started = run.started(NOW)
    assert started is not None
    store.put_run(started)
    return started


def requiring_action(
    store: MemoryRunStore, workflow: MemoryWorkflow, run: RunRecord, *call_ids: str
) -> RunRecord:
    """The run as the workflow leaves it waiting for the caller's calls ``call_ids``."""
    started = in_progress(store, run)
    step = StepRecord(
        id=new_id("step"),
        run_id=run.id,
        thread_id=run.thread_id,
        assistant_id=run.assistant_id,
        created_at=NOW,
        type="tool_calls",
        calls=[
            StepCall(id=c, name="get_uuid_from_username", arguments="{}", client=True)
            for c in call_ids
        ],
        ttl=run.ttl,
    )
    calls = [
        ToolCallRecord(
            id=c, function=FunctionCallRecord(name="get_uuid_from_username", arguments="{}")
        )
        for c in call_ids
    ]
    calling = started.calling_tools(step.id, [], calls, started.tokens)
    assert calling is not None
    waiting = calling.waiting("token-1")
    assert waiting is not None
    store.save_turn(waiting, started.version, [step])
    workflow.waiting.add("token-1")
    stored = store.get_run(run.thread_id, run.id)
    assert stored is not None
    return stored


def test_creating_writes_the_thread_and_a_queued_run_and_starts_its_workflow(
    service: ConversationCore, store: MemoryRunStore, workflow: MemoryWorkflow
) -> None:
    run = create(service)

    assert is_id("run", run.id)
    assert is_id("thread", run.thread_id)
    assert (run.status, run.assistant_id, run.model) == (RunStatus.QUEUED, ASSISTANT_ID, "gpt-test")
    assert (run.created_at, run.expires_at, run.ttl) == (
        NOW,
        NOW + EXPIRES_SECONDS,
        NOW + RETENTION_SECONDS,
    )
    assert run.metadata == {"r": "2"}
    assert store.get_run(run.thread_id, run.id) == run
    thread = service.thread(run.thread_id)
    assert (thread.metadata, thread.message_count, thread.last_run_id) == ({"t": "1"}, 3, run.id)
    messages = service.list_messages(run.thread_id, Page(order="asc")).data
    assert [(m.role, m.text, m.metadata) for m in messages] == [
        ("user", "who is bob?", {"page": "faq"}),
        ("assistant", "a player", {}),
        ("user", "who?", {}),
    ]
    assert workflow.inputs[run.id] == {"run_id": run.id, "thread_id": run.thread_id}


def test_a_run_whose_workflow_cannot_start_fails_at_once(
    service: ConversationCore, workflow: MemoryWorkflow
) -> None:
    workflow.start_error = RuntimeError("throttled")

    run = create(service)

    assert run.status is RunStatus.FAILED
    assert run.last_error == RunError(code="server_error", message="the run could not be started")


def test_the_runs_instructions_replace_the_assistants_and_the_additional_ones_follow(
    service: ConversationCore,
) -> None:
    assistant = service.create_assistant(instructions="You are terse.", tools=[OWN_TOOL])
    thread, _ = service.create_thread(QUESTION, {})

    own = service.create_run(
        thread.id, assistant.id, RunOptions(additional_instructions="Be kind.")
    )
    service.cancel(thread.id, own.id)
    service.run(thread.id, own.id)  # the cancel ends it (its execution stopped)
    replaced = service.create_run(
        thread.id, assistant.id, RunOptions(instructions="Address the user as Johnny.", tools=[])
    )

    assert (own.instructions, own.tools) == ("You are terse.\n\nBe kind.", [OWN_TOOL])
    assert (replaced.instructions, replaced.tools) == ("Address the user as Johnny.", [])


def test_a_thread_has_one_active_run_and_takes_no_messages_meanwhile(
    service: ConversationCore,
) -> None:
    run = create(service)

    with pytest.raises(InvalidRequest, match=f"already has an active run {run.id}"):
        service.create_run(run.thread_id, ASSISTANT_ID, RunOptions())
    with pytest.raises(InvalidRequest, match=f"while a run {run.id} is active"):
        service.add_message(run.thread_id, NewMessage("user", "and?"))
    # Once it has ended, both are allowed
    service.cancel(run.thread_id, run.id)
    assert service.run(run.thread_id, run.id).status is RunStatus.CANCELLED
    service.add_message(run.thread_id, NewMessage("user", "and?"))
    assert service.create_run(run.thread_id, ASSISTANT_ID, RunOptions()).status is RunStatus.QUEUED


def test_a_thread_holds_at_most_its_bound_of_messages(service: ConversationCore) -> None:
    thread, _ = service.create_thread(QUESTION, {})
    service.add_message(thread.id, NewMessage("user", "4"))
    service.add_message(thread.id, NewMessage("user", "5"))

    with pytest.raises(InvalidRequest, match="at most 5 messages") as caught:
        service.add_message(thread.id, NewMessage("user", "6"))
    assert caught.value.code == "thread_full"
    with pytest.raises(InvalidRequest, match="at most 5 messages"):
        service.create_thread([NewMessage("user", str(i)) for i in range(6)], {})
    # A deleted message makes room again
    last = service.list_messages(thread.id, Page(limit=1)).data[0]
    service.delete_message(thread.id, last.id)
    service.add_message(thread.id, NewMessage("user", "6"))


def test_a_history_sent_whole_becomes_messages_and_answered_steps(
    service: ConversationCore, store: MemoryRunStore
) -> None:
    history: list[HistoryItem] = [
        NewMessage("user", "who is bob, and the weather?"),
        EarlierCall("mcp_1", "get_uuid_from_username", '{"username":"bob"}', False, "uuid"),
        EarlierCall("call_2", "get_weather", "{}", True),
        NewMessage("assistant", "Bob's uuid is uuid; it is sunny."),
        EarlierCall("call_3", "get_weather", "{}", True),
    ]
    outputs = [("call_3", "rain"), ("call_2", "sunny")]

    run = service.create_response(
        messages=history, outputs=outputs, instructions="", options=RunOptions()
    )

    # Consecutive calls are one model turn; the caller's answered by its outputs
    items = store.history(run.thread_id)
    assert [type(item).__name__ for item in items] == [
        "MessageRecord",
        "StepRecord",
        "MessageRecord",
        "StepRecord",
    ]
    assert run.inputs == [item.id for item in items]
    messages = model_messages(run, items, context_tokens=10_000)
    assert [(m["role"], m.get("tool_call_id"), m["content"]) for m in messages[1:]] == [
        ("user", None, "who is bob, and the weather?"),
        ("assistant", None, None),
        ("tool", "mcp_1", "uuid"),
        ("tool", "call_2", "sunny"),
        ("assistant", None, "Bob's uuid is uuid; it is sunny."),
        ("assistant", None, None),
        ("tool", "call_3", "rain"),
    ]
    # A call of the caller's without its output, or an output without its call, is refused
    for wrong in ([("call_3", "rain")], [*outputs, ("call_9", "x")]):
        with pytest.raises(InvalidRequest, match="No tool"):
            service.create_response(
                messages=history, outputs=wrong, instructions="", options=RunOptions()
            )
    # And so is a call id given twice (the model could not tell their outputs apart)
    with pytest.raises(InvalidRequest, match="same call id"):
        service.create_response(
            messages=[*history, history[2]], outputs=outputs, instructions="", options=RunOptions()
        )


def test_messages_page_and_filter_by_run(service: ConversationCore, store: MemoryRunStore) -> None:
    run = create(service)
    answer = store.list_messages(run.thread_id, Page(limit=1)).pop()
    store.put_message(answer.model_copy(update={"run_id": run.id}))

    first = service.list_messages(run.thread_id, Page(limit=2))
    rest = service.list_messages(run.thread_id, Page(limit=2, after=first.data[-1].id))
    by_run = service.list_messages(run.thread_id, Page(), run_id=run.id)

    assert [m.text for m in first.data] == ["who?", "a player"]
    assert first.has_more
    assert ([m.text for m in rest.data], rest.has_more) == (["who is bob?"], False)
    assert [m.id for m in by_run.data] == [answer.id]


def test_the_built_in_assistant_exists_and_cannot_change(service: ConversationCore) -> None:
    assert service.assistant(ASSISTANT_ID).id == ASSISTANT_ID
    with pytest.raises(InvalidRequest, match="cannot be modified"):
        service.modify_assistant(ASSISTANT_ID, name="mine")
    with pytest.raises(InvalidRequest, match="cannot be deleted"):
        service.delete_assistant(ASSISTANT_ID)


def test_assistants_are_created_modified_and_deleted(service: ConversationCore) -> None:
    made = service.create_assistant(name="daniels assistant", instructions="hi", tools=[OWN_TOOL])

    changed = service.modify_assistant(made.id, instructions="hello", metadata={"k": "v"})

    assert (changed.name, changed.instructions, changed.metadata) == (
        "daniels assistant",
        "hello",
        {"k": "v"},
    )
    assert service.assistant(made.id) == changed
    assert [a.id for a in service.list_assistants(Page()).data] == [made.id]
    service.delete_assistant(made.id)
    with pytest.raises(NotFound, match=re.escape(f"No assistant found with id '{made.id}'.")):
        service.assistant(made.id)


@pytest.mark.parametrize("kind", ["assistant", "thread", "message", "run", "step"])
def test_unknown_ids_are_not_found(service: ConversationCore, kind: str) -> None:
    run = create(service)
    thread_id = run.thread_id
    reads: dict[str, Callable[[], object]] = {
        "assistant": lambda: service.assistant("asst_" + "y" * 24),
        "thread": lambda: service.thread(run.id),
        "message": lambda: service.message(thread_id, "msg_" + "y" * 24),
        "run": lambda: service.run(thread_id, "run_" + "y" * 25),
        "step": lambda: service.step(thread_id, run.id, "step_" + "y" * 24),
    }
    with pytest.raises(NotFound, match=f"No {kind} found with id"):
        reads[kind]()


def test_a_run_on_another_thread_is_not_found(service: ConversationCore) -> None:
    run = create(service)
    other = create(service)
    with pytest.raises(NotFound, match="No run found"):
        service.run(other.thread_id, run.id)


def test_get_reads_the_run_once_while_it_is_within_its_time(
    service: ConversationCore, store: MemoryRunStore, workflow: MemoryWorkflow
) -> None:
    run = create(service)
    store.reads.clear()

    assert service.run(run.thread_id, run.id) == run
    assert store.reads == [(run.id, False)]
    assert workflow.described == []


# How an open run past its time ends, by the status of its execution (None: it never started).
RECONCILED: dict[ExecutionStatusType | None, tuple[RunStatus, str | None]] = {
    "RUNNING": (RunStatus.IN_PROGRESS, None),
    "PENDING_REDRIVE": (RunStatus.IN_PROGRESS, None),
    "ABORTED": (RunStatus.FAILED, "the run's workflow was stopped"),
    "TIMED_OUT": (RunStatus.EXPIRED, None),
    "FAILED": (RunStatus.FAILED, "the run's workflow failed"),
    "SUCCEEDED": (RunStatus.FAILED, "the run's workflow ended without an outcome"),
    None: (RunStatus.FAILED, "the run's workflow never started"),
}


def test_every_execution_status_has_a_reconciliation() -> None:
    assert set(RECONCILED) == {*get_args(ExecutionStatusType), None}


@pytest.mark.parametrize(("execution", "expected"), RECONCILED.items())
def test_an_open_run_past_its_time_is_reconciled_with_its_execution(
    service: ConversationCore,
    store: MemoryRunStore,
    workflow: MemoryWorkflow,
    clock: FakeClock,
    execution: ExecutionStatusType | None,
    expected: tuple[RunStatus, str | None],
) -> None:
    # Given an in-progress run whose execution is in that status
    run = in_progress(store, create(service))
    if execution is None:
        del workflow.executions[run.id]
    else:
        workflow.executions[run.id] = execution
    # When it is read once no live workflow could still be ending it
    clock.now = NOW + EXPIRES_SECONDS + STEP_GRACE_SECONDS

    read = service.run(run.thread_id, run.id)

    # Then it ends as the execution says, or stays with a workflow that still runs
    status, message = expected
    assert workflow.described == [run.id]
    assert read.status is status
    assert read.last_error == (
        None if message is None else RunError(code="server_error", message=message)
    )
    assert store.get_run(run.thread_id, run.id) == read


def test_an_ended_run_is_never_reconciled(
    service: ConversationCore, store: MemoryRunStore, workflow: MemoryWorkflow, clock: FakeClock
) -> None:
    run = create(service)
    ended = run.finished(RunStatus.COMPLETED, NOW)
    assert ended is not None
    store.put_run(ended)
    workflow.executions[run.id] = "FAILED"
    clock.now = NOW + 10 * EXPIRES_SECONDS

    assert service.run(run.thread_id, run.id) == ended
    assert workflow.described == []


def test_cancelling_stops_the_execution_and_the_next_read_ends_the_run(
    service: ConversationCore, store: MemoryRunStore, workflow: MemoryWorkflow, clock: FakeClock
) -> None:
    run = in_progress(store, create(service))

    cancelling = service.cancel(run.thread_id, run.id)

    assert cancelling.status is RunStatus.CANCELLING
    assert workflow.stops == [(run.id, "RunCancelled", "the client cancelled the run")]
    # A cancelling run is reconciled on every read: its execution has stopped
    clock.now = NOW + 5
    cancelled = service.run(run.thread_id, run.id)
    assert (cancelled.status, cancelled.cancelled_at) == (RunStatus.CANCELLED, NOW + 5)
    # And cancelling again is no error, and stops nothing more
    assert service.cancel(run.thread_id, run.id).status is RunStatus.CANCELLED
    assert len(workflow.stops) == 1


def test_a_cancelling_run_whose_execution_still_runs_stays_cancelling(
    service: ConversationCore, store: MemoryRunStore, workflow: MemoryWorkflow
) -> None:
    run = in_progress(store, create(service))
    workflow.stop_error = RuntimeError("throttled")

    # The stop fails: the workflow's next step will see `cancelling` and end the run
    assert service.cancel(run.thread_id, run.id).status is RunStatus.CANCELLING
    assert workflow.executions[run.id] == "RUNNING"
    assert service.run(run.thread_id, run.id).status is RunStatus.CANCELLING


def test_cancelling_a_run_whose_execution_never_started_ends_it_on_the_next_read(
    service: ConversationCore, workflow: MemoryWorkflow
) -> None:
    run = create(service)
    del workflow.executions[run.id]

    assert service.cancel(run.thread_id, run.id).status is RunStatus.CANCELLING
    assert workflow.stops == []
    assert service.run(run.thread_id, run.id).status is RunStatus.CANCELLED


def test_cancelling_an_ended_run_is_refused(
    service: ConversationCore, store: MemoryRunStore, workflow: MemoryWorkflow
) -> None:
    run = create(service)
    ended = run.finished(RunStatus.COMPLETED, NOW)
    assert ended is not None
    store.put_run(ended)

    with pytest.raises(
        CannotCancel, match=re.escape("Cannot cancel run with status 'completed'.")
    ) as caught:
        service.cancel(run.thread_id, run.id)
    assert caught.value.status is RunStatus.COMPLETED
    assert workflow.stops == []


def test_cancelling_a_waiting_run_lets_its_workflow_go_on_to_end_it(
    service: ConversationCore, store: MemoryRunStore, workflow: MemoryWorkflow
) -> None:
    run = requiring_action(store, workflow, create(service), "call_1")

    cancelling = service.cancel(run.thread_id, run.id)

    # Not stopped (a waiting execution would not notice): released, to end the run itself
    assert (cancelling.status, cancelling.task_token) == (RunStatus.CANCELLING, None)
    assert workflow.resumed == ["token-1"]
    assert workflow.stops == []


def test_a_run_waiting_past_its_expiry_ends_expired_and_releases_its_workflow(
    service: ConversationCore, store: MemoryRunStore, workflow: MemoryWorkflow, clock: FakeClock
) -> None:
    run = requiring_action(store, workflow, create(service), "call_1")
    clock.now = NOW + EXPIRES_SECONDS

    expired = service.run(run.thread_id, run.id)

    assert (expired.status, expired.expires_at) == (RunStatus.EXPIRED, NOW + EXPIRES_SECONDS)
    assert workflow.resumed == ["token-1"]
    with pytest.raises(InvalidRequest, match='status "expired" do not accept tool outputs'):
        service.submit_tool_outputs(run.thread_id, run.id, [("call_1", "x")])


def test_submitted_outputs_land_on_the_step_and_resume_the_run(
    service: ConversationCore, store: MemoryRunStore, workflow: MemoryWorkflow
) -> None:
    run = requiring_action(store, workflow, create(service), "call_1", "call_2")

    resumed = service.submit_tool_outputs(run.thread_id, run.id, [("call_2", "b"), ("call_1", "a")])

    assert (resumed.status, resumed.task_token, resumed.client_calls) == (
        RunStatus.QUEUED,
        None,
        [],
    )
    assert workflow.resumed == ["token-1"]
    assert run.step_id is not None
    step, _ = service.step(run.thread_id, run.id, run.step_id)
    assert step.outputs == {"call_1": "a", "call_2": "b"}
    assert step.answered


@pytest.mark.parametrize(
    ("outputs", "message", "param"),
    [
        ([("call_1", "a")], "missing: call_2", "tool_outputs"),
        (
            [("call_1", "a"), ("call_9", "b")],
            "No tool call found with id 'call_9'",
            "tool_outputs[1].tool_call_id",
        ),
        (
            [("call_1", "a"), ("call_1", "b")],
            "Duplicate output for tool call 'call_1'",
            "tool_outputs[1].tool_call_id",
        ),
        (
            [("call_1", "a" * (MAX_OUTPUT_CHARS + 1)), ("call_2", "b")],
            f"at most {MAX_OUTPUT_CHARS} characters",
            "tool_outputs[0].output",
        ),
    ],
)
def test_outputs_must_answer_each_waiting_call_once_within_the_limit(
    service: ConversationCore,
    store: MemoryRunStore,
    workflow: MemoryWorkflow,
    outputs: list[tuple[str, str]],
    message: str,
    param: str,
) -> None:
    run = requiring_action(store, workflow, create(service), "call_1", "call_2")

    with pytest.raises(InvalidRequest, match=re.escape(message)) as caught:
        service.submit_tool_outputs(run.thread_id, run.id, outputs)

    # Nothing was written, and the run still waits
    assert caught.value.param == param
    assert service.run(run.thread_id, run.id).status is RunStatus.REQUIRES_ACTION
    assert workflow.resumed == []
    assert run.step_id is not None
    assert service.step(run.thread_id, run.id, run.step_id)[0].outputs == {}


def test_outputs_for_a_run_that_does_not_wait_are_refused(
    service: ConversationCore, store: MemoryRunStore
) -> None:
    run = in_progress(store, create(service))
    with pytest.raises(InvalidRequest, match='status "in_progress" do not accept tool outputs'):
        service.submit_tool_outputs(run.thread_id, run.id, [("call_1", "a")])


def test_outputs_that_come_after_the_wait_timed_out_expire_the_run(
    service: ConversationCore, store: MemoryRunStore, workflow: MemoryWorkflow
) -> None:
    run = requiring_action(store, workflow, create(service), "call_1")
    workflow.waiting.clear()  # the wait timed out in the workflow

    assert service.submit_tool_outputs(run.thread_id, run.id, [("call_1", "a")]).status is (
        RunStatus.EXPIRED
    )


def test_a_deleted_thread_cancels_its_active_run_and_is_gone(
    service: ConversationCore, workflow: MemoryWorkflow
) -> None:
    run = create(service)

    service.delete_thread(run.thread_id)

    assert workflow.stops[0][0] == run.id
    with pytest.raises(NotFound):
        service.thread(run.thread_id)


def test_a_transition_that_loses_a_race_reads_again(
    service: ConversationCore, store: MemoryRunStore
) -> None:
    # Given a run that another writer changes once while the cancel is written
    run = create(service)
    store.conflicts = 1

    cancelling = service.cancel(run.thread_id, run.id)

    # Then the cancel is written over the other writer's version
    assert cancelling.status is RunStatus.CANCELLING
    assert cancelling.version == run.version + 2
    assert store.get_run(run.thread_id, run.id) == cancelling


def test_a_record_that_keeps_changing_is_a_conflict(
    service: ConversationCore, store: MemoryRunStore
) -> None:
    run = create(service)
    store.conflicts = 5
    with pytest.raises(RunConflict, match="kept changing"):
        service.cancel(run.thread_id, run.id)
    assert store.get_run(run.thread_id, run.id).status is RunStatus.QUEUED  # type: ignore[union-attr]
