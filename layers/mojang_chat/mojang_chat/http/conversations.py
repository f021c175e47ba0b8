"""Conversations (``/v1/conversations``): a conversation is a thread of the core (the same
thread the Assistants API shows, by the same id), its items the thread's messages and the tool
calls its responses made.

``POST /v1/conversations`` (with items: messages, and a history's call items), ``GET``,
``POST`` (metadata), ``DELETE /v1/conversations/{id}``; its items: ``GET`` (a list), ``POST``
(messages), ``GET`` and ``DELETE`` one.
"""

from __future__ import annotations

from typing import Any

from mojang_chat.http.errors import unsupported
from mojang_chat.http.listing import list_object, page_query
from mojang_chat.http.resolver import JsonRouter
from mojang_chat.http.responses.objects import (
    ConversationDeleted,
    conversation_object,
    items_of,
    message_item,
)
from mojang_chat.http.responses.requests import ConversationRequest, parse_items
from mojang_chat.http.responses.routes import RESPONSES
from mojang_chat.runs import NewMessage
from mojang_chat.runs.paging import page_of
from mojang_chat.wiring import conversation_core

router = JsonRouter()


@router.post("/v1/conversations", summary="Create a conversation", responses=RESPONSES)
def create_conversation(request: ConversationRequest) -> dict[str, Any]:
    history, outputs, system = parse_items(request.items or [])
    if system:
        raise unsupported(
            "items",
            "A conversation holds no system or developer messages: give instructions with "
            "each response.",
        )
    metadata = dict(request.metadata or {})
    thread, _ = conversation_core().create_thread(history, metadata, outputs=outputs)
    return conversation_object(thread).model_dump()


@router.get(
    "/v1/conversations/<conversation_id>", summary="Retrieve a conversation", responses=RESPONSES
)
def retrieve_conversation(conversation_id: str) -> dict[str, Any]:
    return conversation_object(conversation_core().thread(conversation_id)).model_dump()


@router.post(
    "/v1/conversations/<conversation_id>",
    summary="Update a conversation's metadata",
    responses=RESPONSES,
)
def update_conversation(conversation_id: str, request: ConversationRequest) -> dict[str, Any]:
    thread = conversation_core().modify_thread(conversation_id, dict(request.metadata or {}))
    return conversation_object(thread).model_dump()


@router.delete(
    "/v1/conversations/<conversation_id>", summary="Delete a conversation", responses=RESPONSES
)
def delete_conversation(conversation_id: str) -> dict[str, Any]:
    conversation_core().delete_thread(conversation_id)
    return ConversationDeleted(id=conversation_id).model_dump()


@router.post(
    "/v1/conversations/<conversation_id>/items",
    summary="Add items to a conversation",
    responses=RESPONSES,
)
def create_items(conversation_id: str, request: ConversationRequest) -> dict[str, Any]:
    core = conversation_core()
    history, outputs, system = parse_items(request.items or [])
    messages = [item for item in history if isinstance(item, NewMessage)]
    if outputs or system or not messages or len(messages) < len(history):
        raise unsupported("items", "Add user and assistant messages (at least one).")
    added = [message_item(core.add_message(conversation_id, message)) for message in messages]
    return list_object(added, False).model_dump(mode="json")


@router.get(
    "/v1/conversations/<conversation_id>/items/<item_id>",
    summary="Retrieve a conversation's item",
    responses=RESPONSES,
)
def retrieve_item(conversation_id: str, item_id: str) -> dict[str, Any]:
    return message_item(conversation_core().message(conversation_id, item_id)).model_dump()


@router.delete(
    "/v1/conversations/<conversation_id>/items/<item_id>",
    summary="Delete a conversation's item",
    responses=RESPONSES,
)
def delete_item(conversation_id: str, item_id: str) -> dict[str, Any]:
    core = conversation_core()
    core.delete_message(conversation_id, item_id)
    return conversation_object(core.thread(conversation_id)).model_dump()


@router.get(
    "/v1/conversations/<conversation_id>/items",
    summary="List a conversation's items",
    responses=RESPONSES,
)
def list_items(conversation_id: str) -> dict[str, Any]:
    items = items_of(conversation_core().items(conversation_id), outputs=True)
    page = page_of(items, page_query(router.query()))
    return list_object(page.data, page.has_more).model_dump(mode="json")
