"""Responses: runs that end with the caller's calls (a response never waits for them: the
caller answers them in its next response). A response continues its conversation, the one its
``previous_response_id`` ended (a branch of it when that one is not the latest), or starts a
new one from the whole history a stateless caller sends.
"""

from __future__ import annotations

from collections.abc import Sequence

from mojang_chat.runs.base import valid_id
from mojang_chat.runs.errors import InvalidRequest, NotFound
from mojang_chat.runs.lifecycle import Runs
from mojang_chat.runs.outputs import FUNCTION_CALL_OUTPUTS, check_outputs
from mojang_chat.runs.paging import read_all
from mojang_chat.runs.records import (
    ASSISTANT_ID,
    MessageRecord,
    RunOptions,
    RunRecord,
    StepRecord,
    ThreadRecord,
    new_id,
    order_key,
)
from mojang_chat.runs.threads import EarlierCall, HistoryItem, NewMessage


class Responses(Runs):
    """Create, read and delete responses; what a response made."""

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
        workflow is started; else the caller runs it (``StepRunner.run_inline``)."""
        if previous_response_id is not None or conversation_id is not None:
            if any(isinstance(m, EarlierCall) for m in messages):
                raise InvalidRequest(
                    "Tool call items are sent back only without previous_response_id or "
                    "conversation (which hold them already): send function_call_output items "
                    "to answer the calls.",
                    param="input",
                )
            thread, pending = self._continued(previous_response_id, conversation_id)
            self._refuse_active(thread)
            self._answer_calls(thread.id, pending, outputs)
            now, ttl = self._now(), self._ttl()
            news = [
                self._message(thread.id, m, now, ttl) for m in messages if isinstance(m, NewMessage)
            ]
            if news:
                self._add(thread, news)
            inputs = [m.id for m in news] + [call_id for call_id, _ in outputs]
        else:
            thread, added = self.create_thread(messages, {}, outputs=outputs)
            inputs = [item.id for item in added]
        run = self._queued(
            "resp",
            thread,
            ASSISTANT_ID,
            instructions=instructions,
            tools=options.tools or [],
            options=options,
            inputs=inputs,
            previous_response_id=previous_response_id,
            background=background,
            waits_for_outputs=False,
            client=client,
        )
        return self._start(run) if background else run

    def response(self, response_id: str) -> RunRecord:
        """The response as it stands (reconciled with its execution when it should have
        ended), found by its id alone."""
        thread_id = self.store.locate_run(valid_id("resp", response_id, "run"))
        if thread_id is None:
            raise NotFound("run", response_id)
        return self.run(thread_id, response_id)

    def output(self, run: RunRecord) -> list[MessageRecord | StepRecord]:
        """What the response made, in order: its tool calls steps, and the messages its
        message creation steps created."""
        made: list[MessageRecord | StepRecord] = []
        steps = read_all(lambda page: self.store.list_steps(run.thread_id, run.id, page))
        for step in steps:
            if step.type != "message_creation":
                made.append(step)
            elif step.message_id is not None:
                message = self.store.get_message(run.thread_id, step.message_id)
                if message is not None:
                    made.append(message)
        return made

    def delete_response(self, response_id: str) -> None:
        """Delete the response's record (what it added to its conversation stays)."""
        run = self.response(response_id)
        if not run.status.terminal:
            self.cancel(run.thread_id, run.id)
        self.store.delete_run(run.thread_id, run.id)

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
        answers = check_outputs(
            waiting, outputs, self.limits.tool_output_max_chars, FUNCTION_CALL_OUTPUTS
        )
        assert step is not None  # outputs matched its calls
        self.store.save_outputs(thread_id, step.run_id, step.id, answers)
