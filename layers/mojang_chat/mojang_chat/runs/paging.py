"""Lists, one way: OpenAI's ``limit``, ``order``, ``after`` and ``before`` (``Page``), what a page
holds (``Listed``), and the two ways a page is cut: from what the store read (it reads one
record more than the page, to tell whether more follow), or from records already in hand.

Reading a whole list goes through every page (``read_all``): nothing is capped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar

# How many records one read of ``read_all`` asks the store for.
READ_ALL_PAGE = 100


class Identified(Protocol):
    @property
    def id(self) -> str: ...


Item = TypeVar("Item", bound=Identified)


@dataclass(frozen=True)
class Page:
    """Which part of a list to read: OpenAI's ``limit``, ``order``, ``after`` and ``before``
    (ids of the list's items)."""

    limit: int = 20
    order: Literal["asc", "desc"] = "desc"
    after: str | None = None
    before: str | None = None


@dataclass(frozen=True)
class Listed(Generic[Item]):
    """A page of a list, and whether more follow it."""

    data: list[Item]
    has_more: bool


def listed(read: Sequence[Item], page: Page) -> Listed[Item]:
    """The page of what the store read for it (up to ``page.limit + 1`` records)."""
    return Listed(data=list(read[: page.limit]), has_more=len(read) > page.limit)


def page_of(records: Sequence[Item], page: Page) -> Listed[Item]:
    """The page of ``records`` (oldest first): in the page's order, after and before the ids
    it names (an id that is not there bounds nothing)."""
    ordered = list(records) if page.order == "asc" else list(reversed(records))
    ids = [record.id for record in ordered]
    if page.after in ids:
        ordered = ordered[ids.index(page.after) + 1 :]
        ids = ids[ids.index(page.after) + 1 :]
    if page.before in ids:
        ordered = ordered[: ids.index(page.before)]
    return listed(ordered, page)


def read_all(
    read: Callable[[Page], Sequence[Item]], order: Literal["asc", "desc"] = "asc"
) -> list[Item]:
    """Every record of a list, page after page, in ``order``."""
    found: list[Item] = []
    after: str | None = None
    while True:
        page = Page(limit=READ_ALL_PAGE, order=order, after=after)
        chunk = listed(read(page), page)
        found += chunk.data
        if not chunk.has_more:
            return found
        after = chunk.data[-1].id
