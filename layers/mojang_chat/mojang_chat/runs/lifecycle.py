"""Runs: started on the workflow, read (reconciled with it), cancelled, and resumed with the
caller's tool outputs; their steps; and the deletion of a thread, which cancels its run. A
thread has one active run at most: starting one is a conditional write on the thread's
``last_run_id``, so of concurrent starts exactly one wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mojang_chat.core.observability import logger
from mojang_chat.core.statuses import RunStatus
from mojang_chat.runs.assistants import Assistants
from mojang_chat.runs.base import valid_id
from mojang_chat.runs.errors import CannotCancel, InvalidRequest, NotFound
from mojang_chat.runs.outputs import SUBMITTED, check_outputs
from mojang_chat.runs.paging import Listed, Page, listed
from mojang_chat.runs.reconcile import reconcile, release
from mojang_chat.runs.records import (
    AssistantRecord,
    IdPrefix,
    RunChoices,
    RunError,
    RunOptions,
    RunRecord,
    StepRecord,
    ThreadRecord,
    is_id,
    new_id,
)
from mojang_chat.runs.store import transition
from mojang_chat.runs.threads import NewMessage, Threads


class Runs(Assistants, Threads):
    """Runs of assistants on threads, and their steps."""

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
        self._refuse_active(thread)
        if additional_messages:
            now, ttl = self._now(), self._ttl()
            self._add(thread, [self._message(thread_id, m, now, ttl) for m in additional_messages])
        run = self._queued(
            "run",
            thread,
            assistant.id,
            instructions=_instructions(assistant, options),
            tools=assistant.tools if options.tools is None else options.tools,
            options=options,
            client=client,
        )
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

    def list_runs(self, thread_id: str, page: Page) -> Listed[RunRecord]:
        self.thread(thread_id)
        return listed(self.store.list_runs(thread_id, page), page)

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
            release(self._workflow, before)
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
            raise _not_waiting(run)
        expected = [call.id for call in run.client_calls]
        answers = check_outputs(expected, outputs, self.limits.tool_output_max_chars, SUBMITTED)
        self.store.save_outputs(thread_id, run_id, run.step_id, answers)
        token = run.task_token
        resumed = transition(
            self.store,
            thread_id,
            run_id,
            lambda r: r.resumed() if r.task_token == token else None,
        )
        if resumed.status is not RunStatus.QUEUED or token is None:
            raise _not_waiting(resumed)
        if not self._workflow.resume(token):
            # The wait had timed out (past ``expires_at``): the run can go no further.
            now = self._now()
            return transition(
                self.store, thread_id, run_id, lambda r: r.finished(RunStatus.EXPIRED, now)
            )
        return resumed

    def delete_thread(self, thread_id: str) -> None:
        """Delete the thread and everything in it; its active run, if any, is cancelled."""
        thread = self.thread(thread_id)
        if thread.last_run_id is not None:
            run = self.store.get_run(thread_id, thread.last_run_id, consistent=True)
            if run is not None and not run.status.terminal:
                self.cancel(thread_id, run.id)
        self.store.delete_thread(thread_id)

    # --- run steps

    def step(self, thread_id: str, run_id: str, step_id: str) -> tuple[StepRecord, RunRecord]:
        """The step, and its run (a step's status follows its run's)."""
        run = self.run(thread_id, run_id)
        found = self.store.get_step(thread_id, run_id, valid_id("step", step_id, "step"))
        if found is None:
            raise NotFound("step", step_id)
        return found, run

    def list_steps(
        self, thread_id: str, run_id: str, page: Page
    ) -> tuple[Listed[StepRecord], RunRecord]:
        run = self.run(thread_id, run_id)
        return listed(self.store.list_steps(thread_id, run_id, page), page), run

    # --- what runs and responses share

    def _refuse_active(self, thread: ThreadRecord) -> None:
        active = self._active_run(thread)
        if active is not None:
            raise already_active(thread.id, active.id)

    def _queued(
        self,
        prefix: IdPrefix,
        thread: ThreadRecord,
        assistant_id: str,
        *,
        instructions: str,
        tools: list[dict[str, Any]],
        options: RunOptions,
        **fields: Any,
    ) -> RunRecord:
        """A new queued run on ``thread``, made its last run; refused when another run
        started on it meanwhile (the thread's ``last_run_id`` moved on)."""
        now = self._now()
        run = RunRecord(
            id=new_id(prefix),
            thread_id=thread.id,
            assistant_id=assistant_id,
            created_at=now,
            status=RunStatus.QUEUED,
            model=self.model,
            instructions=instructions,
            tools=tools,
            **options.model_dump(include=set(RunChoices.model_fields)),
            expires_at=now + self._expires_seconds,
            ttl=self._ttl(),
            **fields,
        )
        if not self.store.start_run(run, thread.last_run_id):
            raise already_active(thread.id, self.thread(thread.id).last_run_id or "?")
        return run

    def _start(self, run: RunRecord) -> RunRecord:
        """Start the run's workflow; a run whose workflow cannot start ends ``failed``."""
        try:
            self._workflow.start(run.id, run.thread_id)
        except Exception:
            logger.exception("could not start the run's workflow", extra={"run_id": run.id})
            error = RunError(code="server_error", message="the run could not be started")
            now = self._now()
            return transition(
                self.store,
                run.thread_id,
                run.id,
                lambda r: r.finished(RunStatus.FAILED, now, last_error=error),
            )
        return run


def _instructions(assistant: AssistantRecord, options: RunOptions) -> str:
    """The run's instructions: the run's own, else the assistant's, then the additional."""
    base = options.instructions if options.instructions is not None else assistant.instructions
    parts = [text for text in (base, options.additional_instructions) if text]
    return "\n\n".join(parts)


def already_active(thread_id: str, run_id: str) -> InvalidRequest:
    return InvalidRequest(
        f"Thread {thread_id} already has an active run {run_id}.", param="thread_id"
    )


def _not_waiting(run: RunRecord) -> InvalidRequest:
    return InvalidRequest(
        f'Runs in status "{run.status.value}" do not accept tool outputs.', param="run_id"
    )
