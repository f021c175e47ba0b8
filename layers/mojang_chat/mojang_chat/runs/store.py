"""The run store: what the service and the workflow's steps need of storage (``RunStore``),
the one transition rule every change of a run goes through, and the DynamoDB adapter."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from mojang_chat.runs.errors import RunConflict, RunNotFound
from mojang_chat.runs.records import RunRecord, ThreadRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import PutTypeDef

Change = Callable[[RunRecord], RunRecord | None]

# How often a transition reads again after losing a race before it gives up.
_TRANSITION_ATTEMPTS = 5


class RunStore(Protocol):
    """Runs and their threads. Writes of a run are conditional on the version it was read at,
    so that two writers (a step and a cancel, say) never overwrite each other."""

    def create(self, thread: ThreadRecord, run: RunRecord) -> None:
        """Write a new thread and its first run, both or neither."""

    def get_run(self, run_id: str, *, consistent: bool = False) -> RunRecord | None:
        """The run record, or None. Polls read eventually consistent (half the price)."""

    def get_thread(self, thread_id: str, *, consistent: bool = False) -> ThreadRecord | None:
        """The thread record, or None."""

    def replace_run(self, run: RunRecord, version: int) -> bool:
        """Write ``run`` if the stored record is still at ``version``; False if it is not."""

    def save_turn(self, run: RunRecord, version: int, thread: ThreadRecord) -> bool:
        """Write a model turn's outcome, the run and its conversation, both or neither, if the
        run is still at ``version``; False if it changed meanwhile (say, a client cancelled)."""

    def save_tool_output(self, thread_id: str, call_id: str, content: str) -> None:
        """Record one tool call's output; tool steps of one round write concurrently, each to
        its own key of the thread's tool outputs."""


def transition(store: RunStore, run_id: str, change: Change) -> RunRecord:
    """Apply ``change`` to the current record and write the result, on condition that the
    record did not change meanwhile (else read again and retry). Returns the record as it now
    stands; ``change`` returning None leaves it as it is."""
    for _ in range(_TRANSITION_ATTEMPTS):
        run = store.get_run(run_id, consistent=True)
        if run is None:
            raise RunNotFound("run", run_id)
        changed = change(run)
        if changed is None:
            return run
        if store.replace_run(changed, run.version):
            return changed.model_copy(update={"version": run.version + 1})
    raise RunConflict(f"run {run_id} kept changing")


class DynamoRunStore:
    """Runs and threads in one DynamoDB table (partition key ``id``), through a boto3 client.

    A run item holds the run record as plain attributes (``status`` is one), a thread item the
    thread as JSON plus a map of tool outputs. Items expire through the table's TTL (``ttl``).
    """

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self.table_name = table_name

    def create(self, thread: ThreadRecord, run: RunRecord) -> None:
        """Write a new thread and its first run, both or neither."""
        new = "attribute_not_exists(id)"
        self._client.transact_write_items(
            TransactItems=[
                {"Put": {**self._put(_thread_item(thread)), "ConditionExpression": new}},
                {"Put": {**self._put(_run_item(run)), "ConditionExpression": new}},
            ]
        )

    def get_run(self, run_id: str, *, consistent: bool = False) -> RunRecord | None:
        """The run record, or None. Polls read eventually consistent (half the price)."""
        item = self._get(run_id, consistent)
        return None if item is None else RunRecord.model_validate(_plain(item))

    def get_thread(self, thread_id: str, *, consistent: bool = False) -> ThreadRecord | None:
        """The thread record, or None."""
        item = self._get(thread_id, consistent)
        if item is None or "thread" not in item:
            return None
        fields = json.loads(item["thread"])
        fields["tool_outputs"] = item.get("tool_outputs") or {}
        fields["ttl"] = int(item["ttl"])
        return ThreadRecord.model_validate(fields)

    def replace_run(self, run: RunRecord, version: int) -> bool:
        """Write ``run`` if the stored record is still at ``version``; False if it is not."""
        try:
            self._client.put_item(**self._versioned_put(run, version))
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def save_turn(self, run: RunRecord, version: int, thread: ThreadRecord) -> bool:
        """Write a model turn's outcome, the run and its conversation, both or neither, if the
        run is still at ``version``; False if it changed meanwhile (say, a client cancelled)."""
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {"Put": self._versioned_put(run, version)},
                    {"Put": self._put(_thread_item(thread))},
                ]
            )
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or []
            if any(r.get("Code") == "ConditionalCheckFailed" for r in reasons):
                return False
            raise
        return True

    def save_tool_output(self, thread_id: str, call_id: str, content: str) -> None:
        """Record one tool call's output; tool steps of one round write concurrently, each to
        its own key of the thread's ``tool_outputs`` map."""
        self._client.update_item(
            TableName=self.table_name,
            Key={"id": {"S": thread_id}},
            UpdateExpression="SET tool_outputs.#call = :content",
            ConditionExpression="attribute_exists(tool_outputs)",
            ExpressionAttributeNames={"#call": call_id},
            ExpressionAttributeValues={":content": {"S": content}},
        )

    def _get(self, item_id: str, consistent: bool) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self.table_name, Key={"id": {"S": item_id}}, ConsistentRead=consistent
        )
        item = response.get("Item")
        if item is None and not consistent:
            # An eventually consistent read can miss an item written a moment ago (a run
            # polled right after it was created): "not found" is only said after a strong read.
            return self._get(item_id, consistent=True)
        return None if item is None else _deserialize(item)

    def _put(self, item: Mapping[str, Any]) -> PutTypeDef:
        return {"TableName": self.table_name, "Item": _serialize(item)}

    def _versioned_put(self, run: RunRecord, version: int) -> PutTypeDef:
        item = _run_item(run.model_copy(update={"version": version + 1}))
        return {
            **self._put(item),
            "ConditionExpression": "version = :version",
            "ExpressionAttributeValues": {":version": {"N": str(version)}},
        }


def _run_item(run: RunRecord) -> dict[str, Any]:
    return run.model_dump(mode="json")


def _thread_item(thread: ThreadRecord) -> dict[str, Any]:
    body = thread.model_dump(mode="json", exclude={"tool_outputs", "ttl"})
    return {
        "id": thread.id,
        "thread": json.dumps(body, separators=(",", ":")),
        "tool_outputs": dict(thread.tool_outputs),
        "ttl": thread.ttl,
    }


def _serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {key: serializer.serialize(value) for key, value in item.items()}


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {key: deserializer.deserialize(value) for key, value in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB's numbers (``Decimal``) back as ints and floats, so that JSON stays JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
