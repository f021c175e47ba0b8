"""The conversation store in one DynamoDB table (``RunStore``'s adapter), through a boto3
client: one partition per thread, one item per record (``runs/keys.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from mojang_chat.runs.errors import NotFound
from mojang_chat.runs.items import condition_failed, from_item, item_key, to_item
from mojang_chat.runs.keys import (
    ASSISTANT_PREFIX,
    ASSISTANTS_PARTITION,
    LOCATOR,
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
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        TransactWriteItemTypeDef,
        WriteRequestTypeDef,
    )

Record = TypeVar("Record", bound=BaseModel)

# DynamoDB's most items in one transaction, and in one batch write.
_TRANSACTION_ITEMS = 100
_BATCH_ITEMS = 25


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
        self._client.put_item(TableName=self.table_name, Item=to_item(assistant))

    def get_assistant(self, assistant_id: str) -> AssistantRecord | None:
        return self._get(AssistantRecord, ASSISTANTS_PARTITION, assistant_key(assistant_id))

    def list_assistants(self, page: Page) -> list[AssistantRecord]:
        return self._page(AssistantRecord, ASSISTANTS_PARTITION, ASSISTANT_PREFIX, page)

    def delete_assistant(self, assistant_id: str) -> bool:
        return self._delete(ASSISTANTS_PARTITION, assistant_key(assistant_id))

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
                    "Item": to_item(counted),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        # What one transaction cannot hold is written first: until the thread's record is,
        # no reader reaches it (and it expires with its TTL if the thread never comes).
        held, overflow = _TRANSACTION_ITEMS - 1, items[_TRANSACTION_ITEMS - 1 :]
        self._batch([{"PutRequest": {"Item": to_item(item)}} for item in overflow])
        puts += [{"Put": {"TableName": self.table_name, "Item": to_item(i)}} for i in items[:held]]
        self._client.transact_write_items(TransactItems=puts)

    def get_thread(self, thread_id: str, *, consistent: bool = False) -> ThreadRecord | None:
        return self._get(ThreadRecord, thread_id, THREAD, consistent=consistent)

    def put_thread(self, thread: ThreadRecord) -> bool:
        return self._put_existing(thread)

    def delete_thread(self, thread_id: str) -> bool:
        keys = [
            {"pk": item["pk"], "sk": item["sk"]}
            for item in self._query(thread_id, None, forward=True, attributes="pk, sk")
        ]
        # Its runs' locators too: a response of a deleted conversation is found by none.
        runs = [run_id_of(key["sk"]["S"]) for key in keys]
        keys += [item_key(run_id, LOCATOR) for run_id in runs if run_id is not None]
        self._batch([{"DeleteRequest": {"Key": key}} for key in keys])
        return any(key["sk"] == {"S": THREAD} for key in keys)

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
                    "Key": item_key(thread_id, THREAD),
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
        self._batch([{"PutRequest": {"Item": to_item(m)}} for m in overflow])
        items += [
            {"Put": {"TableName": self.table_name, "Item": to_item(m)}} for m in messages[:held]
        ]
        try:
            self._client.transact_write_items(TransactItems=items)
        except self._client.exceptions.TransactionCanceledException as error:
            self._batch(
                [{"DeleteRequest": {"Key": item_key(thread_id, sort_key(m))}} for m in overflow]
            )
            if not condition_failed(error):
                raise
            if self.get_thread(thread_id, consistent=True) is None:
                raise NotFound("thread", thread_id) from None
            return False
        return True

    def get_message(self, thread_id: str, message_id: str) -> MessageRecord | None:
        return self._get(MessageRecord, thread_id, message_key(message_id), consistent=True)

    def put_message(self, message: MessageRecord) -> bool:
        return self._put_existing(message)

    def delete_message(self, thread_id: str, message_id: str) -> bool:
        deleted = self._delete(thread_id, message_key(message_id))
        if deleted:
            self._client.update_item(
                TableName=self.table_name,
                Key=item_key(thread_id, THREAD),
                UpdateExpression="SET message_count = message_count - :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        return deleted

    def list_messages(self, thread_id: str, page: Page) -> list[MessageRecord]:
        return self._page(MessageRecord, thread_id, MESSAGE_PREFIX, page)

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
                            "Key": item_key(run.thread_id, THREAD),
                            "UpdateExpression": "SET last_run_id = :run, #ttl = :ttl",
                            "ConditionExpression": condition,
                            "ExpressionAttributeNames": {"#ttl": "ttl"},
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": to_item(run),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": {
                                **item_key(run.id, LOCATOR),
                                "thread_id": {"S": run.thread_id},
                                "ttl": {"N": str(run.ttl)},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except self._client.exceptions.TransactionCanceledException as error:
            if condition_failed(error):
                return False
            raise
        return True

    def get_run(self, thread_id: str, run_id: str, *, consistent: bool = False) -> RunRecord | None:
        return self._get(RunRecord, thread_id, run_key(run_id), consistent=consistent)

    def locate_run(self, run_id: str) -> str | None:
        item = self._client.get_item(
            TableName=self.table_name, Key=item_key(run_id, LOCATOR), ConsistentRead=True
        ).get("Item")
        return None if item is None else str(item["thread_id"]["S"])

    def delete_run(self, thread_id: str, run_id: str) -> bool:
        deleted = self._delete(thread_id, run_key(run_id))
        self._delete(run_id, LOCATOR)
        return deleted

    def replace_run(self, run: RunRecord, version: int) -> bool:
        try:
            self._client.put_item(**self._versioned_put(run, version))
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def list_runs(self, thread_id: str, page: Page) -> list[RunRecord]:
        return self._page(RunRecord, thread_id, RUN_PREFIX, page)

    def save_turn(
        self, run: RunRecord, version: int, items: Sequence[MessageRecord | StepRecord]
    ) -> bool:
        writes: list[TransactWriteItemTypeDef] = [{"Put": self._versioned_put(run, version)}]
        writes += [{"Put": {"TableName": self.table_name, "Item": to_item(i)}} for i in items]
        try:
            self._client.transact_write_items(TransactItems=writes[:_TRANSACTION_ITEMS])
        except self._client.exceptions.TransactionCanceledException as error:
            if condition_failed(error):
                return False
            raise
        return True

    # --- run steps

    def get_step(self, thread_id: str, run_id: str, step_id: str) -> StepRecord | None:
        return self._get(StepRecord, thread_id, step_key(run_id, step_id), consistent=True)

    def list_steps(self, thread_id: str, run_id: str, page: Page) -> list[StepRecord]:
        return self._page(StepRecord, thread_id, steps_prefix(run_id), page)

    def save_outputs(
        self, thread_id: str, run_id: str, step_id: str, outputs: Mapping[str, str]
    ) -> None:
        names = {f"#c{i}": call_id for i, call_id in enumerate(outputs)}
        values: dict[str, AttributeValueTypeDef] = {
            f":o{i}": {"S": content} for i, content in enumerate(outputs.values())
        }
        self._client.update_item(
            TableName=self.table_name,
            Key=item_key(thread_id, step_key(run_id, step_id)),
            UpdateExpression="SET "
            + ", ".join(f"outputs.#c{i} = :o{i}" for i in range(len(names))),
            ConditionExpression="attribute_exists(outputs)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def history(self, thread_id: str) -> list[MessageRecord | StepRecord]:
        messages: list[MessageRecord | StepRecord] = [
            from_item(MessageRecord, item)
            for item in self._query(thread_id, MESSAGE_PREFIX, forward=True)
        ]
        steps = [
            from_item(StepRecord, item)
            for item in self._query(thread_id, STEP_PREFIX, forward=True)
        ]
        return sorted([*messages, *steps], key=lambda record: order_key(record.id))

    # --- the table

    def _get(
        self, kind: type[Record], pk: str, sk: str, *, consistent: bool = False
    ) -> Record | None:
        response = self._client.get_item(
            TableName=self.table_name, Key=item_key(pk, sk), ConsistentRead=consistent
        )
        item = response.get("Item")
        if item is None and not consistent:
            # An eventually consistent read can miss an item written a moment ago (a run
            # polled right after it was created): "not found" is only said after a strong read.
            return self._get(kind, pk, sk, consistent=True)
        return None if item is None else from_item(kind, item)

    def _put_existing(self, record: BaseModel) -> bool:
        body = record.model_dump_json()
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=item_key(partition(record), sort_key(record)),
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
                Key=item_key(pk, sk),
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
        return [from_item(kind, item) for item in items[: page.limit + 1]]

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
            "Item": to_item(run.model_copy(update={"version": version + 1})),
            "ConditionExpression": "version = :version",
            "ExpressionAttributeValues": {":version": {"N": str(version)}},
        }
