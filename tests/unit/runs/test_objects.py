"""The Assistants front door's one mapping of the core's records (http/objects.py): every
status of a run, and every kind of message, as a valid object of OpenAI's schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import pytest

from mojang_chat.chat.types import Usage
from mojang_chat.core.statuses import RunStatus
from mojang_chat.http.objects import message_object, run_object
from mojang_chat.runs.records import (
    CalledFunction,
    LastError,
    MessageRecord,
    RunRecord,
    ToolCallRecord,
)
from tests.aws import schema_errors

CALL = ToolCallRecord(id="call_1", function=CalledFunction(name="lookup", arguments='{"a":1}'))


def queued(metadata: dict[str, str] | None = None) -> RunRecord:
    return RunRecord(
        id="run_1",
        thread_id="thread_1",
        assistant_id="asst_default",
        created_at=100,
        status=RunStatus.QUEUED,
        model="gpt-test",
        instructions="be brief",
        tools=[{"type": "function", "function": {"name": "lookup"}}],
        metadata=metadata or {"page": "faq"},
        expires_at=700,
        ttl=9_999,
    )


def then(run: RunRecord | None, change: Callable[[RunRecord], RunRecord | None]) -> RunRecord:
    assert run is not None
    changed = change(run)
    assert changed is not None
    return changed


def started(run: RunRecord) -> RunRecord:
    return then(run, lambda r: r.started(110))


def waiting(run: RunRecord) -> RunRecord:
    return then(started(run), lambda r: r.awaiting_tools([CALL], Usage(1, 2, 3)))


def ended(status: RunStatus, **fields: object) -> Callable[[RunRecord], RunRecord | None]:
    return lambda r: r.finished(status, 300, **fields)  # type: ignore[arg-type]


RUNS = {
    "queued": queued(),
    "in_progress": started(queued()),
    "requires_action": waiting(queued()),
    "cancelling": then(waiting(queued()), lambda r: r.cancel_requested()),
    "cancelled": then(waiting(queued()).cancel_requested(), ended(RunStatus.COMPLETED)),
    "completed": then(waiting(queued()), ended(RunStatus.COMPLETED, tokens=Usage(5, 6, 11))),
    "failed": then(queued(), ended(RunStatus.FAILED)),
    "expired": then(started(queued()), ended(RunStatus.EXPIRED)),
    "incomplete": then(
        waiting(queued()), ended(RunStatus.INCOMPLETE, incomplete_reason="max_tool_rounds")
    ),
}


@pytest.mark.parametrize("name", RUNS)
def test_every_status_shows_as_a_valid_run_object(name: str) -> None:
    body = run_object(RUNS[name]).model_dump(mode="json")
    assert schema_errors("RunObject", body) == []
    assert body["status"] == name
    assert body["object"] == "thread.run"
    assert (body["id"], body["thread_id"], body["assistant_id"]) == (
        "run_1",
        "thread_1",
        "asst_default",
    )


def test_only_a_run_requiring_action_shows_its_calls() -> None:
    body = run_object(RUNS["requires_action"]).model_dump(mode="json")
    assert body["required_action"] == {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"a":1}'},
                }
            ]
        },
    }
    for name, run in RUNS.items():
        if name != "requires_action":
            assert run_object(run).required_action is None, name


def test_usage_is_null_until_the_run_ends() -> None:
    for name, run in RUNS.items():
        usage = run_object(run).usage
        assert (usage is None) == (not run.status.terminal), name
    assert run_object(RUNS["completed"]).usage == Usage(5, 6, 11)


def test_a_failed_run_shows_its_last_error() -> None:
    assert run_object(RUNS["failed"]).model_dump(mode="json")["last_error"] == {
        "code": "server_error",
        "message": "the run failed",
    }
    error = LastError(code="rate_limit_exceeded", message="slow down")
    failed = then(queued(), ended(RunStatus.FAILED, last_error=error))
    assert run_object(failed).model_dump(mode="json")["last_error"] == error.model_dump()


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("max_completion_tokens", "max_completion_tokens"),
        ("max_total_tokens", "max_prompt_tokens"),
        ("max_tool_rounds", "max_prompt_tokens"),
    ],
)
def test_an_incomplete_run_shows_the_schemas_reason_and_keeps_ours_in_its_metadata(
    reason: str, shown: str
) -> None:
    run = then(started(queued()), ended(RunStatus.INCOMPLETE, incomplete_reason=reason))
    body = run_object(run).model_dump(mode="json")
    assert body["incomplete_details"] == {"reason": shown}
    assert body["metadata"] == {"page": "faq", "incomplete_reason": reason}
    assert schema_errors("RunObject", body) == []


def test_our_reason_takes_no_metadata_key_that_is_not_left() -> None:
    full = {f"k{i}": "v" for i in range(16)}
    run = then(
        started(queued(full)), ended(RunStatus.INCOMPLETE, incomplete_reason="max_tool_rounds")
    )
    assert run_object(run).metadata == full
    # ...but overwrites a key of its own name
    mine = {**{f"k{i}": "v" for i in range(15)}, "incomplete_reason": "mine"}
    run = then(
        started(queued(mine)), ended(RunStatus.INCOMPLETE, incomplete_reason="max_tool_rounds")
    )
    assert run_object(run).metadata == {**mine, "incomplete_reason": "max_tool_rounds"}
    # And a run that did not end incomplete shows its metadata as it is
    assert run_object(RUNS["completed"]).metadata == {"page": "faq"}


def test_an_ended_run_shows_no_expiry_unless_it_expired() -> None:
    assert run_object(RUNS["in_progress"]).expires_at == 700
    assert run_object(RUNS["completed"]).expires_at is None
    assert run_object(RUNS["expired"]).expires_at == 700


QUESTION = MessageRecord(
    id="msg_1", thread_id="thread_1", created_at=100, role="user", text="who?", metadata={"a": "b"}
)


def answer(status: Literal["completed", "incomplete"]) -> MessageRecord:
    return MessageRecord(
        id="msg_2",
        thread_id="thread_1",
        created_at=300,
        role="assistant",
        text="bob",
        status=status,
        completed_at=300 if status == "completed" else None,
        incomplete_at=300 if status == "incomplete" else None,
        assistant_id="asst_default",
        run_id="run_1",
    )


@pytest.mark.parametrize("message", [QUESTION, answer("completed"), answer("incomplete")])
def test_every_message_shows_as_a_valid_message_object(message: MessageRecord) -> None:
    body = message_object(message).model_dump(mode="json")
    assert schema_errors("MessageObject", body) == []
    assert body["object"] == "thread.message"
    assert body["content"] == [{"type": "text", "text": {"value": message.text, "annotations": []}}]
    assert body["attachments"] == []
    for field in (
        "id",
        "thread_id",
        "created_at",
        "role",
        "status",
        "completed_at",
        "incomplete_at",
        "assistant_id",
        "run_id",
        "metadata",
    ):
        assert body[field] == getattr(message, field), field


def test_only_an_incomplete_answer_has_incomplete_details() -> None:
    assert message_object(answer("incomplete")).model_dump(mode="json")["incomplete_details"] == {
        "reason": "max_tokens"
    }
    assert message_object(answer("completed")).incomplete_details is None
    assert message_object(QUESTION).incomplete_details is None
