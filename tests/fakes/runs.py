"""In-memory adapters of the conversation core: a store and a workflow that keep the
conditions of DynamoDB and Step Functions (tests/integration/test_runs_adapters.py holds both
kinds to the same tests), with ways to make them lose a race or fail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

from mojang_chat.runs.errors import NotFound
from mojang_chat.runs.keys import (
    ASSISTANT_PREFIX,
    ASSISTANTS_PARTITION,
    MESSAGE_PREFIX,
    RUN_PREFIX,
    STEP_PREFIX,
    THREAD,
    assistant_key,
    message_key,
    partition,
    run_id_of,
    run_key,
    sort_key,
    step_key,
    steps_prefix,
)
from mojang_chat.runs.paging import Page
from mojang_chat.runs.records import (
    AssistantRecord,
    MessageRecord,
    RunRecord,
    StepRecord,
    ThreadRecord,
    order_key,
)

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.literals import ExecutionStatusType

Record = TypeVar("Record", bound=BaseModel)


class ConditionFailed(Exception):
    """A write whose condition did not hold (DynamoDB's ``ConditionalCheckFailed``)."""


class MemoryRunStore:
    """The store's partitions in dictionaries, each record kept as JSON (as in the table), so
    that nothing a caller keeps is shared with the store."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, tuple[type[BaseModel], str]]] = {}
        # How many of the next conditional writes of a run find that another writer changed
        # it first (the stored version moves on, as another writer's write would move it).
        self.conflicts = 0
        # Every read of a run, as (run id, consistent).
        self.reads: list[tuple[str, bool]] = []
        # The thread of each run, by run id.
        self.locators: dict[str, str] = {}

    # --- the table

    def _put(self, record: BaseModel) -> None:
        self.items.setdefault(partition(record), {})[sort_key(record)] = (
            type(record),
            record.model_dump_json(),
        )

    def _get(self, kind: type[Record], pk: str, sk: str) -> Record | None:
        found = self.items.get(pk, {}).get(sk)
        return None if found is None else kind.model_validate_json(found[1])

    def _exists(self, record: BaseModel) -> bool:
        return sort_key(record) in self.items.get(partition(record), {})

    def _page(self, kind: type[Record], pk: str, prefix: str, page: Page) -> list[Record]:
        keys = sorted(k for k in self.items.get(pk, {}) if k.startswith(prefix))
        if page.order == "desc":
            keys.reverse()
        # ``after`` and ``before`` are ids the page starts after or ends before, in its order.
        forward = page.order == "asc"
        if page.after is not None:
            after = prefix + page.after
            keys = [k for k in keys if (k > after if forward else k < after)]
        if page.before is not None:
            before = prefix + page.before
            keys = [k for k in keys if (k < before if forward else k > before)]
        found = [self._get(kind, pk, key) for key in keys[: page.limit + 1]]
        return [record for record in found if record is not None]

    # --- assistants

    def put_assistant(self, assistant: AssistantRecord) -> None:
        self._put(assistant)

    def get_assistant(self, assistant_id: str) -> AssistantRecord | None:
        return self._get(AssistantRecord, ASSISTANTS_PARTITION, assistant_key(assistant_id))

    def list_assistants(self, page: Page) -> list[AssistantRecord]:
        return self._page(AssistantRecord, ASSISTANTS_PARTITION, ASSISTANT_PREFIX, page)

    def delete_assistant(self, assistant_id: str) -> bool:
        return (
            self.items.get(ASSISTANTS_PARTITION, {}).pop(assistant_key(assistant_id), None)
            is not None
        )

    # --- threads and messages

    def create_thread(
        self, thread: ThreadRecord, items: Sequence[MessageRecord | StepRecord]
    ) -> None:
        if self._exists(thread):
            raise ConditionFailed(f"{thread.id} exists")
        count = sum(isinstance(item, MessageRecord) for item in items)
        self._put(thread.model_copy(update={"message_count": count}))
        for item in items:
            self._put(item)

    def get_thread(self, thread_id: str, *, consistent: bool = False) -> ThreadRecord | None:
        return self._get(ThreadRecord, thread_id, THREAD)

    def put_thread(self, thread: ThreadRecord) -> bool:
        stored = self.get_thread(thread.id)
        if stored is None:
            return False
        # Only the body is replaced: the counters stay the table's.
        self._put(
            thread.model_copy(
                update={"message_count": stored.message_count, "last_run_id": stored.last_run_id}
            )
        )
        return True

    def delete_thread(self, thread_id: str) -> bool:
        removed = self.items.pop(thread_id, {})
        for key in removed:
            self.locators.pop(run_id_of(key) or "", None)
        return THREAD in removed

    def add_messages(
        self, thread_id: str, messages: Sequence[MessageRecord], max_messages: int
    ) -> bool:
        thread = self.get_thread(thread_id)
        if thread is None:
            raise NotFound("thread", thread_id)
        if thread.message_count + len(messages) > max_messages:
            return False
        self._put(
            thread.model_copy(
                update={
                    "message_count": thread.message_count + len(messages),
                    "ttl": messages[0].ttl,
                }
            )
        )
        for message in messages:
            self._put(message)
        return True

    def get_message(self, thread_id: str, message_id: str) -> MessageRecord | None:
        return self._get(MessageRecord, thread_id, message_key(message_id))

    def put_message(self, message: MessageRecord) -> bool:
        if not self._exists(message):
            return False
        self._put(message)
        return True

    def delete_message(self, thread_id: str, message_id: str) -> bool:
        if self.items.get(thread_id, {}).pop(message_key(message_id), None) is None:
            return False
        thread = self.get_thread(thread_id)
        if thread is not None:
            self._put(thread.model_copy(update={"message_count": thread.message_count - 1}))
        return True

    def list_messages(self, thread_id: str, page: Page) -> list[MessageRecord]:
        return self._page(MessageRecord, thread_id, MESSAGE_PREFIX, page)

    # --- runs

    def start_run(self, run: RunRecord, previous_run_id: str | None) -> bool:
        thread = self.get_thread(run.thread_id)
        if thread is None or thread.last_run_id != previous_run_id or self._exists(run):
            return False
        self._put(thread.model_copy(update={"last_run_id": run.id, "ttl": run.ttl}))
        self._put(run)
        self.locators[run.id] = run.thread_id
        return True

    def locate_run(self, run_id: str) -> str | None:
        return self.locators.get(run_id)

    def delete_run(self, thread_id: str, run_id: str) -> bool:
        self.locators.pop(run_id, None)
        return self.items.get(thread_id, {}).pop(run_key(run_id), None) is not None

    def get_run(self, thread_id: str, run_id: str, *, consistent: bool = False) -> RunRecord | None:
        self.reads.append((run_id, consistent))
        return self._get(RunRecord, thread_id, run_key(run_id))

    def replace_run(self, run: RunRecord, version: int) -> bool:
        if not self._at_version(run, version):
            return False
        self._put(run.model_copy(update={"version": version + 1}))
        return True

    def list_runs(self, thread_id: str, page: Page) -> list[RunRecord]:
        return self._page(RunRecord, thread_id, RUN_PREFIX, page)

    def save_turn(
        self, run: RunRecord, version: int, items: Sequence[MessageRecord | StepRecord]
    ) -> bool:
        if not self._at_version(run, version):
            return False
        self._put(run.model_copy(update={"version": version + 1}))
        for item in items:
            self._put(item)
        return True

    def put_run(self, run: RunRecord) -> None:
        """Write ``run`` as it is, unconditionally (a test's set-up, or another writer)."""
        self._put(run)

    def _at_version(self, run: RunRecord, version: int) -> bool:
        stored = self._get(RunRecord, run.thread_id, run_key(run.id))
        if stored is None:
            return False
        if self.conflicts:
            self.conflicts -= 1
            self.put_run(stored.model_copy(update={"version": stored.version + 1}))
            return False
        return stored.version == version

    # --- run steps

    def get_step(self, thread_id: str, run_id: str, step_id: str) -> StepRecord | None:
        return self._get(StepRecord, thread_id, step_key(run_id, step_id))

    def list_steps(self, thread_id: str, run_id: str, page: Page) -> list[StepRecord]:
        return self._page(StepRecord, thread_id, steps_prefix(run_id), page)

    def save_outputs(
        self, thread_id: str, run_id: str, step_id: str, outputs: Mapping[str, str]
    ) -> None:
        step = self.get_step(thread_id, run_id, step_id)
        if step is None:
            raise ConditionFailed(f"no step {step_id}")
        self._put(step.model_copy(update={"outputs": {**step.outputs, **outputs}}))

    def history(self, thread_id: str) -> list[MessageRecord | StepRecord]:
        found: list[MessageRecord | StepRecord] = []
        for key in self.items.get(thread_id, {}):
            if key.startswith(MESSAGE_PREFIX):
                message = self._get(MessageRecord, thread_id, key)
                assert message is not None
                found.append(message)
            elif key.startswith(STEP_PREFIX):
                step = self._get(StepRecord, thread_id, key)
                assert step is not None
                found.append(step)
        return sorted(found, key=lambda record: order_key(record.id))


class MemoryWorkflow:
    """Executions by run id, with their input and status; a test moves them along."""

    def __init__(self) -> None:
        self.executions: dict[str, ExecutionStatusType] = {}
        self.inputs: dict[str, dict[str, str]] = {}
        # (run id, error, cause) of every stop that reached an execution.
        self.stops: list[tuple[str, str, str]] = []
        # Raised by every start, or every stop, while set.
        self.start_error: Exception | None = None
        self.stop_error: Exception | None = None
        # The run id of every describe.
        self.described: list[str] = []
        # The task tokens that executions wait on, and those resumed.
        self.waiting: set[str] = set()
        self.resumed: list[str] = []

    def start(self, run_id: str, thread_id: str) -> None:
        if self.start_error is not None:
            raise self.start_error
        self.executions[run_id] = "RUNNING"
        self.inputs[run_id] = {"run_id": run_id, "thread_id": thread_id}

    def stop(self, run_id: str, error: str, cause: str) -> None:
        if self.stop_error is not None:
            raise self.stop_error
        if run_id not in self.executions:
            return
        self.stops.append((run_id, error, cause))
        if self.executions[run_id] == "RUNNING":
            self.executions[run_id] = "ABORTED"

    def describe(self, run_id: str) -> ExecutionStatusType | None:
        self.described.append(run_id)
        return self.executions.get(run_id)

    def resume(self, task_token: str) -> bool:
        if task_token not in self.waiting:
            return False
        self.waiting.discard(task_token)
        self.resumed.append(task_token)
        return True
