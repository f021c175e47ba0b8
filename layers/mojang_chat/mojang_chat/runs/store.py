"""The conversation store: what the service and the workflow's steps need of storage
(``RunStore``), the one transition rule every change of a run goes through, and the DynamoDB
adapter.

One table, one partition per thread: the thread's record, each of its messages, runs and run
steps is an item of its own (sort keys ``thread``, ``msg#<id>``, ``run#<id>``,
``step#<run id>#<id>``), so a conversation is bounded by settings, never by the 400 KB item
limit. Ids sort by creation, so a partition reads in order. Assistants share one partition.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel

from mojang_chat.runs.errors import NotFound, RunConflict
from mojang_chat.runs.records import (
    AssistantRecord,
    MessageRecord,
    RunRecord,
    StepRecord,
    ThreadRecord,
    order_key,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        TransactWriteItemTypeDef,
        WriteRequestTypeDef,
    )

Change = Callable[[RunRecord], RunRecord | None]
Record = TypeVar("Record", bound=BaseModel)

# How often a transition reads again after losing a race before it gives up.
_TRANSITION_ATTEMPTS = 5
# The partition every assistant lives in (there are few; one query lists them).
ASSISTANTS_PARTITION = "assistants"
# The sort key of a run's locator, in a partition of the run's id: the thread it is on.
LOCATOR = "locator"
# DynamoDB's most items in one transaction, and in one batch write.
_TRANSACTION_ITEMS = 100
_BATCH_ITEMS = 25


@dataclass(frozen=True)
class Page:
    """Which part of a list to read: OpenAI's ``limit``, ``order``, ``after`` and ``before``
    (ids of the list's items)."""

    limit: int = 20
    order: Literal["asc", "desc"] = "desc"
    after: str | None = None
    before: str | None = None


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


def sort_key(record: BaseModel) -> str:
    """The item's sort key within its partition."""
    if isinstance(record, ThreadRecord):
        return "thread"
    if isinstance(record, MessageRecord):
        return f"msg#{record.id}"
    if isinstance(record, RunRecord):
        return f"run#{record.id}"
    if isinstance(record, StepRecord):
        return f"step#{record.run_id}#{record.id}"
    if isinstance(record, AssistantRecord):
        return f"asst#{record.id}"
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


class DynamoRunStore:
    """The store in one DynamoDB table (partition key ``pk``, sort key ``sk``), through a
    boto3 client. An item holds its record as JSON (``body``), beside the attributes that
    conditions and concurrent updates need: a run's ``version``, a thread's ``last_run_id``
    and ``message_count``, a step's ``outputs`` map. Items expire by the table's TTL (``ttl``).
    """

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self.table_name = table_name

    # --- assistants

    def put_assistant(self, assistant: AssistantRecord) -> None:
        self._client.put_item(TableName=self.table_name, Item=_item(assistant))

    def get_assistant(self, assistant_id: str) -> AssistantRecord | None:
        return self._get(AssistantRecord, ASSISTANTS_PARTITION, f"asst#{assistant_id}")

    def list_assistants(self, page: Page) -> list[AssistantRecord]:
        return self._page(AssistantRecord, ASSISTANTS_PARTITION, "asst#", page)

    def delete_assistant(self, assistant_id: str) -> bool:
        return self._delete(ASSISTANTS_PARTITION, f"asst#{assistant_id}")

    # --- threads and messages

    def create_thread(
        self, thread: ThreadRecord, items: Sequence[MessageRecord | StepRecord]
    ) -> None:
        count = sum(isinstance(item, MessageRecord) for item in items)
        counted = thread.model_copy(update={"message_count": count})
        puts: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": _item(counted),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        # What one transaction cannot hold is written first: until the thread's record is,
        # no reader reaches it (and it expires with its TTL if the thread never comes).
        held, overflow = _TRANSACTION_ITEMS - 1, items[_TRANSACTION_ITEMS - 1 :]
        self._batch([{"PutRequest": {"Item": _item(item)}} for item in overflow])
        puts += [{"Put": {"TableName": self.table_name, "Item": _item(i)}} for i in items[:held]]
        self._client.transact_write_items(TransactItems=puts)

    def get_thread(self, thread_id: str, *, consistent: bool = False) -> ThreadRecord | None:
        return self._get(ThreadRecord, thread_id, "thread", consistent=consistent)

    def put_thread(self, thread: ThreadRecord) -> bool:
        return self._put_existing(thread)

    def delete_thread(self, thread_id: str) -> bool:
        keys = [
            {"pk": item["pk"], "sk": item["sk"]}
            for item in self._query(thread_id, None, forward=True, attributes="pk, sk")
        ]
        # Its runs' locators too: a response of a deleted conversation is found by none.
        runs = [key["sk"]["S"].removeprefix("run#") for key in keys if key["sk"]["S"][:4] == "run#"]
        keys += [_key(run_id, LOCATOR) for run_id in runs]
        self._batch([{"DeleteRequest": {"Key": key}} for key in keys])
        return any(key["sk"] == {"S": "thread"} for key in keys)

    def _batch(self, requests: Sequence[WriteRequestTypeDef]) -> None:
        """Puts and deletes, 25 to a batch, each retried until the table took it."""
        for start in range(0, len(requests), _BATCH_ITEMS):
            pending: Any = {self.table_name: list(requests[start : start + _BATCH_ITEMS])}
            while pending:
                response = self._client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or None

    def add_messages(
        self, thread_id: str, messages: Sequence[MessageRecord], max_messages: int
    ) -> bool:
        count = len(messages)
        items: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": _key(thread_id, "thread"),
                    # A thread in use is kept as long as its newest item.
                    "UpdateExpression": "SET message_count = message_count + :n, #ttl = :ttl",
                    "ConditionExpression": "attribute_exists(pk) AND message_count <= :room",
                    "ExpressionAttributeNames": {"#ttl": "ttl"},
                    "ExpressionAttributeValues": {
                        ":n": {"N": str(count)},
                        ":room": {"N": str(max_messages - count)},
                        ":ttl": {"N": str(messages[0].ttl)},
                    },
                }
            }
        ]
        # As in create_thread: what the transaction cannot hold goes first, and is taken back
        # if the thread refuses the messages (no run can be reading them: none is active).
        held, overflow = _TRANSACTION_ITEMS - 1, messages[_TRANSACTION_ITEMS - 1 :]
        self._batch([{"PutRequest": {"Item": _item(m)}} for m in overflow])
        items += [
            {"Put": {"TableName": self.table_name, "Item": _item(m)}} for m in messages[:held]
        ]
        try:
            self._client.transact_write_items(TransactItems=items)
        except self._client.exceptions.TransactionCanceledException as error:
            self._batch(
                [{"DeleteRequest": {"Key": _key(thread_id, sort_key(m))}} for m in overflow]
            )
            if not _condition_failed(error):
                raise
            if self.get_thread(thread_id, consistent=True) is None:
                raise NotFound("thread", thread_id) from None
            return False
        return True

    def get_message(self, thread_id: str, message_id: str) -> MessageRecord | None:
        return self._get(MessageRecord, thread_id, f"msg#{message_id}", consistent=True)

    def put_message(self, message: MessageRecord) -> bool:
        return self._put_existing(message)

    def delete_message(self, thread_id: str, message_id: str) -> bool:
        deleted = self._delete(thread_id, f"msg#{message_id}")
        if deleted:
            self._client.update_item(
                TableName=self.table_name,
                Key=_key(thread_id, "thread"),
                UpdateExpression="SET message_count = message_count - :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        return deleted

    def list_messages(self, thread_id: str, page: Page) -> list[MessageRecord]:
        return self._page(MessageRecord, thread_id, "msg#", page)

    # --- runs

    def start_run(self, run: RunRecord, previous_run_id: str | None) -> bool:
        values: dict[str, AttributeValueTypeDef] = {
            ":run": {"S": run.id},
            ":ttl": {"N": str(run.ttl)},
        }
        if previous_run_id is None:
            condition = "attribute_exists(pk) AND attribute_not_exists(last_run_id)"
        else:
            condition = "last_run_id = :previous"
            values[":previous"] = {"S": previous_run_id}
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": _key(run.thread_id, "thread"),
                            "UpdateExpression": "SET last_run_id = :run, #ttl = :ttl",
                            "ConditionExpression": condition,
                            "ExpressionAttributeNames": {"#ttl": "ttl"},
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": _item(run),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": {
                                **_key(run.id, LOCATOR),
                                "thread_id": {"S": run.thread_id},
                                "ttl": {"N": str(run.ttl)},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except self._client.exceptions.TransactionCanceledException as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def get_run(self, thread_id: str, run_id: str, *, consistent: bool = False) -> RunRecord | None:
        return self._get(RunRecord, thread_id, f"run#{run_id}", consistent=consistent)

    def locate_run(self, run_id: str) -> str | None:
        item = self._client.get_item(
            TableName=self.table_name, Key=_key(run_id, LOCATOR), ConsistentRead=True
        ).get("Item")
        return None if item is None else str(item["thread_id"]["S"])

    def delete_run(self, thread_id: str, run_id: str) -> bool:
        deleted = self._delete(thread_id, f"run#{run_id}")
        self._delete(run_id, LOCATOR)
        return deleted

    def replace_run(self, run: RunRecord, version: int) -> bool:
        try:
            self._client.put_item(**self._versioned_put(run, version))
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def list_runs(self, thread_id: str, page: Page) -> list[RunRecord]:
        return self._page(RunRecord, thread_id, "run#", page)

    def save_turn(
        self, run: RunRecord, version: int, items: Sequence[MessageRecord | StepRecord]
    ) -> bool:
        writes: list[TransactWriteItemTypeDef] = [{"Put": self._versioned_put(run, version)}]
        writes += [{"Put": {"TableName": self.table_name, "Item": _item(i)}} for i in items]
        try:
            self._client.transact_write_items(TransactItems=writes[:_TRANSACTION_ITEMS])
        except self._client.exceptions.TransactionCanceledException as error:
            if _condition_failed(error):
                return False
            raise
        return True

    # --- run steps

    def get_step(self, thread_id: str, run_id: str, step_id: str) -> StepRecord | None:
        return self._get(StepRecord, thread_id, f"step#{run_id}#{step_id}", consistent=True)

    def list_steps(self, thread_id: str, run_id: str, page: Page) -> list[StepRecord]:
        return self._page(StepRecord, thread_id, f"step#{run_id}#", page)

    def save_outputs(
        self, thread_id: str, run_id: str, step_id: str, outputs: Mapping[str, str]
    ) -> None:
        names = {f"#c{i}": call_id for i, call_id in enumerate(outputs)}
        values: dict[str, AttributeValueTypeDef] = {
            f":o{i}": {"S": content} for i, content in enumerate(outputs.values())
        }
        self._client.update_item(
            TableName=self.table_name,
            Key=_key(thread_id, f"step#{run_id}#{step_id}"),
            UpdateExpression="SET "
            + ", ".join(f"outputs.#c{i} = :o{i}" for i in range(len(names))),
            ConditionExpression="attribute_exists(outputs)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def history(self, thread_id: str) -> list[MessageRecord | StepRecord]:
        messages: list[MessageRecord | StepRecord] = [
            _record(MessageRecord, item) for item in self._query(thread_id, "msg#", forward=True)
        ]
        steps = [
            _record(StepRecord, item) for item in self._query(thread_id, "step#", forward=True)
        ]
        return sorted([*messages, *steps], key=lambda record: order_key(record.id))

    # --- the table

    def _get(
        self, kind: type[Record], pk: str, sk: str, *, consistent: bool = False
    ) -> Record | None:
        response = self._client.get_item(
            TableName=self.table_name, Key=_key(pk, sk), ConsistentRead=consistent
        )
        item = response.get("Item")
        if item is None and not consistent:
            # An eventually consistent read can miss an item written a moment ago (a run
            # polled right after it was created): "not found" is only said after a strong read.
            return self._get(kind, pk, sk, consistent=True)
        return None if item is None else _record(kind, item)

    def _put_existing(self, record: BaseModel) -> bool:
        body = record.model_dump_json()
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=_key(partition(record), sort_key(record)),
                UpdateExpression="SET body = :body",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":body": {"S": body}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _delete(self, pk: str, sk: str) -> bool:
        try:
            self._client.delete_item(
                TableName=self.table_name,
                Key=_key(pk, sk),
                ConditionExpression="attribute_exists(pk)",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _page(self, kind: type[Record], pk: str, prefix: str, page: Page) -> list[Record]:
        """Up to ``page.limit + 1`` records of one kind, in the page's order, after and before
        the ids it names. All ids of a kind have one length, so ``prefix + id + "!"`` sorts
        right after that id and before every later one."""
        low, high = prefix, prefix + "~"
        if page.order == "asc":
            low = prefix + page.after + "!" if page.after else low
            high = prefix + page.before if page.before else high
        else:
            high = prefix + page.after if page.after else high
            low = prefix + page.before + "!" if page.before else low
        response = self._client.query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={
                ":pk": {"S": pk},
                ":low": {"S": low},
                ":high": {"S": high},
            },
            ScanIndexForward=page.order == "asc",
            # One more than the page, to tell whether there are more; one more again for the
            # bound that BETWEEN includes and the page does not (``before``, ``after``).
            Limit=page.limit + 2,
            ConsistentRead=True,
        )
        items = [i for i in response.get("Items", []) if i["sk"]["S"] not in (low, high)]
        return [_record(kind, item) for item in items[: page.limit + 1]]

    def _query(
        self, pk: str, prefix: str | None, *, forward: bool, attributes: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a partition (whose sort key starts with ``prefix``), page by page."""
        condition = "pk = :pk" if prefix is None else "pk = :pk AND begins_with(sk, :prefix)"
        values: dict[str, AttributeValueTypeDef] = {":pk": {"S": pk}}
        if prefix is not None:
            values[":prefix"] = {"S": prefix}
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": forward,
            "ConsistentRead": True,
        }
        if attributes is not None:
            arguments["ProjectionExpression"] = attributes
        while True:
            response = self._client.query(**arguments)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _versioned_put(self, run: RunRecord, version: int) -> Any:
        return {
            "TableName": self.table_name,
            "Item": _item(run.model_copy(update={"version": version + 1})),
            "ConditionExpression": "version = :version",
            "ExpressionAttributeValues": {":version": {"N": str(version)}},
        }


def _key(pk: str, sk: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _item(record: BaseModel) -> dict[str, AttributeValueTypeDef]:
    """A record as its item: the key, the TTL, the body, and the attributes conditions need."""
    item: dict[str, AttributeValueTypeDef] = {
        **_key(partition(record), sort_key(record)),
        "body": {"S": record.model_dump_json()},
    }
    ttl = getattr(record, "ttl", None)
    if isinstance(ttl, int):
        item["ttl"] = {"N": str(ttl)}
    if isinstance(record, RunRecord):
        item["version"] = {"N": str(record.version)}
    elif isinstance(record, ThreadRecord):
        item["message_count"] = {"N": str(record.message_count)}
        if record.last_run_id is not None:
            item["last_run_id"] = {"S": record.last_run_id}
    elif isinstance(record, StepRecord):
        item["outputs"] = {"M": {k: {"S": v} for k, v in record.outputs.items()}}
    return item


def _record(kind: type[Record], item: Mapping[str, Any]) -> Record:
    """The record an item holds; the attributes written beside the body are the current ones."""
    fields = json.loads(item["body"]["S"])
    if "ttl" in item and "ttl" in fields:
        fields["ttl"] = int(Decimal(item["ttl"]["N"]))
    if "version" in item:
        fields["version"] = int(Decimal(item["version"]["N"]))
    if "message_count" in item:
        fields["message_count"] = int(Decimal(item["message_count"]["N"]))
    if "last_run_id" in item:
        fields["last_run_id"] = item["last_run_id"]["S"]
    if "outputs" in item:
        fields["outputs"] = {k: v["S"] for k, v in item["outputs"]["M"].items()}
    return kind.model_validate(fields)


def _condition_failed(error: Any) -> bool:
    reasons = error.response.get("CancellationReasons") or []
    return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
