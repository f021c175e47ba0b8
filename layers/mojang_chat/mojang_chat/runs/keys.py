"""Where each record lives in the store: its partition and its sort key, one builder per kind,
used by the DynamoDB adapter and by the in-memory one the tests run on.

One partition per thread: the thread's record, each of its messages, runs and run steps is an
item of its own (sort keys ``thread``, ``msg#<id>``, ``run#<id>``, ``step#<run id>#<id>``), so a
conversation is bounded by settings, never by DynamoDB's 400 KB item limit. Ids sort by
creation, so a partition reads in order. Assistants share one partition; a run's locator (the
thread it is on) has a partition of the run's id.
"""

from __future__ import annotations

from pydantic import BaseModel

from mojang_chat.runs.records import (
    AssistantRecord,
    MessageRecord,
    RunRecord,
    StepRecord,
    ThreadRecord,
)

# The partition every assistant lives in (there are few; one query lists them).
ASSISTANTS_PARTITION = "assistants"
# The sort key of a thread's own record in its partition.
THREAD = "thread"
# The sort key of a run's locator, in a partition of the run's id: the thread it is on.
LOCATOR = "locator"
# What the sort keys of each kind of item start with.
ASSISTANT_PREFIX = "asst#"
MESSAGE_PREFIX = "msg#"
RUN_PREFIX = "run#"
STEP_PREFIX = "step#"


def assistant_key(assistant_id: str) -> str:
    return ASSISTANT_PREFIX + assistant_id


def message_key(message_id: str) -> str:
    return MESSAGE_PREFIX + message_id


def run_key(run_id: str) -> str:
    return RUN_PREFIX + run_id


def steps_prefix(run_id: str) -> str:
    """What the sort keys of one run's steps start with."""
    return f"{STEP_PREFIX}{run_id}#"


def step_key(run_id: str, step_id: str) -> str:
    return steps_prefix(run_id) + step_id


def run_id_of(key: str) -> str | None:
    """The run id a run's sort key names; None for any other key."""
    return key.removeprefix(RUN_PREFIX) if key.startswith(RUN_PREFIX) else None


def sort_key(record: BaseModel) -> str:
    """The item's sort key within its partition."""
    if isinstance(record, ThreadRecord):
        return THREAD
    if isinstance(record, MessageRecord):
        return message_key(record.id)
    if isinstance(record, RunRecord):
        return run_key(record.id)
    if isinstance(record, StepRecord):
        return step_key(record.run_id, record.id)
    if isinstance(record, AssistantRecord):
        return assistant_key(record.id)
    raise TypeError(type(record).__name__)


def partition(record: BaseModel) -> str:
    """The item's partition: its thread's id (an assistant's: the assistants')."""
    if isinstance(record, AssistantRecord):
        return ASSISTANTS_PARTITION
    if isinstance(record, ThreadRecord):
        return record.id
    thread_id = getattr(record, "thread_id", None)
    if not isinstance(thread_id, str):
        raise TypeError(type(record).__name__)
    return thread_id
