"""Runs: the Assistants Run object, the thread it runs on, and their store in DynamoDB.

A run record is the Run object (``RunObject`` of OpenAI's schema) plus a few private fields: the
tool rounds so far, the tokens used so far, the precise reason a run ended incomplete, a version
for optimistic locking, and the TTL. Every change is a pure function of the record, written on
condition that nobody wrote in between (``RunStore.transition``). ``RunRecord.finished`` never
leaves a terminal status and turns any ending of a ``cancelling`` run into ``cancelled``, so a
late workflow step can never overwrite a cancel or an end.

The conversation (Chat Completions messages, which grow with every tool output) lives in the
thread's item, not the run's: polling a run reads one small item with one ``GetItem``, and the
workflow's state carries only ids (Step Functions limits it to 256 KB).
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mojang_chat.chat.types import Usage
from mojang_chat.core.observability import logger
from mojang_chat.core.statuses import RunStatus

# The built-in assistant: the only one until assistants can be created.
ASSISTANT_ID = "asst_default"

# The workflow's TimeoutSeconds (functions/run_workflow.asl.json; a test keeps them equal).
WORKFLOW_TIMEOUT_SECONDS = 900
# How long after ``expires_at`` a live workflow may still be ending a run: one step (the steps
# function's timeout, 60 s) and its retries. A record still open after that is reconciled with
# the execution's own status.
STEP_GRACE_SECONDS = 90

_ID_CHARACTERS = string.ascii_letters + string.digits
_ID_LENGTH = 24

Clock = Callable[[], float]


def new_id(prefix: Literal["run", "thread", "msg"]) -> str:
    """A fresh id in OpenAI's style, e.g. ``run_`` and 24 random letters and digits."""
    return f"{prefix}_" + "".join(secrets.choice(_ID_CHARACTERS) for _ in range(_ID_LENGTH))


def is_id(prefix: Literal["run", "thread", "msg"], value: str) -> bool:
    """True when ``value`` has the shape of an id that ``new_id(prefix)`` makes."""
    head, _, tail = value.partition("_")
    return head == prefix and len(tail) == _ID_LENGTH and set(tail) <= set(_ID_CHARACTERS)


class RunNotFound(LookupError):
    """No run (or thread) with that id, or not on that thread."""

    def __init__(self, kind: Literal["run", "thread"], item_id: str) -> None:
        super().__init__(f"No {kind} found with id '{item_id}'.")
        self.kind = kind
        self.item_id = item_id


class CannotCancel(ValueError):
    """The run has already ended (other than by a cancel)."""

    def __init__(self, status: RunStatus) -> None:
        super().__init__(f"Cannot cancel run with status '{status.value}'.")
        self.status = status


class RunConflict(RuntimeError):
    """The record kept changing under a transition (should never happen in practice)."""


# --- The Run object and the Message object ---------------------------------------------------


class FunctionCall(BaseModel):
    """The function a tool call names, with the arguments the model wrote (a JSON string)."""

    name: str
    arguments: str


class RunToolCall(BaseModel):
    """One entry of ``required_action.submit_tool_outputs.tool_calls``."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SubmitToolOutputs(BaseModel):
    tool_calls: list[RunToolCall]


class RequiredAction(BaseModel):
    """What a ``requires_action`` run waits for: the outputs of these tool calls."""

    type: Literal["submit_tool_outputs"] = "submit_tool_outputs"
    submit_tool_outputs: SubmitToolOutputs


LastErrorCode = Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]


class LastError(BaseModel):
    """Why a run failed, in the Assistants API's codes."""

    code: LastErrorCode
    message: str


class IncompleteDetails(BaseModel):
    """Why a run ended incomplete; the schema knows only the two token limits."""

    reason: Literal["max_completion_tokens", "max_prompt_tokens"]


class TruncationStrategy(BaseModel):
    type: Literal["auto", "last_messages"] = "auto"
    last_messages: int | None = None


class RunObject(BaseModel):
    """A run, exactly as OpenAI's Assistants API shows it (``RunObject`` of its schema)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    object: Literal["thread.run"] = "thread.run"
    created_at: int
    thread_id: str
    assistant_id: str
    status: RunStatus
    required_action: RequiredAction | None = None
    last_error: LastError | None = None
    expires_at: int | None
    started_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    incomplete_details: IncompleteDetails | None = None
    model: str
    instructions: str
    tools: list[dict[str, Any]]
    metadata: dict[str, str] = Field(default_factory=dict)
    # Null until the run ends, as in the Assistants API.
    usage: Usage | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: TruncationStrategy = Field(default_factory=TruncationStrategy)
    tool_choice: Literal["auto"] = "auto"
    parallel_tool_calls: bool = True
    response_format: Literal["auto"] = "auto"


# Our reasons for ending incomplete, and the closest value the schema allows: a round cap and a
# token budget both bound the prompt that the run's model calls send, again and again.
INCOMPLETE_REASONS: Mapping[str, Literal["max_completion_tokens", "max_prompt_tokens"]] = {
    "max_completion_tokens": "max_completion_tokens",
    "max_total_tokens": "max_prompt_tokens",
    "max_tool_rounds": "max_prompt_tokens",
}
# The metadata key that keeps our precise reason (``incomplete_details`` cannot hold it).
INCOMPLETE_REASON_KEY = "incomplete_reason"
MAX_METADATA_KEYS = 16


class RunRecord(RunObject):
    """A stored run: the Run object and the private fields of its lifecycle."""

    rounds: int = 0
    tokens: Usage = Field(default_factory=Usage)
    version: int = 0
    ttl: int

    def public(self) -> RunObject:
        """The Run object that the API shows."""
        return RunObject.model_validate(self.model_dump(include=set(RunObject.model_fields)))

    @property
    def tool_calls(self) -> list[RunToolCall]:
        """The tool calls the run waits for (none unless ``requires_action``)."""
        if self.required_action is None:
            return []
        return self.required_action.submit_tool_outputs.tool_calls

    def started(self, now: int) -> RunRecord | None:
        """The model step begins (from ``queued``, or after the tools ran)."""
        if self.status not in (RunStatus.QUEUED, RunStatus.REQUIRES_ACTION):
            return None
        return self.model_copy(
            update={
                "status": RunStatus.IN_PROGRESS,
                "started_at": self.started_at or now,
                "required_action": None,
            }
        )

    def awaiting_tools(self, calls: Sequence[RunToolCall], tokens: Usage) -> RunRecord | None:
        """The model asked for tool calls: one more tool round begins."""
        if self.status is not RunStatus.IN_PROGRESS:
            return None
        action = RequiredAction(submit_tool_outputs=SubmitToolOutputs(tool_calls=list(calls)))
        return self.model_copy(
            update={
                "status": RunStatus.REQUIRES_ACTION,
                "required_action": action,
                "rounds": self.rounds + 1,
                "tokens": tokens,
            }
        )

    def cancel_requested(self) -> RunRecord | None:
        """A client asked to cancel: ``cancelling`` until the workflow has stopped."""
        if self.status.terminal or self.status is RunStatus.CANCELLING:
            return None
        return self.model_copy(update={"status": RunStatus.CANCELLING, "required_action": None})

    def finished(
        self,
        status: RunStatus,
        now: int,
        *,
        tokens: Usage | None = None,
        last_error: LastError | None = None,
        incomplete_reason: str | None = None,
    ) -> RunRecord | None:
        """The run ends with ``status``; None when it has ended already. Whatever ends a run
        that a client is cancelling ends it ``cancelled``."""
        if self.status.terminal:
            return None
        if not status.terminal:
            raise ValueError(f"{status} is not a terminal status")
        if self.status is RunStatus.CANCELLING:
            status = RunStatus.CANCELLED
        tokens = tokens or self.tokens
        update: dict[str, Any] = {
            "status": status,
            "required_action": None,
            "tokens": tokens,
            "usage": tokens,
            # A run that ended can no longer expire (OpenAI shows null too).
            "expires_at": self.expires_at if status is RunStatus.EXPIRED else None,
        }
        if status is RunStatus.COMPLETED:
            update["completed_at"] = now
        elif status is RunStatus.CANCELLED:
            update["cancelled_at"] = now
        elif status is RunStatus.FAILED:
            update["failed_at"] = now
            update["last_error"] = last_error or LastError(
                code="server_error", message="the run failed"
            )
        elif status is RunStatus.INCOMPLETE:
            reason = incomplete_reason or "max_completion_tokens"
            update["incomplete_details"] = IncompleteDetails(reason=INCOMPLETE_REASONS[reason])
            if len(self.metadata) < MAX_METADATA_KEYS or INCOMPLETE_REASON_KEY in self.metadata:
                update["metadata"] = {**self.metadata, INCOMPLETE_REASON_KEY: reason}
        return self.model_copy(update=update)


class TextValue(BaseModel):
    value: str
    annotations: list[Any] = Field(default_factory=list)


class TextContent(BaseModel):
    type: Literal["text"] = "text"
    text: TextValue


class MessageIncompleteDetails(BaseModel):
    reason: Literal["content_filter", "max_tokens", "run_cancelled", "run_expired", "run_failed"]


class MessageObject(BaseModel):
    """A message of a thread, as OpenAI's Assistants API shows it (``MessageObject``)."""

    id: str
    object: Literal["thread.message"] = "thread.message"
    created_at: int
    thread_id: str
    status: Literal["in_progress", "incomplete", "completed"] = "completed"
    incomplete_details: MessageIncompleteDetails | None = None
    completed_at: int | None = None
    incomplete_at: int | None = None
    role: Literal["user", "assistant"]
    content: list[TextContent]
    assistant_id: str | None = None
    run_id: str | None = None
    attachments: list[Any] | None = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def text(cls, text: str, **fields: Any) -> MessageObject:
        """A message whose content is one text part."""
        return cls(content=[TextContent(text=TextValue(value=text))], **fields)


class ThreadRecord(BaseModel):
    """A stored thread: what the messages endpoint lists, and the conversation the model sees."""

    id: str
    created_at: int
    run_id: str
    metadata: dict[str, str] = Field(default_factory=dict)
    messages: list[MessageObject]
    # Chat Completions messages (system prompt, history, question, turns and tool outputs).
    conversation: list[dict[str, Any]]
    # The current tool round's outputs, by tool call id, written concurrently by tool steps.
    tool_outputs: dict[str, str] = Field(default_factory=dict)
    ttl: int


# --- The store ---------------------------------------------------------------------------------

Change = Callable[[RunRecord], RunRecord | None]


class RunStore:
    """Runs and threads in one DynamoDB table (partition key ``id``), through a boto3 client.

    A run item holds the run record as plain attributes (``status`` is one), a thread item the
    thread as JSON plus a map of tool outputs. Items expire through the table's TTL (``ttl``).
    """

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self.table_name = table_name

    def create(self, thread: ThreadRecord, run: RunRecord) -> None:
        """Write a new thread and its first run, both or neither."""
        new = "attribute_not_exists(id)"
        self._client.transact_write_items(
            TransactItems=[
                {"Put": {**self._put(_thread_item(thread)), "ConditionExpression": new}},
                {"Put": {**self._put(_run_item(run)), "ConditionExpression": new}},
            ]
        )

    def get_run(self, run_id: str, *, consistent: bool = False) -> RunRecord | None:
        """The run record, or None. Polls read eventually consistent (half the price)."""
        item = self._get(run_id, consistent)
        return None if item is None else RunRecord.model_validate(_plain(item))

    def get_thread(self, thread_id: str, *, consistent: bool = False) -> ThreadRecord | None:
        """The thread record, or None."""
        item = self._get(thread_id, consistent)
        if item is None or "thread" not in item:
            return None
        fields = json.loads(item["thread"])
        fields["tool_outputs"] = item.get("tool_outputs") or {}
        fields["ttl"] = int(item["ttl"])
        return ThreadRecord.model_validate(fields)

    def transition(self, run_id: str, change: Change) -> RunRecord:
        """Apply ``change`` to the current record and write the result, on condition that the
        record did not change meanwhile (else read again and retry). Returns the record as it
        now stands; ``change`` returning None leaves it as it is."""
        for _ in range(5):
            run = self.get_run(run_id, consistent=True)
            if run is None:
                raise RunNotFound("run", run_id)
            changed = change(run)
            if changed is None:
                return run
            if self.replace_run(changed, run.version):
                return changed.model_copy(update={"version": run.version + 1})
        raise RunConflict(f"run {run_id} kept changing")

    def replace_run(self, run: RunRecord, version: int) -> bool:
        """Write ``run`` if the stored record is still at ``version``; False if it is not."""
        put = self._versioned_put(run, version)
        try:
            self._client.put_item(**put)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def save_turn(self, run: RunRecord, version: int, thread: ThreadRecord) -> bool:
        """Write a model turn's outcome, the run and its conversation, both or neither, if the
        run is still at ``version``; False if it changed meanwhile (say, a client cancelled)."""
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"Put": self._versioned_put(run, version)},
                    {"Put": self._put(_thread_item(thread))},
                ]
            )
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or []
            if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                return False
            raise
        return True

    def save_tool_output(self, thread_id: str, call_id: str, content: str) -> None:
        """Record one tool call's output; tool steps of one round write concurrently, each to
        its own key of the thread's ``tool_outputs`` map."""
        self._client.update_item(
            TableName=self.table_name,
            Key={"id": {"S": thread_id}},
            UpdateExpression="SET tool_outputs.#call = :content",
            ConditionExpression="attribute_exists(tool_outputs)",
            ExpressionAttributeNames={"#call": call_id},
            ExpressionAttributeValues={":content": {"S": content}},
        )

    def _get(self, item_id: str, consistent: bool) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self.table_name, Key={"id": {"S": item_id}}, ConsistentRead=consistent
        )
        item = response.get("Item")
        if item is None and not consistent:
            # An eventually consistent read can miss an item written a moment ago (a run
            # polled right after it was created): "not found" is only said after a strong read.
            return self._get(item_id, consistent=True)
        return None if item is None else _deserialize(item)

    def _put(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {"TableName": self.table_name, "Item": _serialize(item)}

    def _versioned_put(self, run: RunRecord, version: int) -> dict[str, Any]:
        item = _run_item(run.model_copy(update={"version": version + 1}))
        return {
            **self._put(item),
            "ConditionExpression": "version = :version",
            "ExpressionAttributeValues": {":version": {"N": str(version)}},
        }


def _run_item(run: RunRecord) -> dict[str, Any]:
    return run.model_dump(mode="json")


def _thread_item(thread: ThreadRecord) -> dict[str, Any]:
    body = thread.model_dump(mode="json", exclude={"tool_outputs", "ttl"})
    return {
        "id": thread.id,
        "thread": json.dumps(body, separators=(",", ":")),
        "tool_outputs": dict(thread.tool_outputs),
        "ttl": thread.ttl,
    }


def _serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {key: serializer.serialize(value) for key, value in item.items()}


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {key: deserializer.deserialize(value) for key, value in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB's numbers (``Decimal``) back as ints and floats, so that JSON stays JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# --- Reconciling a record with its execution ---------------------------------------------------


def execution_arn(state_machine_arn: str, run_id: str) -> str:
    """The ARN of a run's execution: the execution's name is the run id."""
    prefix, _, name = state_machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:execution:{name}:{run_id}"


# How a run whose execution ended without recording an end is ended, by execution status.
_ENDED_EXECUTIONS: Mapping[str | None, tuple[RunStatus, str]] = {
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


def reconcile(
    run: RunRecord, store: RunStore, stepfunctions: Any, state_machine_arn: str, now: float
) -> RunRecord:
    """End an open run whose execution has ended (aborted, timed out, failed outside a
    ``Catch``, or stopped by a cancel), from ``DescribeExecution``; a run whose execution still
    runs is left to it."""
    if not needs_reconciling(run, now):
        return run
    arn = execution_arn(state_machine_arn, run.id)
    try:
        status: str | None = stepfunctions.describe_execution(executionArn=arn)["status"]
    except stepfunctions.exceptions.ExecutionDoesNotExist:
        status = None
    if status in ("RUNNING", "PENDING_REDRIVE"):
        return run
    ending, message = _ENDED_EXECUTIONS.get(status, _ENDED_EXECUTIONS["FAILED"])
    error = LastError(code="server_error", message=message) if message else None
    logger.warning(
        "run reconciled with its execution",
        extra={"run_id": run.id, "execution_status": status, "run_status": run.status.value},
    )
    return store.transition(run.id, lambda r: r.finished(ending, int(now), last_error=error))


# --- The service behind the endpoints ----------------------------------------------------------


class Runs:
    """Create, read and cancel runs; list a thread's messages. The adapters come in."""

    def __init__(
        self,
        store: RunStore,
        stepfunctions: Any,
        state_machine_arn: str,
        *,
        model: str,
        instructions: str,
        tools: Sequence[dict[str, Any]],
        expires_seconds: int,
        retention_seconds: int,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self._sfn = stepfunctions
        self._state_machine_arn = state_machine_arn
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
    ) -> RunRecord:
        """A new thread holding ``messages`` (role, text, metadata) and a queued run on it,
        whose workflow has been started. ``conversation`` is what the model is sent."""
        now = int(self._clock())
        thread_id, run_id = new_id("thread"), new_id("run")
        ttl = now + self._retention_seconds
        thread = ThreadRecord(
            id=thread_id,
            created_at=now,
            run_id=run_id,
            metadata=thread_metadata,
            messages=[
                MessageObject.text(
                    text,
                    id=new_id("msg"),
                    created_at=now,
                    thread_id=thread_id,
                    role=role,
                    metadata=metadata,
                )
                for role, text, metadata in messages
            ],
            conversation=conversation,
            ttl=ttl,
        )
        run = RunRecord(
            id=run_id,
            created_at=now,
            thread_id=thread_id,
            assistant_id=ASSISTANT_ID,
            status=RunStatus.QUEUED,
            expires_at=now + self._expires_seconds,
            model=self._model,
            instructions=self._instructions,
            tools=self._tools,
            metadata=run_metadata,
            ttl=ttl,
        )
        self.store.create(thread, run)
        try:
            self._sfn.start_execution(
                stateMachineArn=self._state_machine_arn,
                name=run_id,
                input=json.dumps({"run_id": run_id, "thread_id": thread_id}),
            )
        except Exception:
            logger.exception("could not start the run's workflow", extra={"run_id": run_id})
            error = LastError(code="server_error", message="the run could not be started")
            return self.store.transition(
                run_id, lambda r: r.finished(RunStatus.FAILED, now, last_error=error)
            )
        return run

    def get(self, thread_id: str, run_id: str) -> RunRecord:
        """The run as it stands (reconciled with its execution when it should have ended)."""
        run = self.store.get_run(run_id) if is_id("run", run_id) else None
        if run is None or run.thread_id != thread_id:
            raise RunNotFound("run", run_id)
        return reconcile(run, self.store, self._sfn, self._state_machine_arn, self._clock())

    def cancel(self, thread_id: str, run_id: str) -> RunRecord:
        """Ask the run to stop: ``cancelling`` now, ``cancelled`` once its execution has
        stopped. Cancelling a cancelling or cancelled run again is no error."""
        self.get(thread_id, run_id)
        run = self.store.transition(run_id, lambda r: r.cancel_requested())
        if run.status is RunStatus.CANCELLED:
            return run
        if run.status.terminal:
            raise CannotCancel(run.status)
        try:
            self._sfn.stop_execution(
                executionArn=execution_arn(self._state_machine_arn, run_id),
                error="RunCancelled",
                cause="the client cancelled the run",
            )
        except self._sfn.exceptions.ExecutionDoesNotExist:
            pass  # never started: the next read ends it
        except Exception:
            # The workflow's next step sees `cancelling` and ends the run itself.
            logger.exception("could not stop the run's workflow", extra={"run_id": run_id})
        return run

    def messages(self, thread_id: str) -> list[MessageObject]:
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
