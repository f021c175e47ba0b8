"""The conversation core's service, behind every front door: assistants, threads and their
messages, runs (started on the workflow, read reconciled with it, cancelled, resumed with the
caller's tool outputs) and run steps. The store and the workflow come in as adapters; this
module knows neither AWS nor any API's shapes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mojang_chat.core.observability import logger
from mojang_chat.core.statuses import RunStatus
from mojang_chat.runs.errors import CannotCancel, InvalidRequest, NotFound
from mojang_chat.runs.records import (
    ASSISTANT_ID,
    DEFAULT_ASSISTANT,
    AssistantRecord,
    Clock,
    IdPrefix,
    LastError,
    MessageRecord,
    RunChoices,
    RunOptions,
    RunRecord,
    StepCall,
    StepRecord,
    ThreadRecord,
    is_id,
    new_id,
    order_key,
)
from mojang_chat.runs.store import Page, RunStore, transition
from mojang_chat.runs.workflow import STEP_GRACE_SECONDS, Workflow

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.literals import ExecutionStatusType

# The run id of the steps a stateless request's history is made of: no run made them.
EARLIER_RUN = "earlier"

# How a run whose execution ended without recording an end is ended, by execution status.
_ENDED_EXECUTIONS: Mapping[ExecutionStatusType | None, tuple[RunStatus, str]] = {
    "ABORTED": (RunStatus.FAILED, "the run's workflow was stopped"),
    "TIMED_OUT": (RunStatus.EXPIRED, ""),
    "FAILED": (RunStatus.FAILED, "the run's workflow failed"),
    "SUCCEEDED": (RunStatus.FAILED, "the run's workflow ended without an outcome"),
    None: (RunStatus.FAILED, "the run's workflow never started"),
}


@dataclass(frozen=True)
class NewMessage:
    """A message a caller adds to a thread."""

    role: Literal["user", "assistant"]
    text: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EarlierCall:
    """A tool call of an earlier turn that a caller sends back: a stateless request carries
    its conversation whole. The caller's own (``client``: its output comes separately, as the
    caller ran it) or the server's, with the output it had."""

    id: str
    name: str
    arguments: str
    client: bool
    output: str | None = None


HistoryItem = NewMessage | EarlierCall


@dataclass(frozen=True)
class Listed:
    """A page of a list, and whether more follow it."""

    data: list[Any]
    has_more: bool


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
        _release(workflow, run)
        return expired
    status = workflow.describe(run.id)
    if status in ("RUNNING", "PENDING_REDRIVE"):
        return run
    ending, message = _ENDED_EXECUTIONS.get(status, _ENDED_EXECUTIONS["FAILED"])
    error = LastError(code="server_error", message=message) if message else None
    logger.warning(
        "run reconciled with its execution",
        extra={"run_id": run.id, "execution_status": status, "run_status": run.status.value},
    )
    return transition(
        store, run.thread_id, run.id, lambda r: r.finished(ending, int(now), last_error=error)
    )


def _release(workflow: Workflow, waiting: RunRecord) -> None:
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


def _valid(
    prefix: IdPrefix, value: str, kind: Literal["assistant", "thread", "message", "run", "step"]
) -> str:
    if not is_id(prefix, value):
        raise NotFound(kind, value)
    return value


@dataclass(frozen=True)
class ThreadLimits:
    """The bounds of what callers store."""

    # The most messages one thread holds.
    thread_max_messages: int
    # The longest tool output a caller may submit, in characters.
    tool_output_max_chars: int


class Conversations:
    """Assistants, threads, messages, runs and run steps. The adapters come in."""

    def __init__(
        self,
        store: RunStore,
        workflow: Workflow,
        *,
        model: str,
        expires_seconds: int,
        retention_seconds: int,
        limits: ThreadLimits,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self._workflow = workflow
        self.model = model
        self._expires_seconds = expires_seconds
        self._retention_seconds = retention_seconds
        self.limits = limits
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    def _ttl(self) -> int:
        return self._now() + self._retention_seconds

    # --- assistants

    def create_assistant(self, **fields: Any) -> AssistantRecord:
        """A new assistant (``AssistantRecord``'s fields but its id and time)."""
        assistant = AssistantRecord(id=new_id("asst"), created_at=self._now(), **fields)
        self.store.put_assistant(assistant)
        return assistant

    def assistant(self, assistant_id: str) -> AssistantRecord:
        """The assistant; the built-in one always exists."""
        if assistant_id == ASSISTANT_ID:
            return DEFAULT_ASSISTANT
        found = self.store.get_assistant(_valid("asst", assistant_id, "assistant"))
        if found is None:
            raise NotFound("assistant", assistant_id)
        return found

    def list_assistants(self, page: Page) -> Listed:
        """A page of the created assistants (the built-in one is not listed: it is not the
        caller's)."""
        return _listed(self.store.list_assistants(page), page)

    def modify_assistant(self, assistant_id: str, **changes: Any) -> AssistantRecord:
        """The assistant with ``changes`` (fields left out stay as they were)."""
        if assistant_id == ASSISTANT_ID:
            raise InvalidRequest(
                f"The built-in assistant '{ASSISTANT_ID}' cannot be modified.", param="assistant_id"
            )
        changed = self.assistant(assistant_id).model_copy(update=changes)
        changed = AssistantRecord.model_validate(changed.model_dump())
        self.store.put_assistant(changed)
        return changed

    def delete_assistant(self, assistant_id: str) -> None:
        if assistant_id == ASSISTANT_ID:
            raise InvalidRequest(
                f"The built-in assistant '{ASSISTANT_ID}' cannot be deleted.", param="assistant_id"
            )
        if not self.store.delete_assistant(_valid("asst", assistant_id, "assistant")):
            raise NotFound("assistant", assistant_id)

    # --- threads

    def create_thread(
        self,
        messages: Sequence[HistoryItem],
        metadata: Mapping[str, str],
        *,
        outputs: Sequence[tuple[str, str]] = (),
    ) -> tuple[ThreadRecord, list[MessageRecord | StepRecord]]:
        """A new thread holding ``messages``, and the items made of them. ``EarlierCall``s
        among them (a stateless request's history) become tool calls steps, consecutive ones
        one step, the caller's answered by ``outputs``: each exactly once."""
        held = [m for m in messages if isinstance(m, NewMessage)]
        self._check_room(0, len(held))
        now, ttl = self._now(), self._ttl()
        thread = ThreadRecord(
            id=new_id("thread"),
            created_at=now,
            metadata=dict(metadata),
            message_count=len(held),
            ttl=ttl,
        )
        items = self._history(thread.id, messages, outputs, now, ttl)
        self.store.create_thread(thread, items)
        return thread, items

    def _history(
        self,
        thread_id: str,
        history: Sequence[HistoryItem],
        outputs: Sequence[tuple[str, str]],
        now: int,
        ttl: int,
    ) -> list[MessageRecord | StepRecord]:
        answers = _answers(history, outputs, self.limits.tool_output_max_chars)
        items: list[MessageRecord | StepRecord] = []
        for item in history:
            if isinstance(item, NewMessage):
                items.append(self._message(thread_id, item, now, ttl))
                continue
            last = items[-1] if items else None
            if not isinstance(last, StepRecord):
                last = StepRecord(
                    id=new_id("step"),
                    run_id=EARLIER_RUN,
                    thread_id=thread_id,
                    assistant_id=ASSISTANT_ID,
                    created_at=now,
                    type="tool_calls",
                    completed_at=now,
                    ttl=ttl,
                )
                items.append(last)
            last.calls.append(
                StepCall(id=item.id, name=item.name, arguments=item.arguments, client=item.client)
            )
            output = answers[item.id] if item.client else item.output
            last.outputs[item.id] = "" if output is None else output
        return items

    def thread(self, thread_id: str) -> ThreadRecord:
        found = self.store.get_thread(_valid("thread", thread_id, "thread"), consistent=True)
        if found is None:
            raise NotFound("thread", thread_id)
        return found

    def modify_thread(self, thread_id: str, metadata: Mapping[str, str]) -> ThreadRecord:
        changed = self.thread(thread_id).model_copy(update={"metadata": dict(metadata)})
        if not self.store.put_thread(changed):
            raise NotFound("thread", thread_id)
        return changed

    def delete_thread(self, thread_id: str) -> None:
        """Delete the thread and everything in it; its active run, if any, is cancelled."""
        thread = self.thread(thread_id)
        if thread.last_run_id is not None:
            run = self.store.get_run(thread_id, thread.last_run_id, consistent=True)
            if run is not None and not run.status.terminal:
                self.cancel(thread_id, run.id)
        self.store.delete_thread(thread_id)

    # --- messages

    def add_message(self, thread_id: str, message: NewMessage) -> MessageRecord:
        """Add a message to the thread; refused while a run is active on it."""
        thread = self.thread(thread_id)
        active = self._active_run(thread)
        if active is not None:
            raise InvalidRequest(
                f"Can't add messages to {thread_id} while a run {active.id} is active.",
                param="thread_id",
            )
        record = self._message(thread_id, message, self._now(), self._ttl())
        self._add(thread, [record])
        return record

    def message(self, thread_id: str, message_id: str) -> MessageRecord:
        self.thread(thread_id)
        found = self.store.get_message(thread_id, _valid("msg", message_id, "message"))
        if found is None:
            raise NotFound("message", message_id)
        return found

    def modify_message(
        self, thread_id: str, message_id: str, metadata: Mapping[str, str]
    ) -> MessageRecord:
        changed = self.message(thread_id, message_id).model_copy(
            update={"metadata": dict(metadata)}
        )
        if not self.store.put_message(changed):
            raise NotFound("message", message_id)
        return changed

    def delete_message(self, thread_id: str, message_id: str) -> None:
        self.message(thread_id, message_id)
        if not self.store.delete_message(thread_id, message_id):
            raise NotFound("message", message_id)

    def list_messages(self, thread_id: str, page: Page, run_id: str | None = None) -> Listed:
        """A page of the thread's messages (those a run created, when ``run_id`` is given)."""
        self.thread(thread_id)
        if run_id is None:
            return _listed(self.store.list_messages(thread_id, page), page)
        # A run creates one message at most: filter the thread's, page by page.
        found = [
            m
            for m in self._all(lambda p: self.store.list_messages(thread_id, p), page.order)
            if m.run_id == run_id
        ]
        return _slice(found, page)

    # --- runs

    def create_run(
        self,
        thread_id: str,
        assistant_id: str,
        options: RunOptions,
        additional_messages: Sequence[NewMessage] = (),
        *,
        client: str | None = None,
    ) -> RunRecord:
        """A queued run of the assistant on the thread, whose workflow has been started;
        ``additional_messages`` are added to the thread first. ``client`` is whom the cost
        guard counts the run's tokens against."""
        assistant = self.assistant(assistant_id)
        thread = self.thread(thread_id)
        active = self._active_run(thread)
        if active is not None:
            raise _already_active(thread_id, active.id)
        now, ttl = self._now(), self._ttl()
        if additional_messages:
            self._add(thread, [self._message(thread_id, m, now, ttl) for m in additional_messages])
        run = RunRecord(
            id=new_id("run"),
            thread_id=thread_id,
            assistant_id=assistant.id,
            created_at=now,
            status=RunStatus.QUEUED,
            model=self.model,
            instructions=_instructions(assistant, options),
            tools=assistant.tools if options.tools is None else options.tools,
            **options.model_dump(include=set(RunChoices.model_fields)),
            expires_at=now + self._expires_seconds,
            client=client,
            ttl=ttl,
        )
        if not self.store.start_run(run, thread.last_run_id):
            latest = self.thread(thread_id).last_run_id or "?"
            raise _already_active(thread_id, latest)
        return self._start(run)

    def create_thread_and_run(
        self,
        messages: Sequence[NewMessage],
        thread_metadata: Mapping[str, str],
        assistant_id: str,
        options: RunOptions,
        *,
        client: str | None = None,
    ) -> RunRecord:
        """A new thread holding ``messages``, and a queued run on it."""
        self.assistant(assistant_id)
        thread, _ = self.create_thread(messages, thread_metadata)
        return self.create_run(thread.id, assistant_id, options, client=client)

    def _start(self, run: RunRecord) -> RunRecord:
        try:
            self._workflow.start(run.id, run.thread_id)
        except Exception:
            logger.exception("could not start the run's workflow", extra={"run_id": run.id})
            error = LastError(code="server_error", message="the run could not be started")
            now = self._now()
            return transition(
                self.store,
                run.thread_id,
                run.id,
                lambda r: r.finished(RunStatus.FAILED, now, last_error=error),
            )
        return run

    def run(self, thread_id: str, run_id: str) -> RunRecord:
        """The run as it stands (reconciled with its execution when it should have ended)."""
        self.thread(thread_id)
        # A run of the Assistants API, or a response
        if not (is_id("run", run_id) or is_id("resp", run_id)):
            raise NotFound("run", run_id)
        run = self.store.get_run(thread_id, run_id)
        if run is None:
            raise NotFound("run", run_id)
        return reconcile(run, self.store, self._workflow, self._clock())

    def list_runs(self, thread_id: str, page: Page) -> Listed:
        self.thread(thread_id)
        return _listed(self.store.list_runs(thread_id, page), page)

    def modify_run(self, thread_id: str, run_id: str, metadata: Mapping[str, str]) -> RunRecord:
        self.run(thread_id, run_id)
        return transition(
            self.store,
            thread_id,
            run_id,
            lambda r: r.model_copy(update={"metadata": dict(metadata)}),
        )

    def cancel(self, thread_id: str, run_id: str) -> RunRecord:
        """Ask the run to stop: ``cancelling`` now, ``cancelled`` once its execution has
        stopped. Cancelling a cancelling or cancelled run again is no error."""
        before = self.run(thread_id, run_id)
        run = transition(self.store, thread_id, run_id, lambda r: r.cancel_requested())
        if run.status is RunStatus.CANCELLED:
            return run
        if run.status.terminal:
            raise CannotCancel(run.status)
        if before.status is RunStatus.REQUIRES_ACTION:
            _release(self._workflow, before)
            return run
        try:
            # An execution that never started stops nothing: the next read ends the run.
            self._workflow.stop(run_id, "RunCancelled", "the client cancelled the run")
        except Exception:
            # The workflow's next step sees `cancelling` and ends the run itself.
            logger.exception("could not stop the run's workflow", extra={"run_id": run_id})
        return run

    def submit_tool_outputs(
        self, thread_id: str, run_id: str, outputs: Sequence[tuple[str, str]]
    ) -> RunRecord:
        """The caller's outputs for the calls a ``requires_action`` run waits for, each call
        answered exactly once: the run is ``queued`` again and its workflow resumes."""
        run = self.run(thread_id, run_id)
        if run.status is not RunStatus.REQUIRES_ACTION or run.step_id is None:
            raise InvalidRequest(
                f'Runs in status "{run.status.value}" do not accept tool outputs.',
                param="run_id",
            )
        expected = [call.id for call in run.client_calls]
        _check_outputs(expected, outputs, self.limits.tool_output_max_chars)
        self.store.save_outputs(thread_id, run_id, run.step_id, dict(outputs))
        token = run.task_token
        resumed = transition(
            self.store,
            thread_id,
            run_id,
            lambda r: r.resumed() if r.task_token == token else None,
        )
        if resumed.status is not RunStatus.QUEUED or token is None:
            raise InvalidRequest(
                f'Runs in status "{resumed.status.value}" do not accept tool outputs.',
                param="run_id",
            )
        if not self._workflow.resume(token):
            # The wait had timed out (past ``expires_at``): the run can go no further.
            now = self._now()
            return transition(
                self.store, thread_id, run_id, lambda r: r.finished(RunStatus.EXPIRED, now)
            )
        return resumed

    # --- responses (runs that end with the caller's calls)

    def create_response(
        self,
        *,
        messages: Sequence[HistoryItem],
        outputs: Sequence[tuple[str, str]],
        instructions: str,
        options: RunOptions,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        client: str | None = None,
        background: bool = False,
    ) -> RunRecord:
        """A queued response: a run on the conversation (``conversation_id``), on the one
        ``previous_response_id`` ended (on a branch of it when that is not its latest), or on
        a new one, after its input. On a conversation, ``messages`` are added and ``outputs``
        answer the calls the previous response ended with (each of them, exactly once); a new
        one is made of the whole history sent (``create_thread``). With ``background``, its
        workflow is started; else the caller runs it (``runs.inline``)."""
        if previous_response_id is not None or conversation_id is not None:
            if any(isinstance(m, EarlierCall) for m in messages):
                raise InvalidRequest(
                    "Tool call items are sent back only without previous_response_id or "
                    "conversation (which hold them already): send function_call_output items "
                    "to answer the calls.",
                    param="input",
                )
            thread, pending = self._continued(previous_response_id, conversation_id)
            active = self._active_run(thread)
            if active is not None:
                raise _already_active(thread.id, active.id)
            self._answer_calls(thread.id, pending, outputs)
            now, ttl = self._now(), self._ttl()
            news = [m for m in messages if isinstance(m, NewMessage)]
            added: list[MessageRecord | StepRecord] = [
                self._message(thread.id, m, now, ttl) for m in news
            ]
            if news:
                self._add(thread, [m for m in added if isinstance(m, MessageRecord)])
            inputs = [m.id for m in added] + [call_id for call_id, _ in outputs]
        else:
            thread, added = self.create_thread(messages, {}, outputs=outputs)
            now, ttl = self._now(), self._ttl()
            inputs = [item.id for item in added]
        run = RunRecord(
            id=new_id("resp"),
            thread_id=thread.id,
            assistant_id=ASSISTANT_ID,
            created_at=now,
            status=RunStatus.QUEUED,
            model=self.model,
            instructions=instructions,
            tools=options.tools or [],
            **options.model_dump(include=set(RunChoices.model_fields)),
            expires_at=now + self._expires_seconds,
            inputs=inputs,
            previous_response_id=previous_response_id,
            background=background,
            waits_for_outputs=False,
            client=client,
            ttl=ttl,
        )
        if not self.store.start_run(run, thread.last_run_id):
            raise _already_active(thread.id, self.thread(thread.id).last_run_id or "?")
        return self._start(run) if background else run

    def _continued(
        self, previous_response_id: str | None, conversation_id: str | None
    ) -> tuple[ThreadRecord, StepRecord | None]:
        """The thread a response continues (its conversation's, or the one whose latest
        response is ``previous_response_id``; a new branch when that one is an older
        response), and the step whose caller's calls the response must answer, if any."""
        if previous_response_id is None:
            assert conversation_id is not None
            thread = self.thread(conversation_id)
            return thread, self._pending(thread)
        previous = self.response(previous_response_id)
        thread = self.thread(previous.thread_id)
        if thread.last_run_id == previous.id:
            return thread, self._pending(thread)
        return self._branch(previous)

    def _pending(self, thread: ThreadRecord) -> StepRecord | None:
        """The step of the thread's last run, whose caller's calls may wait for outputs."""
        last = self.store.get_run(thread.id, thread.last_run_id or "", consistent=True)
        if last is None or last.step_id is None:
            return None
        return self.store.get_step(thread.id, last.id, last.step_id)

    def _branch(self, previous: RunRecord) -> tuple[ThreadRecord, StepRecord | None]:
        """A new thread holding what the ``previous`` response saw and made, as it ended
        (its caller's calls unanswered): continuing an older response than the latest
        branches off, and its conversation stays as it is."""
        start = order_key(previous.id)
        now, ttl = self._now(), self._ttl()
        thread = ThreadRecord(id=new_id("thread"), created_at=now, ttl=ttl)
        items: list[MessageRecord | StepRecord] = []
        pending = None
        for item in self.store.history(previous.thread_id):
            if order_key(item.id) >= start and item.run_id != previous.id:
                continue  # after it, and not its own
            copy = item.model_copy(update={"thread_id": thread.id, "ttl": ttl})
            if isinstance(copy, StepRecord) and item.run_id == previous.id:
                mine = {call.id for call in copy.calls if call.client}
                copy.outputs = {k: v for k, v in copy.outputs.items() if k not in mine}
                if copy.id == previous.step_id:
                    pending = copy
            items.append(copy)
        self.store.create_thread(thread, items)
        counted = sum(isinstance(item, MessageRecord) for item in items)
        return thread.model_copy(update={"message_count": counted}), pending

    def _answer_calls(
        self, thread_id: str, step: StepRecord | None, outputs: Sequence[tuple[str, str]]
    ) -> None:
        """Record ``outputs`` on ``step``, whose caller's calls ended the response continued:
        every one of those calls answered, once, within the size limit; none other."""
        waiting = [] if step is None else [c.id for c in step.calls if c.id not in step.outputs]
        if not waiting and not outputs:
            return
        _check_outputs(waiting, outputs, self.limits.tool_output_max_chars, noun="function call")
        assert step is not None  # outputs matched its calls
        self.store.save_outputs(thread_id, step.run_id, step.id, dict(outputs))

    def response(self, response_id: str) -> RunRecord:
        """The response as it stands (reconciled with its execution when it should have
        ended), found by its id alone."""
        thread_id = self.store.locate_run(_valid("resp", response_id, "run"))
        if thread_id is None:
            raise NotFound("run", response_id)
        return self.run(thread_id, response_id)

    def delete_response(self, response_id: str) -> None:
        """Delete the response's record (what it added to its conversation stays)."""
        run = self.response(response_id)
        if not run.status.terminal:
            self.cancel(run.thread_id, run.id)
        self.store.delete_run(run.thread_id, run.id)

    def items(self, thread_id: str) -> list[MessageRecord | StepRecord]:
        """Every message and step of the thread, oldest first."""
        self.thread(thread_id)
        return self.store.history(thread_id)

    # --- run steps

    def step(self, thread_id: str, run_id: str, step_id: str) -> tuple[StepRecord, RunRecord]:
        """The step, and its run (a step's status follows its run's)."""
        run = self.run(thread_id, run_id)
        found = self.store.get_step(thread_id, run_id, _valid("step", step_id, "step"))
        if found is None:
            raise NotFound("step", step_id)
        return found, run

    def list_steps(self, thread_id: str, run_id: str, page: Page) -> tuple[Listed, RunRecord]:
        run = self.run(thread_id, run_id)
        return _listed(self.store.list_steps(thread_id, run_id, page), page), run

    # --- helpers

    def _message(self, thread_id: str, message: NewMessage, now: int, ttl: int) -> MessageRecord:
        return MessageRecord(
            id=new_id("msg"),
            thread_id=thread_id,
            created_at=now,
            role=message.role,
            text=message.text,
            metadata=dict(message.metadata),
            ttl=ttl,
        )

    def _check_room(self, held: int, adding: int) -> None:
        limit = self.limits.thread_max_messages
        if held + adding > limit:
            raise InvalidRequest(
                f"A thread holds at most {limit} messages (THREAD_MAX_MESSAGES); this one "
                f"holds {held}.",
                param="messages",
                code="thread_full",
            )

    def _add(self, thread: ThreadRecord, messages: Sequence[MessageRecord]) -> None:
        self._check_room(thread.message_count, len(messages))
        if not self.store.add_messages(thread.id, messages, self.limits.thread_max_messages):
            latest = self.thread(thread.id)
            self._check_room(latest.message_count, len(messages))
            raise InvalidRequest("The thread changed meanwhile; try again.", param="thread_id")

    def _active_run(self, thread: ThreadRecord) -> RunRecord | None:
        if thread.last_run_id is None:
            return None
        run = self.store.get_run(thread.id, thread.last_run_id, consistent=True)
        if run is None:
            return None
        run = reconcile(run, self.store, self._workflow, self._clock())
        return None if run.status.terminal else run

    @staticmethod
    def _all(read: Any, order: Literal["asc", "desc"]) -> list[Any]:
        found: list[Any] = []
        after: str | None = None
        while True:
            page = read(Page(limit=100, order=order, after=after))
            found += page[:100]
            if len(page) <= 100:
                return found
            after = page[99].id


def _instructions(assistant: AssistantRecord, options: RunOptions) -> str:
    """The run's instructions: the run's own, else the assistant's, then the additional."""
    base = options.instructions if options.instructions is not None else assistant.instructions
    parts = [text for text in (base, options.additional_instructions) if text]
    return "\n\n".join(parts)


def _already_active(thread_id: str, run_id: str) -> InvalidRequest:
    return InvalidRequest(
        f"Thread {thread_id} already has an active run {run_id}.", param="thread_id"
    )


def _check_outputs(
    expected: Sequence[str],
    outputs: Sequence[tuple[str, str]],
    max_chars: int,
    *,
    noun: str = "tool call",
) -> None:
    """Each call in ``expected`` answered exactly once, by an output within the limit."""
    seen: set[str] = set()
    for index, (call_id, output) in enumerate(outputs):
        param = f"tool_outputs[{index}]"
        if call_id not in expected:
            raise InvalidRequest(
                f"No {noun} found with id '{call_id}' (waiting for: {', '.join(expected)}).",
                param=f"{param}.tool_call_id",
            )
        if call_id in seen:
            raise InvalidRequest(
                f"Duplicate output for {noun} '{call_id}'.", param=f"{param}.tool_call_id"
            )
        seen.add(call_id)
        if len(output) > max_chars:
            raise InvalidRequest(
                f"A tool output is at most {max_chars} characters (TOOL_OUTPUT_MAX_CHARS); "
                f"this one is {len(output)}.",
                param=f"{param}.output",
                code="string_above_max_length",
            )
    missing = [call_id for call_id in expected if call_id not in seen]
    if missing:
        raise InvalidRequest(
            f"Expected tool outputs for call_ids {expected}, got {sorted(seen)}; missing: "
            f"{', '.join(missing)}.",
            param="tool_outputs",
        )


def _answers(
    history: Sequence[HistoryItem], outputs: Sequence[tuple[str, str]], max_chars: int
) -> dict[str, str]:
    """The outputs of the caller's calls in ``history``, by call id: each call answered, each
    output answering one of them (OpenAI's errors when not)."""
    every = [item.id for item in history if isinstance(item, EarlierCall)]
    if len(set(every)) < len(every):
        raise InvalidRequest("Two tool calls of the input have the same call id.", param="input")
    calls = [item.id for item in history if isinstance(item, EarlierCall) and item.client]
    answers: dict[str, str] = {}
    for index, (call_id, output) in enumerate(outputs):
        if call_id not in calls:
            raise InvalidRequest(
                f"No tool call found for function call output with call_id {call_id}.",
                param=f"input[{index}]",
            )
        if call_id in answers:
            raise InvalidRequest(f"Duplicate output for function call '{call_id}'.", param="input")
        if len(output) > max_chars:
            raise InvalidRequest(
                f"A tool output is at most {max_chars} characters (TOOL_OUTPUT_MAX_CHARS); "
                f"this one is {len(output)}.",
                param="input",
                code="string_above_max_length",
            )
        answers[call_id] = output
    for call_id in calls:
        if call_id not in answers:
            raise InvalidRequest(
                f"No tool output found for function call {call_id}.", param="input"
            )
    return answers


def _listed(records: list[Any], page: Page) -> Listed:
    return Listed(data=records[: page.limit], has_more=len(records) > page.limit)


def _slice(records: list[Any], page: Page) -> Listed:
    """A page of records already in the page's order, after and before its ids."""
    ids = [record.id for record in records]
    if page.after in ids:
        records = records[ids.index(page.after) + 1 :]
    if page.before is not None:
        ids = [record.id for record in records]
        if page.before in ids:
            records = records[: ids.index(page.before)]
    return _listed(records, page)
