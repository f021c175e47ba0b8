"""Assistants: the caller's instructions and function tools, kept for its runs. The built-in
assistant (``asst_default``: the server's Mojang tools and nothing of the caller's) exists in
every deployment and can be read, never changed.
"""

from __future__ import annotations

from typing import Any

from mojang_chat.runs.base import CoreBase, valid_id
from mojang_chat.runs.errors import InvalidRequest, NotFound
from mojang_chat.runs.paging import Listed, Page, listed
from mojang_chat.runs.records import ASSISTANT_ID, DEFAULT_ASSISTANT, AssistantRecord, new_id


class Assistants(CoreBase):
    """Create, read, list, change and delete assistants."""

    def create_assistant(self, **fields: Any) -> AssistantRecord:
        """A new assistant (``AssistantRecord``'s fields but its id and time)."""
        assistant = AssistantRecord(id=new_id("asst"), created_at=self._now(), **fields)
        self.store.put_assistant(assistant)
        return assistant

    def assistant(self, assistant_id: str) -> AssistantRecord:
        """The assistant; the built-in one always exists."""
        if assistant_id == ASSISTANT_ID:
            return DEFAULT_ASSISTANT
        found = self.store.get_assistant(valid_id("asst", assistant_id, "assistant"))
        if found is None:
            raise NotFound("assistant", assistant_id)
        return found

    def list_assistants(self, page: Page) -> Listed[AssistantRecord]:
        """A page of the created assistants (the built-in one is not listed: it is not the
        caller's)."""
        return listed(self.store.list_assistants(page), page)

    def modify_assistant(self, assistant_id: str, **changes: Any) -> AssistantRecord:
        """The assistant with ``changes`` (fields left out stay as they were)."""
        _refuse_builtin(assistant_id, "modified")
        changed = self.assistant(assistant_id).model_copy(update=changes)
        changed = AssistantRecord.model_validate(changed.model_dump())
        self.store.put_assistant(changed)
        return changed

    def delete_assistant(self, assistant_id: str) -> None:
        _refuse_builtin(assistant_id, "deleted")
        if not self.store.delete_assistant(valid_id("asst", assistant_id, "assistant")):
            raise NotFound("assistant", assistant_id)


def _refuse_builtin(assistant_id: str, done: str) -> None:
    if assistant_id == ASSISTANT_ID:
        raise InvalidRequest(
            f"The built-in assistant '{ASSISTANT_ID}' cannot be {done}.", param="assistant_id"
        )
