"""The conversation store: what the service and the workflow's steps need of storage
(``RunStore``), and the one transition rule every change of a run goes through. The DynamoDB
adapter is ``runs/dynamodb.py``; where each record lives is ``runs/keys.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from mojang_chat.runs.errors import NotFound, RunConflict
from mojang_chat.runs.paging import Page
from mojang_chat.runs.records import (
    AssistantRecord,
    MessageRecord,
    RunRecord,
    StepRecord,
    ThreadRecord,
)

Change = Callable[[RunRecord], RunRecord | None]

# How often a transition reads again after losing a race before it gives up.
_TRANSITION_ATTEMPTS = 5


class RunStore(Protocol):
    """Assistants, threads and their items. Writes of a run are conditional on the version it
    was read at, so that two writers (a step and a cancel, say) never overwrite each other.
    Lists return up to ``page.limit + 1`` records: the extra one says there are more."""

    def put_assistant(self, assistant: AssistantRecord) -> None: ...
    def get_assistant(self, assistant_id: str) -> AssistantRecord | None: ...
    def list_assistants(self, page: Page) -> list[AssistantRecord]: ...
    def delete_assistant(self, assistant_id: str) -> bool: ...

    def create_thread(
        self, thread: ThreadRecord, items: Sequence[MessageRecord | StepRecord]
    ) -> None:
        """Write a new thread and its first items (messages, and the steps of a history sent
        whole); none is seen unless all are."""

    def get_thread(self, thread_id: str, *, consistent: bool = False) -> ThreadRecord | None: ...
    def put_thread(self, thread: ThreadRecord) -> bool:
        """Replace an existing thread's record (its metadata); False when there is none."""

    def delete_thread(self, thread_id: str) -> bool:
        """Delete the thread and every item of it; False when there was none."""

    def add_messages(
        self, thread_id: str, messages: Sequence[MessageRecord], max_messages: int
    ) -> bool:
        """Add messages to an existing thread; False (and nothing written) when the thread
        would then hold more than ``max_messages``. Raises ``NotFound`` for no thread."""

    def get_message(self, thread_id: str, message_id: str) -> MessageRecord | None: ...
    def put_message(self, message: MessageRecord) -> bool:
        """Replace an existing message (its metadata); False when there is none."""

    def delete_message(self, thread_id: str, message_id: str) -> bool: ...
    def list_messages(self, thread_id: str, page: Page) -> list[MessageRecord]: ...

    def start_run(self, run: RunRecord, previous_run_id: str | None) -> bool:
        """Write a new run and make it the thread's last run, on condition that the thread's
        last run is still ``previous_run_id``; False when another run started meanwhile. The
        run can then be found by its id alone (``locate_run``)."""

    def locate_run(self, run_id: str) -> str | None:
        """The id of the thread a run is on (a response is read by its id alone)."""

    def delete_run(self, thread_id: str, run_id: str) -> bool:
        """Delete a run's record (its items stay in the thread); False when there was none."""

    def get_run(
        self, thread_id: str, run_id: str, *, consistent: bool = False
    ) -> RunRecord | None: ...
    def replace_run(self, run: RunRecord, version: int) -> bool:
        """Write ``run`` if the stored record is still at ``version``; False if it is not."""

    def list_runs(self, thread_id: str, page: Page) -> list[RunRecord]: ...

    def save_turn(
        self, run: RunRecord, version: int, items: Sequence[MessageRecord | StepRecord]
    ) -> bool:
        """Write a model turn's outcome, the run and the items it made, all or none, if the run
        is still at ``version``; False if it changed meanwhile (say, a client cancelled)."""

    def get_step(self, thread_id: str, run_id: str, step_id: str) -> StepRecord | None: ...
    def list_steps(self, thread_id: str, run_id: str, page: Page) -> list[StepRecord]: ...
    def save_outputs(
        self, thread_id: str, run_id: str, step_id: str, outputs: Mapping[str, str]
    ) -> None:
        """Record tool calls' outputs on their step; tool steps of one round write
        concurrently, each to its own key."""

    def history(self, thread_id: str) -> list[MessageRecord | StepRecord]:
        """Every message and step of the thread, oldest first (what the model is sent)."""


def transition(store: RunStore, thread_id: str, run_id: str, change: Change) -> RunRecord:
    """Apply ``change`` to the current record and write the result, on condition that the
    record did not change meanwhile (else read again and retry). Returns the record as it now
    stands; ``change`` returning None leaves it as it is."""
    for _ in range(_TRANSITION_ATTEMPTS):
        run = store.get_run(thread_id, run_id, consistent=True)
        if run is None:
            raise NotFound("run", run_id)
        changed = change(run)
        if changed is None:
            return run
        if store.replace_run(changed, run.version):
            return changed.model_copy(update={"version": run.version + 1})
    raise RunConflict(f"run {run_id} kept changing")
