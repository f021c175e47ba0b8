"""The runs service with in-memory adapters: creating, reading (and reconciling), cancelling
runs, and listing a thread's messages, without AWS."""

from __future__ import annotations

import re
from typing import get_args

import pytest
from mypy_boto3_stepfunctions.literals import ExecutionStatusType

from mojang_chat.core.statuses import RunStatus
from mojang_chat.runs.errors import CannotCancel, RunConflict, RunNotFound
from mojang_chat.runs.records import LastError, RunRecord, is_id
from mojang_chat.runs.service import Runs
from mojang_chat.runs.workflow import STEP_GRACE_SECONDS
from tests.fakes.runs import MemoryRunStore, MemoryWorkflow
from tests.helpers import FakeClock
from tests.unit.runs.helpers import EXPIRES_SECONDS, NOW

RETENTION_SECONDS = 86_400
CONVERSATION = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "who?"}]


@pytest.fixture
def runs(store: MemoryRunStore, workflow: MemoryWorkflow, clock: FakeClock) -> Runs:
    return Runs(
        store,
        workflow,
        model="gpt-test",
        instructions="be brief",
        tools=[{"type": "function", "function": {"name": "lookup"}}],
        expires_seconds=EXPIRES_SECONDS,
        retention_seconds=RETENTION_SECONDS,
        clock=clock,
    )


def create(runs: Runs) -> RunRecord:
    return runs.create_thread_and_run(
        [
            ("user", "who is bob?", {"page": "faq"}),
            ("assistant", "a player", {}),
            ("user", "who?", {}),
        ],
        list(CONVERSATION),
        thread_metadata={"t": "1"},
        run_metadata={"r": "2"},
    )


def in_progress(store: MemoryRunStore, run: RunRecord) -> RunRecord:
    """The run as the workflow's first step leaves it."""
    started = run.started(NOW)
    assert started is not None
    store.put_run(started)
    return started


def test_creating_writes_the_thread_and_a_queued_run_and_starts_its_workflow(
    runs: Runs, store: MemoryRunStore, workflow: MemoryWorkflow
) -> None:
    run = create(runs)

    assert run.status is RunStatus.QUEUED
    assert is_id("run", run.id)
    assert is_id("thread", run.thread_id)
    assert (run.model, run.instructions, run.metadata) == ("gpt-test", "be brief", {"r": "2"})
    assert run.tools == [{"type": "function", "function": {"name": "lookup"}}]
    assert (run.created_at, run.expires_at, run.ttl) == (
        NOW,
        NOW + EXPIRES_SECONDS,
        NOW + RETENTION_SECONDS,
    )
    assert store.get_run(run.id) == run
    thread = store.get_thread(run.thread_id)
    assert thread is not None
    assert (thread.run_id, thread.metadata, thread.conversation) == (
        run.id,
        {"t": "1"},
        CONVERSATION,
    )
    assert [(m.role, m.text, m.metadata) for m in thread.messages] == [
        ("user", "who is bob?", {"page": "faq"}),
        ("assistant", "a player", {}),
        ("user", "who?", {}),
    ]
    assert all(is_id("msg", m.id) and m.thread_id == thread.id for m in thread.messages)
    assert workflow.executions == {run.id: "RUNNING"}
    assert workflow.inputs[run.id] == {"run_id": run.id, "thread_id": run.thread_id}


def test_a_run_whose_workflow_cannot_start_fails_at_once(
    runs: Runs, store: MemoryRunStore, workflow: MemoryWorkflow
) -> None:
    workflow.start_error = RuntimeError("no Step Functions today")

    run = create(runs)

    assert run.status is RunStatus.FAILED
    assert run.failed_at == NOW
    assert run.last_error == LastError(code="server_error", message="the run could not be started")
    assert store.get_run(run.id) == run


def test_get_reads_the_run_once_while_it_is_within_its_time(
    runs: Runs, store: MemoryRunStore, workflow: MemoryWorkflow, clock: FakeClock
) -> None:
    run = in_progress(store, create(runs))
    workflow.executions[run.id] = "ABORTED"
    clock.now = NOW + EXPIRES_SECONDS + STEP_GRACE_SECONDS - 1
    store.reads.clear()

    assert runs.get(run.thread_id, run.id) == run
    # One eventually consistent read, and the workflow is not asked
    assert store.reads == [(run.id, False)]
    assert workflow.described == []


@pytest.mark.parametrize(
    "run_id", ["nope", "run_" + "x" * 23, "thread_" + "x" * 24, "run_" + "x" * 24]
)
def test_an_unknown_run_is_not_found(runs: Runs, store: MemoryRunStore, run_id: str) -> None:
    run = create(runs)
    store.reads.clear()
    with pytest.raises(RunNotFound, match=re.escape(f"No run found with id '{run_id}'.")) as caught:
        runs.get(run.thread_id, run_id)
    assert (caught.value.kind, caught.value.item_id) == ("run", run_id)
    # An id of the wrong shape never reaches the store
    assert len(store.reads) == (1 if is_id("run", run_id) else 0)


def test_a_run_on_another_thread_is_not_found(runs: Runs) -> None:
    run = create(runs)
    other = create(runs)
    with pytest.raises(RunNotFound):
        runs.get(other.thread_id, run.id)
    with pytest.raises(RunNotFound):
        runs.cancel(other.thread_id, run.id)


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
    runs: Runs,
    store: MemoryRunStore,
    workflow: MemoryWorkflow,
    clock: FakeClock,
    execution: ExecutionStatusType | None,
    expected: tuple[RunStatus, str | None],
) -> None:
    # Given an in-progress run whose execution is in that status
    run = in_progress(store, create(runs))
    if execution is None:
        del workflow.executions[run.id]
    else:
        workflow.executions[run.id] = execution
    # When it is read once no live workflow could still be ending it
    clock.now = NOW + EXPIRES_SECONDS + STEP_GRACE_SECONDS

    read = runs.get(run.thread_id, run.id)

    # Then it ends as the execution says, or stays with a workflow that still runs
    status, message = expected
    assert workflow.described == [run.id]
    assert read.status is status
    assert read.last_error == (
        None if message is None else LastError(code="server_error", message=message)
    )
    assert store.get_run(run.id) == read


def test_an_ended_run_is_never_reconciled(
    runs: Runs, store: MemoryRunStore, workflow: MemoryWorkflow, clock: FakeClock
) -> None:
    run = create(runs)
    ended = run.finished(RunStatus.COMPLETED, NOW)
    assert ended is not None
    store.put_run(ended)
    workflow.executions[run.id] = "FAILED"
    clock.now = NOW + 10 * EXPIRES_SECONDS

    assert runs.get(run.thread_id, run.id) == ended
    assert workflow.described == []


def test_cancelling_stops_the_execution_and_the_next_read_ends_the_run(
    runs: Runs, store: MemoryRunStore, workflow: MemoryWorkflow, clock: FakeClock
) -> None:
    run = in_progress(store, create(runs))

    cancelling = runs.cancel(run.thread_id, run.id)

    assert cancelling.status is RunStatus.CANCELLING
    assert workflow.stops == [(run.id, "RunCancelled", "the client cancelled the run")]
    # A cancelling run is reconciled on every read: its execution has stopped
    clock.now = NOW + 5
    cancelled = runs.get(run.thread_id, run.id)
    assert (cancelled.status, cancelled.cancelled_at) == (RunStatus.CANCELLED, NOW + 5)
    # And cancelling again is no error, and stops nothing more
    assert runs.cancel(run.thread_id, run.id).status is RunStatus.CANCELLED
    assert len(workflow.stops) == 1


def test_a_cancelling_run_whose_execution_still_runs_stays_cancelling(
    runs: Runs, store: MemoryRunStore, workflow: MemoryWorkflow
) -> None:
    run = in_progress(store, create(runs))
    workflow.stop_error = RuntimeError("throttled")

    # The stop fails: the workflow's next step will see `cancelling` and end the run
    assert runs.cancel(run.thread_id, run.id).status is RunStatus.CANCELLING
    assert workflow.executions[run.id] == "RUNNING"
    assert runs.get(run.thread_id, run.id).status is RunStatus.CANCELLING
    assert runs.cancel(run.thread_id, run.id).status is RunStatus.CANCELLING


def test_cancelling_a_run_whose_execution_never_started_ends_it_on_the_next_read(
    runs: Runs, store: MemoryRunStore, workflow: MemoryWorkflow
) -> None:
    run = create(runs)
    del workflow.executions[run.id]

    assert runs.cancel(run.thread_id, run.id).status is RunStatus.CANCELLING
    assert workflow.stops == []
    assert runs.get(run.thread_id, run.id).status is RunStatus.CANCELLED


def test_cancelling_an_ended_run_is_refused(
    runs: Runs, store: MemoryRunStore, workflow: MemoryWorkflow
) -> None:
    run = create(runs)
    ended = run.finished(RunStatus.COMPLETED, NOW)
    assert ended is not None
    store.put_run(ended)

    with pytest.raises(
        CannotCancel, match=re.escape("Cannot cancel run with status 'completed'.")
    ) as caught:
        runs.cancel(run.thread_id, run.id)
    assert caught.value.status is RunStatus.COMPLETED
    assert workflow.stops == []


def test_a_transition_that_loses_a_race_reads_again(runs: Runs, store: MemoryRunStore) -> None:
    # Given a run that another writer changes once while the cancel is written
    run = create(runs)
    store.conflicts = 1

    cancelling = runs.cancel(run.thread_id, run.id)

    # Then the cancel is written over the other writer's version
    assert cancelling.status is RunStatus.CANCELLING
    assert cancelling.version == run.version + 2
    assert store.get_run(run.id) == cancelling


def test_a_record_that_keeps_changing_is_a_conflict(runs: Runs, store: MemoryRunStore) -> None:
    run = create(runs)
    store.conflicts = 5
    with pytest.raises(RunConflict, match="kept changing"):
        runs.cancel(run.thread_id, run.id)
    assert store.get_run(run.id).status is RunStatus.QUEUED  # type: ignore[union-attr]


def test_messages_are_the_threads_read_strongly(runs: Runs, store: MemoryRunStore) -> None:
    run = create(runs)
    store.reads.clear()

    messages = runs.messages(run.thread_id)

    assert [m.text for m in messages] == ["who is bob?", "a player", "who?"]
    assert store.reads == [(run.thread_id, True)]


def test_the_messages_of_an_unknown_thread_are_not_found(runs: Runs) -> None:
    run = create(runs)
    for thread_id in (run.id, "thread_" + "y" * 24, "thread_" + "y" * 25):
        with pytest.raises(RunNotFound, match=re.escape(f"No thread found with id '{thread_id}'.")):
            runs.messages(thread_id)
