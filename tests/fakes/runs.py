"""In-memory adapters of the conversation core: a run store and a workflow that keep the
conditions of DynamoDB and Step Functions (tests/integration/test_runs_adapters.py holds both
kinds to the same tests), with ways to make them lose a race or fail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mojang_chat.runs.records import RunRecord, ThreadRecord

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.literals import ExecutionStatusType


class ConditionFailed(Exception):
    """A write whose condition did not hold (DynamoDB's ``ConditionalCheckFailed``)."""


class MemoryRunStore:
    """Runs and threads in dictionaries. Every record goes through JSON on its way in and out,
    as through the table, so that nothing a caller keeps is shared with the store."""

    def __init__(self) -> None:
        self.runs: dict[str, str] = {}
        self.threads: dict[str, str] = {}
        # How many of the next conditional writes of a run find that another writer changed
        # it first (the stored version moves on, as another writer's write would move it).
        self.conflicts = 0
        # Every read, as (id, consistent).
        self.reads: list[tuple[str, bool]] = []

    def create(self, thread: ThreadRecord, run: RunRecord) -> None:
        if thread.id in self.threads or run.id in self.runs:
            raise ConditionFailed(f"{thread.id} or {run.id} exists")
        self.threads[thread.id] = thread.model_dump_json()
        self.runs[run.id] = run.model_dump_json()

    def get_run(self, run_id: str, *, consistent: bool = False) -> RunRecord | None:
        self.reads.append((run_id, consistent))
        stored = self.runs.get(run_id)
        return None if stored is None else RunRecord.model_validate_json(stored)

    def get_thread(self, thread_id: str, *, consistent: bool = False) -> ThreadRecord | None:
        self.reads.append((thread_id, consistent))
        stored = self.threads.get(thread_id)
        return None if stored is None else ThreadRecord.model_validate_json(stored)

    def replace_run(self, run: RunRecord, version: int) -> bool:
        if not self._at_version(run.id, version):
            return False
        self.runs[run.id] = run.model_copy(update={"version": version + 1}).model_dump_json()
        return True

    def save_turn(self, run: RunRecord, version: int, thread: ThreadRecord) -> bool:
        if not self._at_version(run.id, version):
            return False
        self.runs[run.id] = run.model_copy(update={"version": version + 1}).model_dump_json()
        self.threads[thread.id] = thread.model_dump_json()
        return True

    def save_tool_output(self, thread_id: str, call_id: str, content: str) -> None:
        stored = self.threads.get(thread_id)
        if stored is None:
            raise ConditionFailed(f"no thread {thread_id}")
        thread = ThreadRecord.model_validate_json(stored)
        outputs = {**thread.tool_outputs, call_id: content}
        self.threads[thread_id] = thread.model_copy(
            update={"tool_outputs": outputs}
        ).model_dump_json()

    def put_run(self, run: RunRecord) -> None:
        """Write ``run`` as it is, unconditionally (a test's set-up, or another writer)."""
        self.runs[run.id] = run.model_dump_json()

    def _at_version(self, run_id: str, version: int) -> bool:
        stored = self.get_run(run_id, consistent=True)
        if stored is None:
            return False
        if self.conflicts:
            self.conflicts -= 1
            self.put_run(stored.model_copy(update={"version": stored.version + 1}))
            return False
        return stored.version == version


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
