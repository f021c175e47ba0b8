"""The core's records: ids, and the pure transitions of a run's lifecycle."""

from __future__ import annotations

from typing import Any

import pytest

from mojang_chat.chat.types import Usage
from mojang_chat.core.statuses import RunStatus
from mojang_chat.runs.records import (
    FunctionCallRecord,
    RunError,
    RunRecord,
    ToolCallRecord,
    is_id,
    new_id,
    order_key,
)

LOOKUP = ToolCallRecord(id="call_1", function=FunctionCallRecord(name="lookup", arguments="{}"))
OWN = ToolCallRecord(id="call_2", function=FunctionCallRecord(name="callers", arguments="{}"))


def record(status: RunStatus = RunStatus.QUEUED, **fields: Any) -> RunRecord:
    return RunRecord(
        id="run_1",
        thread_id="thread_1",
        assistant_id="asst_default",
        created_at=100,
        status=status,
        model="gpt-test",
        instructions="be brief",
        tools=[],
        expires_at=700,
        ttl=9_999,
        **fields,
    )


def calling() -> RunRecord:
    """A run whose model asked for a server call and one of the caller's."""
    started = record().started(110)
    assert started is not None
    run = started.calling_tools("step_1", [LOOKUP], [OWN], Usage(1, 2, 3))
    assert run is not None
    return run


def waiting() -> RunRecord:
    run = calling().waiting("token")
    assert run is not None
    return run


def test_new_ids_have_openais_shape_and_is_id_knows_them() -> None:
    run_id = new_id("run")
    assert run_id.startswith("run_")
    assert len(run_id) == len("run_") + 24
    assert is_id("run", run_id)
    assert not is_id("thread", run_id)
    assert not is_id("run", run_id + "x")
    assert not is_id("run", "run_" + "-" * 24)
    assert new_id("msg") != new_id("msg")


def test_ids_sort_in_the_order_they_were_made_whatever_their_kind() -> None:
    made = [new_id("msg"), new_id("step"), new_id("run"), new_id("msg")]
    assert sorted(made, key=order_key) == made
    many = [new_id("step") for _ in range(500)]
    assert sorted(many) == many


def test_a_run_starts_from_queued_and_after_its_tools_only() -> None:
    started = record().started(110)
    assert started is not None
    assert (started.status, started.started_at) == (RunStatus.IN_PROGRESS, 110)
    # After a tool round it is in progress again, started when it first started
    again = calling().started(200)
    assert again is not None
    assert (again.status, again.started_at, again.server_calls) == (RunStatus.IN_PROGRESS, 110, [])
    for status in RunStatus:
        if status not in (RunStatus.QUEUED, RunStatus.IN_PROGRESS):
            assert record(status).started(110) is None, status


def test_a_tool_round_counts_and_keeps_the_calls_and_the_tokens() -> None:
    run = calling()
    assert run.status is RunStatus.IN_PROGRESS
    assert (run.step_id, run.server_calls, run.client_calls) == ("step_1", [LOOKUP], [OWN])
    assert run.rounds == 1
    assert run.tokens == Usage(1, 2, 3)
    assert record().calling_tools("step_1", [LOOKUP], [], Usage()) is None


def test_a_run_waits_for_the_callers_calls_with_the_workflows_token() -> None:
    run = waiting()
    assert (run.status, run.task_token, run.client_calls) == (
        RunStatus.REQUIRES_ACTION,
        "token",
        [OWN],
    )
    # Only a run in progress with calls of the caller's waits
    started = record().started(110)
    assert started is not None
    assert started.waiting("token") is None
    assert run.waiting("other") is None


def test_a_resumed_run_is_queued_and_waits_no_more() -> None:
    resumed = waiting().resumed()
    assert resumed is not None
    assert (resumed.status, resumed.task_token, resumed.client_calls) == (
        RunStatus.QUEUED,
        None,
        [],
    )
    assert calling().resumed() is None


def test_a_cancel_is_requested_of_an_open_run_only() -> None:
    cancelling = waiting().cancel_requested()
    assert cancelling is not None
    assert (cancelling.status, cancelling.client_calls) == (RunStatus.CANCELLING, [])
    assert cancelling.task_token is None
    assert cancelling.cancel_requested() is None
    assert record(RunStatus.COMPLETED).cancel_requested() is None


@pytest.mark.parametrize(
    ("status", "stamp"),
    [
        (RunStatus.COMPLETED, "completed_at"),
        (RunStatus.CANCELLED, "cancelled_at"),
        (RunStatus.FAILED, "failed_at"),
        (RunStatus.INCOMPLETE, None),
        (RunStatus.EXPIRED, None),
    ],
)
def test_each_ending_stamps_its_time_and_clears_the_calls(
    status: RunStatus, stamp: str | None
) -> None:
    ended = waiting().finished(status, 300, tokens=Usage(4, 5, 9))
    assert ended is not None
    assert ended.status is status
    assert (ended.server_calls, ended.client_calls, ended.task_token) == ([], [], None)
    assert ended.tokens == Usage(4, 5, 9)
    if stamp is not None:
        assert getattr(ended, stamp) == 300
    # An ended run can expire no more; an expired one keeps when it expired
    assert ended.expires_at == (700 if status is RunStatus.EXPIRED else None)


def test_an_ending_keeps_the_tokens_so_far_unless_told_more() -> None:
    ended = waiting().finished(RunStatus.COMPLETED, 300)
    assert ended is not None
    assert ended.tokens == Usage(1, 2, 3)


def test_a_failure_has_a_last_error_and_an_incomplete_end_its_reason() -> None:
    failed = record().finished(RunStatus.FAILED, 300)
    assert failed is not None
    assert failed.last_error == RunError(code="server_error", message="the run failed")
    error = RunError(code="rate_limit_exceeded", message="slow down")
    failed = record().finished(RunStatus.FAILED, 300, last_error=error)
    assert failed is not None
    assert failed.last_error == error
    incomplete = record().finished(RunStatus.INCOMPLETE, 300, incomplete_reason="max_tool_rounds")
    assert incomplete is not None
    assert incomplete.incomplete_reason == "max_tool_rounds"
    cut = record().finished(RunStatus.INCOMPLETE, 300)
    assert cut is not None
    assert cut.incomplete_reason == "max_completion_tokens"


@pytest.mark.parametrize(
    "ending", [s for s in RunStatus if s.terminal and s is not RunStatus.CANCELLED]
)
def test_whatever_ends_a_cancelling_run_ends_it_cancelled(ending: RunStatus) -> None:
    cancelling = waiting().cancel_requested()
    assert cancelling is not None
    ended = cancelling.finished(ending, 300, incomplete_reason="max_tool_rounds")
    assert ended is not None
    assert (ended.status, ended.cancelled_at) == (RunStatus.CANCELLED, 300)
    assert ended.last_error is None
    assert ended.incomplete_reason is None


def test_an_ended_run_never_ends_again_and_only_ends_in_a_terminal_status() -> None:
    ended = record().finished(RunStatus.COMPLETED, 300)
    assert ended is not None
    assert ended.finished(RunStatus.FAILED, 400) is None
    with pytest.raises(ValueError, match="not a terminal status"):
        record().finished(RunStatus.IN_PROGRESS, 300)
