"""A record as the DynamoDB item that holds it, and back: the key (``runs/keys.py``), the
record as JSON (``body``), and beside it the attributes that conditions and concurrent updates
need: a run's ``version``, a thread's ``last_run_id`` and ``message_count``, a step's
``outputs`` map, and every item's ``ttl``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from mojang_chat.runs.keys import partition, sort_key
from mojang_chat.runs.records import RunRecord, StepRecord, ThreadRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

Record = TypeVar("Record", bound=BaseModel)


def item_key(pk: str, sk: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def to_item(record: BaseModel) -> dict[str, AttributeValueTypeDef]:
    """A record as its item: the key, the TTL, the body, and the attributes conditions need."""
    item: dict[str, AttributeValueTypeDef] = {
        **item_key(partition(record), sort_key(record)),
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


def from_item(kind: type[Record], item: Mapping[str, Any]) -> Record:
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


def condition_failed(error: Any) -> bool:
    reasons = error.response.get("CancellationReasons") or []
    return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
