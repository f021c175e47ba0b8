"""pydantic-ai (a client nobody here wrote) pointed at this API: an ``Agent`` with a tool of its
own, on its Chat Completions model and on its Responses model. The server runs the Mojang
tools; the agent's own tool runs in the agent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mojang_chat.local.server import LocalServer, serving
from tests.aws import RunsStack, runs_stack
from tests.fakes import model_server as fake_model

pydantic_ai = pytest.importorskip("pydantic_ai")

__all__ = ["runs_stack"]  # the fixture, imported for pytest


@pytest.fixture
def server(runs_stack: RunsStack) -> Iterator[LocalServer]:
    with serving(runs_stack.api) as local:
        yield local


@pytest.mark.parametrize("model_kind", ["chat", "responses"])
def test_an_agent_with_its_own_tool_completes(
    app_env: Any, server: LocalServer, model_kind: str
) -> None:
    from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    # Given a model that calls the agent's own tool, then the server's, then answers
    model, mojang = app_env
    model.script(
        fake_model.tool_calls(("favourite_player", {"fan": "Johnny"})),
        fake_model.tool_calls(("get_uuid_from_username", {"username": "merrydith"})),
        fake_model.answer_from_tools(),
    )
    provider = OpenAIProvider(base_url=f"{server.url}/v1", api_key="unused")
    model_class = {"chat": OpenAIChatModel, "responses": OpenAIResponsesModel}[model_kind]
    agent = pydantic_ai.Agent(
        model_class("gpt-4o-mini", provider=provider),
        instructions="Answer about Minecraft players.",
    )
    asked: list[str] = []

    @agent.tool_plain
    def favourite_player(fan: str) -> str:
        """The favourite Minecraft player of a fan."""
        asked.append(fan)
        return "merrydith"

    # When it runs against this API
    result = agent.run_sync("what is the uuid of Johnny's favourite player?")

    # Then the agent ran its own tool, the server ran the lookup, and the answer came back
    assert asked == ["Johnny"]
    assert [r.path for r in mojang.requests()] == ["/minecraft/profile/lookup/name/merrydith"]
    assert "merrydith" in str(result.output).lower()
    assert model.schema_errors == []
