"""Threads (a conversation: the Assistants API's thread, the Responses API's conversation, by
the same id) and their items: the messages callers add, and the tool calls of a history a
stateless caller sends whole. A thread takes messages only while no run is active on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from mojang_chat.runs.base import CoreBase, valid_id
from mojang_chat.runs.errors import InvalidRequest, NotFound
from mojang_chat.runs.outputs import FUNCTION_CALL_OUTPUTS, check_outputs
from mojang_chat.runs.paging import Listed, Page, listed, page_of, read_all
from mojang_chat.runs.reconcile import reconcile
from mojang_chat.runs.records import (
    ASSISTANT_ID,
    MessageRecord,
    RunRecord,
    StepCall,
    StepRecord,
    ThreadRecord,
    new_id,
)

# The run id of the steps a stateless request's history is made of: no run made them.
EARLIER_RUN = "earlier"


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


class Threads(CoreBase):
    """Create, read and change threads; add, read, change, delete and list their messages."""

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
        calls = [item for item in history if isinstance(item, EarlierCall)]
        if len({call.id for call in calls}) < len(calls):
            raise InvalidRequest(
                "Two tool calls of the input have the same call id.", param="input"
            )
        theirs = [call.id for call in calls if call.client]
        answers = check_outputs(
            theirs, outputs, self.limits.tool_output_max_chars, FUNCTION_CALL_OUTPUTS
        )
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
        found = self.store.get_thread(valid_id("thread", thread_id, "thread"), consistent=True)
        if found is None:
            raise NotFound("thread", thread_id)
        return found

    def modify_thread(self, thread_id: str, metadata: Mapping[str, str]) -> ThreadRecord:
        changed = self.thread(thread_id).model_copy(update={"metadata": dict(metadata)})
        if not self.store.put_thread(changed):
            raise NotFound("thread", thread_id)
        return changed

    def items(self, thread_id: str) -> list[MessageRecord | StepRecord]:
        """Every message and step of the thread, oldest first."""
        self.thread(thread_id)
        return self.store.history(thread_id)

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
        found = self.store.get_message(thread_id, valid_id("msg", message_id, "message"))
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

    def list_messages(
        self, thread_id: str, page: Page, run_id: str | None = None
    ) -> Listed[MessageRecord]:
        """A page of the thread's messages (those a run created, when ``run_id`` is given)."""
        self.thread(thread_id)
        if run_id is None:
            return listed(self.store.list_messages(thread_id, page), page)
        # A run creates one message at most: the thread's, filtered.
        every = read_all(lambda p: self.store.list_messages(thread_id, p))
        return page_of([m for m in every if m.run_id == run_id], page)

    # --- what the parts above share

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
        """The thread's run that has not ended, if any (reconciled with its execution)."""
        if thread.last_run_id is None:
            return None
        run = self.store.get_run(thread.id, thread.last_run_id, consistent=True)
        if run is None:
            return None
        run = reconcile(run, self.store, self._workflow, self._clock())
        return None if run.status.terminal else run
