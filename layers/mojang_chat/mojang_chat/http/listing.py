"""OpenAI's lists, on every /v1 front door: the query that asks for a page (``limit``,
``order``, ``after``, ``before``) and the list object that answers it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel

from mojang_chat.http.errors import ApiError
from mojang_chat.http.limits import DEFAULT_PAGE_ITEMS, MAX_PAGE_ITEMS
from mojang_chat.runs.paging import Page

Item = TypeVar("Item", bound=BaseModel)


def page_query(query: Mapping[str, str]) -> Page:
    """OpenAI's list parameters: ``limit`` (1 to 100, default 20), ``order`` (``asc`` or
    ``desc``, default ``desc``), ``after`` and ``before`` (ids of the list's items)."""
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(
            400,
            "Invalid 'order': expected 'asc' or 'desc'.",
            param="order",
            code="invalid_value",
        )
    try:
        limit = int(query.get("limit", str(DEFAULT_PAGE_ITEMS)))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE_ITEMS:
        raise ApiError(
            400,
            f"Invalid 'limit': an integer from 1 to {MAX_PAGE_ITEMS}.",
            param="limit",
            code="invalid_value",
        )
    return Page(
        limit=limit,
        order="asc" if order == "asc" else "desc",
        after=query.get("after") or None,
        before=query.get("before") or None,
    )


class ListObject(BaseModel, Generic[Item]):
    """A page of a list (``ListAssistantsResponse``, ``ListMessagesResponse``,
    ``ResponseItemList``...). An empty page's ``first_id`` and ``last_id`` are null, as OpenAI
    answered them (its schema says a string: there is no id to give)."""

    object: Literal["list"] = "list"
    data: list[Item]
    first_id: str | None
    last_id: str | None
    has_more: bool


def list_object(items: Sequence[Item], has_more: bool) -> ListObject[Item]:
    """A page of ``items``, with OpenAI's first and last ids."""
    return ListObject[Item](
        data=list(items),
        first_id=getattr(items[0], "id", None) if items else None,
        last_id=getattr(items[-1], "id", None) if items else None,
        has_more=has_more,
    )
