"""A run's record reconciled with its execution: the workflow ends every run it runs, but an
execution that was stopped, timed out or failed outside a ``Catch`` ends without writing so,
and a run that waits for the caller past its ``expires_at`` has nobody left to end it. A read
of such a run ends it here, from the execution's status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mojang_chat.core.observability import logger
from mojang_chat.core.statuses import RunStatus
from mojang_chat.runs.records import RunError, RunRecord
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
    """True when the workflow should have ended this open run by now, a client is cancelling
    it, or it waits for the caller past its ``expires_at``; every other read is the one
    ``GetItem`` alone."""
    if run.status.terminal:
        return False
    if run.status is RunStatus.CANCELLING:
        return True
    due = run.expires_at if run.expires_at is not None else run.created_at
    if run.status is RunStatus.REQUIRES_ACTION:
        return now >= due
    return now >= due + STEP_GRACE_SECONDS


def reconcile(run: RunRecord, store: RunStore, workflow: Workflow, now: float) -> RunRecord:
    """End an open run whose execution has ended (aborted, timed out, failed outside a
    ``Catch``, or stopped by a cancel), from the execution's status; a run whose execution
    still runs is left to it, unless it waits for the caller past its ``expires_at``: then it
    ends ``expired`` and its execution is stopped."""
    if not needs_reconciling(run, now):
        return run
    if run.status is RunStatus.REQUIRES_ACTION:
        expired = transition(
            store, run.thread_id, run.id, lambda r: r.finished(RunStatus.EXPIRED, int(now))
        )
        release(workflow, run)
        return expired
    status = workflow.describe(run.id)
    if status in ("RUNNING", "PENDING_REDRIVE"):
        return run
    ending, message = _ENDED_EXECUTIONS.get(status, _ENDED_EXECUTIONS["FAILED"])
    error = RunError(code="server_error", message=message) if message else None
    logger.warning(
        "run reconciled with its execution",
        extra={"run_id": run.id, "execution_status": status, "run_status": run.status.value},
    )
    return transition(
        store, run.thread_id, run.id, lambda r: r.finished(ending, int(now), last_error=error)
    )


def release(workflow: Workflow, waiting: RunRecord) -> None:
    """Let the execution of a run that waited for the caller go on, now that the run no longer
    waits: its model step finds the run ended (or cancelling) and ends the execution as the
    run says. (Stopping a waiting execution instead would leave the wait to time out.)"""
    if waiting.task_token is None:
        return
    try:
        workflow.resume(waiting.task_token)
    except Exception:
        # The wait times out at expires_at; its model step then ends the run.
        logger.exception("could not release the run's workflow", extra={"run_id": waiting.id})
