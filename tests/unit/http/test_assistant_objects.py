"""The Assistants front door's one mapping of the core's records (http/assistants/objects.py): every
status of a run, every kind of message, every step in every state of its run, assistants,
threads and lists, each a valid object of OpenAI's schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import pytest

from mojang_chat.chat.types import Usage
from mojang_chat.core.statuses import RunStatus
from mojang_chat.http.assistants.objects import (
    assistant_object,
    message_object,
    run_object,
    step_object,
    thread_object,
)
from mojang_chat.http.listing import list_object
from mojang_chat.runs.records import (
    DEFAULT_ASSISTANT,
    AssistantRecord,
    FunctionCallRecord,
    MessageRecord,
    RunError,
    RunRecord,
    StepCall,
    StepRecord,
    ThreadRecord,
    ToolCallRecord,
)
from tests.aws import schema_errors

CALL = ToolCallRecord(id="call_1", function=FunctionCallRecord(name="lookup", arguments='{"a":1}'))
SERVER_CALL = ToolCallRecord(
    id="call_2", function=FunctionCallRecord(name="get_uuid_from_username", arguments="{}")
)
TTL = 9_999


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
        ttl=TTL,
    )


def then(run: RunRecord | None, change: Callable[[RunRecord], RunRecord | None]) -> RunRecord:
    assert run is not None
    changed = change(run)
    assert changed is not None
    return changed


def started(run: RunRecord) -> RunRecord:
    return then(run, lambda r: r.started(110))


def calling(run: RunRecord) -> RunRecord:
    return then(
        started(run), lambda r: r.calling_tools("step_1", [SERVER_CALL], [CALL], Usage(1, 2, 3))
    )


def waiting(run: RunRecord) -> RunRecord:
    return then(calling(run), lambda r: r.waiting("token"))


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
    # The server's calls of the same round are not the caller's to answer
    assert SERVER_CALL.id not in str(body)


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
    error = RunError(code="rate_limit_exceeded", message="slow down")
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
    id="msg_1",
    thread_id="thread_1",
    created_at=100,
    role="user",
    text="who?",
    metadata={"a": "b"},
    ttl=TTL,
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
        ttl=TTL,
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


def test_a_runs_options_are_echoed() -> None:
    run = queued().model_copy(
        update={
            "tool_choice": {"type": "function", "function": {"name": "lookup"}},
            "parallel_tool_calls": False,
            "max_prompt_tokens": 1000,
            "max_completion_tokens": 500,
            "last_messages": 3,
        }
    )
    body = run_object(run).model_dump(mode="json")
    assert schema_errors("RunObject", body) == []
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert body["parallel_tool_calls"] is False
    assert (body["max_prompt_tokens"], body["max_completion_tokens"]) == (1000, 500)
    assert body["truncation_strategy"] == {"type": "last_messages", "last_messages": 3}
    assert body["tools"] == [{"type": "function", "function": {"name": "lookup"}}]
    for choice in ("none", "required"):
        shown = run_object(queued().model_copy(update={"tool_choice": choice})).tool_choice
        assert shown == choice
    default = run_object(queued()).model_dump(mode="json")
    assert default["tool_choice"] == "auto"
    assert default["truncation_strategy"] == {"type": "auto", "last_messages": None}


def tool_step(outputs: dict[str, str] | None = None) -> StepRecord:
    return StepRecord(
        id="step_1",
        run_id="run_1",
        thread_id="thread_1",
        assistant_id="asst_default",
        created_at=120,
        type="tool_calls",
        calls=[
            StepCall(id="call_1", name="lookup", arguments='{"a":1}', client=True),
            StepCall(id="call_2", name="get_uuid_from_username", arguments="{}"),
        ],
        outputs=outputs if outputs is not None else {"call_2": "server output"},
        usage=Usage(1, 2, 3),
        ttl=TTL,
    )


MESSAGE_STEP = StepRecord(
    id="step_2",
    run_id="run_1",
    thread_id="thread_1",
    assistant_id="asst_default",
    created_at=300,
    type="message_creation",
    message_id="msg_2",
    usage=Usage(4, 5, 9),
    completed_at=300,
    ttl=TTL,
)


@pytest.mark.parametrize(
    ("run", "status"),
    [
        ("requires_action", "in_progress"),
        ("cancelling", "in_progress"),
        ("cancelled", "cancelled"),
        ("completed", "cancelled"),
        ("incomplete", "cancelled"),
        ("failed", "failed"),
        ("expired", "expired"),
    ],
)
def test_an_unanswered_step_follows_its_run(run: str, status: str) -> None:
    body = step_object(tool_step(), RUNS[run]).model_dump(mode="json")
    assert schema_errors("RunStepObject", body) == []
    assert body["status"] == status
    # Only an ended step shows its usage and the time it ended
    assert (body["usage"] is None) == (status == "in_progress")
    times = {"cancelled": "cancelled_at", "failed": "failed_at", "expired": "expired_at"}
    for name, key in times.items():
        assert (body[key] is not None) == (status == name), key
    assert body["completed_at"] is None
    assert (body["last_error"] is not None) == (status == "failed")


def test_a_step_shows_the_servers_output_at_once_and_the_callers_once_submitted() -> None:
    body = step_object(tool_step(), RUNS["requires_action"]).model_dump(mode="json")
    assert body["step_details"] == {
        "type": "tool_calls",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup", "arguments": '{"a":1}', "output": None},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {
                    "name": "get_uuid_from_username",
                    "arguments": "{}",
                    "output": "server output",
                },
            },
        ],
    }
    answered = tool_step({"call_1": "mine", "call_2": "server output"})
    body = step_object(answered, RUNS["completed"]).model_dump(mode="json")
    assert schema_errors("RunStepObject", body) == []
    assert body["status"] == "completed"
    assert body["completed_at"] is not None
    assert body["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}


def test_a_message_creation_step_is_completed_and_names_its_message() -> None:
    for run in RUNS.values():
        body = step_object(MESSAGE_STEP, run).model_dump(mode="json")
        assert schema_errors("RunStepObject", body) == []
        assert body["status"] == "completed"
        assert body["step_details"] == {
            "type": "message_creation",
            "message_creation": {"message_id": "msg_2"},
        }
        assert body["completed_at"] == 300


def test_a_step_of_a_run_failed_for_its_prompt_shows_a_code_the_step_schema_has() -> None:
    error = RunError(code="invalid_prompt", message="no")
    failed = then(calling(queued()), ended(RunStatus.FAILED, last_error=error))
    body = step_object(tool_step(), failed).model_dump(mode="json")
    assert schema_errors("RunStepObject", body) == []
    assert body["last_error"] == {"code": "server_error", "message": "no"}


def test_assistants_show_the_deployments_model() -> None:
    mine = AssistantRecord(
        id="asst_1",
        created_at=5,
        name="Weather",
        instructions="be brief",
        tools=[{"type": "function", "function": {"name": "get_weather"}}],
        requested_model="gpt-5-pro",
    )
    for record in (mine, DEFAULT_ASSISTANT):
        body = assistant_object(record, "gpt-test").model_dump(mode="json")
        assert schema_errors("AssistantObject", body) == []
        assert body["model"] == "gpt-test"
        assert body["object"] == "assistant"


def test_threads_and_lists_are_valid_objects() -> None:
    thread = ThreadRecord(id="thread_1", created_at=5, metadata={"a": "b"}, ttl=TTL)
    body = thread_object(thread).model_dump(mode="json")
    assert schema_errors("ThreadObject", body) == []
    assert body == {
        "id": "thread_1",
        "object": "thread",
        "created_at": 5,
        "tool_resources": None,
        "metadata": {"a": "b"},
    }
    listed = list_object([message_object(QUESTION), message_object(answer("completed"))], True)
    body = listed.model_dump(mode="json")
    assert schema_errors("ListMessagesResponse", body) == []
    assert (body["first_id"], body["last_id"], body["has_more"]) == ("msg_1", "msg_2", True)
    # An empty page has no first or last id: null, as OpenAI answered, where the schema says
    # a string (the one way a list departs from it)
    no_runs: list[RunRecord] = []
    empty = list_object([run_object(r) for r in no_runs], False).model_dump(mode="json")
    assert (empty["first_id"], empty["last_id"]) == (None, None)
    assert schema_errors("ListRunsResponse", {**empty, "first_id": "", "last_id": ""}) == []
