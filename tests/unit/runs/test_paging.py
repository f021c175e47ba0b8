"""One way to page (``runs/paging.py``): a page cut from the store's read, a page of records in
hand, and a whole list read page after page with nothing capped."""

from __future__ import annotations

from dataclasses import dataclass

from mojang_chat.runs.paging import READ_ALL_PAGE, Page, listed, page_of, read_all


@dataclass(frozen=True)
class Item:
    id: str


ITEMS = [Item(f"i{n:04}") for n in range(10)]


def ids(items: list[Item]) -> list[str]:
    return [item.id for item in items]


def test_a_read_of_one_more_than_the_page_says_more_follow() -> None:
    assert listed(ITEMS[:4], Page(limit=3)).has_more
    assert not listed(ITEMS[:3], Page(limit=3)).has_more
    assert ids(listed(ITEMS[:4], Page(limit=3)).data) == ["i0000", "i0001", "i0002"]


def test_records_in_hand_page_in_either_order_after_and_before_an_id() -> None:
    asc = page_of(ITEMS, Page(limit=3, order="asc", after="i0002"))
    desc = page_of(ITEMS, Page(limit=3, order="desc", after="i0007"))
    between = page_of(ITEMS, Page(limit=10, order="asc", after="i0001", before="i0005"))

    assert (ids(asc.data), asc.has_more) == (["i0003", "i0004", "i0005"], True)
    assert (ids(desc.data), desc.has_more) == (["i0006", "i0005", "i0004"], True)
    assert (ids(between.data), between.has_more) == (["i0002", "i0003", "i0004"], False)
    assert ids(page_of(ITEMS, Page(limit=2, order="asc", after="gone")).data) == ["i0000", "i0001"]


def test_a_whole_list_is_read_past_any_page_size() -> None:
    stored = [Item(f"i{n:04}") for n in range(READ_ALL_PAGE * 2 + 5)]
    pages: list[Page] = []

    def read(page: Page) -> list[Item]:
        pages.append(page)
        start = next((i + 1 for i, it in enumerate(stored) if it.id == page.after), 0)
        return stored[start : start + page.limit + 1]

    assert read_all(read) == stored
    assert len(pages) == 3
