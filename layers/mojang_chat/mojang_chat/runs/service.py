"""The service behind the runs endpoints: create a thread and its run, read a run (reconciled
with its execution when the workflow should have ended it), cancel it, list a thread's
messages. The store and the workflow come in as adapters; this module knows neither AWS nor
any API's shapes."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from mojang_chat.core.observability import logger
from mojang_chat.core.statuses import RunStatus
from mojang_chat.runs.errors import CannotCancel, RunNotFound
from mojang_chat.runs.records import (
    ASSISTANT_ID,
    Clock,
    LastError,
    MessageRecord,
    RunRecord,
    ThreadRecord,
    is_id,
    new_id,
)
from mojang_chat.runs.store import RunStore, transition
from mojang_chat.runs.workflow import STEP_GRACE_SECONDS, Workflow

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.literals import ExecutionStatusType

# How a run whose execution ended without recording an end is ended, by execution status.
_ENDED_EXECUTIONS: Mapping[ExecutionStatusType | None, tuple[RunStatus, str]] = {
    "ABORTED": (RunStatus.FAILED, "the run's workflow was stopped"),
    "TIMED_OUT": (RunStatus.EXPIRED, ""),
    "FAILED": (RunStatus.FAILED, "the run's workflow failed"),
    "SUCCEEDED": (RunStatus.FAILED, "the run's workflow ended without an outcome"),
    None: (RunStatus.FAILED, "the run's workflow never started"),
}


def needs_reconciling(run: RunRecord, now: float) -> bool:
    """True when the workflow should have ended this open run by now, or a client is
    cancelling it; every other read is the one ``GetItem`` alone."""
    if run.status.terminal:
        return False
    if run.status is RunStatus.CANCELLING:
        return True
    due = run.expires_at if run.expires_at is not None else run.created_at
    return now >= due + STEP_GRACE_SECONDS


def reconcile(run: RunRecord, store: RunStore, workflow: Workflow, now: float) -> RunRecord:
    """End an open run whose execution has ended (aborted, timed out, failed outside a
    ``Catch``, or stopped by a cancel), from the execution's status; a run whose execution
    still runs is left to it."""
    if not needs_reconciling(run, now):
        return run
    status = workflow.describe(run.id)
    if status in ("RUNNING", "PENDING_REDRIVE"):
        return run
    ending, message = _ENDED_EXECUTIONS.get(status, _ENDED_EXECUTIONS["FAILED"])
    error = LastError(code="server_error", message=message) if message else None
    logger.warning(
        "run reconciled with its execution",
        extra={"run_id": run.id, "execution_status": status, "run_status": run.status.value},
    )
    return transition(store, run.id, lambda r: r.finished(ending, int(now), last_error=error))


class Runs:
    """Create, read and cancel runs; list a thread's messages. The adapters come in."""

    def __init__(
        self,
        store: RunStore,
        workflow: Workflow,
        *,
        model: str,
        instructions: str,
        tools: Sequence[dict[str, Any]],
        expires_seconds: int,
        retention_seconds: int,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self._workflow = workflow
        self._model = model
        self._instructions = instructions
        self._tools = [dict(tool) for tool in tools]
        self._expires_seconds = expires_seconds
        self._retention_seconds = retention_seconds
        self._clock = clock

    def create_thread_and_run(
        self,
        messages: Sequence[tuple[Literal["user", "assistant"], str, dict[str, str]]],
        conversation: list[dict[str, Any]],
        *,
        thread_metadata: dict[str, str],
        run_metadata: dict[str, str],
        client: str | None = None,
    ) -> RunRecord:
        """A new thread holding ``messages`` (role, text, metadata) and a queued run on it,
        whose workflow has been started. ``conversation`` is what the model is sent;
        ``client`` is whom the cost guard counts the run's tokens against."""
        now = int(self._clock())
        thread_id, run_id = new_id("thread"), new_id("run")
        ttl = now + self._retention_seconds
        thread = ThreadRecord(
            id=thread_id,
            created_at=now,
            run_id=run_id,
            metadata=thread_metadata,
            messages=[
                MessageRecord(
                    id=new_id("msg"),
                    thread_id=thread_id,
                    created_at=now,
                    role=role,
                    text=text,
                    metadata=metadata,
                )
                for role, text, metadata in messages
            ],
            conversation=conversation,
            ttl=ttl,
        )
        run = RunRecord(
            id=run_id,
            thread_id=thread_id,
            assistant_id=ASSISTANT_ID,
            created_at=now,
            status=RunStatus.QUEUED,
            model=self._model,
            instructions=self._instructions,
            tools=self._tools,
            metadata=run_metadata,
            expires_at=now + self._expires_seconds,
            client=client,
            ttl=ttl,
        )
        self.store.create(thread, run)
        try:
            self._workflow.start(run_id, thread_id)
        except Exception:
            logger.exception("could not start the run's workflow", extra={"run_id": run_id})
            error = LastError(code="server_error", message="the run could not be started")
            return transition(
                self.store, run_id, lambda r: r.finished(RunStatus.FAILED, now, last_error=error)
            )
        return run

    def get(self, thread_id: str, run_id: str) -> RunRecord:
        """The run as it stands (reconciled with its execution when it should have ended)."""
        run = self.store.get_run(run_id) if is_id("run", run_id) else None
        if run is None or run.thread_id != thread_id:
            raise RunNotFound("run", run_id)
        return reconcile(run, self.store, self._workflow, self._clock())

    def cancel(self, thread_id: str, run_id: str) -> RunRecord:
        """Ask the run to stop: ``cancelling`` now, ``cancelled`` once its execution has
        stopped. Cancelling a cancelling or cancelled run again is no error."""
        self.get(thread_id, run_id)
        run = transition(self.store, run_id, lambda r: r.cancel_requested())
        if run.status is RunStatus.CANCELLED:
            return run
        if run.status.terminal:
            raise CannotCancel(run.status)
        try:
            # An execution that never started stops nothing: the next read ends the run.
            self._workflow.stop(run_id, "RunCancelled", "the client cancelled the run")
        except Exception:
            # The workflow's next step sees `cancelling` and ends the run itself.
            logger.exception("could not stop the run's workflow", extra={"run_id": run_id})
        return run

    def messages(self, thread_id: str) -> list[MessageRecord]:
        """The thread's messages, oldest first (a strong read: a client asks right after the
        run ended, and an eventually consistent read could still miss the answer)."""
        thread = (
            self.store.get_thread(thread_id, consistent=True)
            if is_id("thread", thread_id)
            else None
        )
        if thread is None:
            raise RunNotFound("thread", thread_id)
        return thread.messages
