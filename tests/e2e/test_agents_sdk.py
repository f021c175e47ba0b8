"""openai-agents (a client nobody here wrote) pointed at this API: its ``Runner`` with the
Responses model and with the Chat Completions model, an agent with a function tool of its own.
The server runs the Mojang tools; the agent's own tool runs in the agent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from mojang_chat.local.server import LocalServer, serving
from tests.aws import RunsStack, runs_stack
from tests.fakes import model_server as fake_model

agents = pytest.importorskip("agents")

__all__ = ["runs_stack"]  # the fixture, imported for pytest


@pytest.fixture
def server(runs_stack: RunsStack) -> Iterator[LocalServer]:
    with serving(runs_stack.api) as local:
        yield local


def an_agent(server: LocalServer, model_kind: str, asked: list[str]) -> Any:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)

    @agents.function_tool
    def favourite_player(fan: str) -> str:
        """The favourite Minecraft player of a fan."""
        asked.append(fan)
        return "merrydith"

    model_class = {
        "responses": agents.OpenAIResponsesModel,
        "chat_completions": agents.OpenAIChatCompletionsModel,
    }[model_kind]
    agents.set_tracing_disabled(True)
    return agents.Agent(
        name="fan helper",
        instructions="Answer about Minecraft players.",
        tools=[favourite_player],
        model=model_class(model="gpt-4o-mini", openai_client=client),
    )


@pytest.mark.parametrize(
    ("model_kind", "chained"),
    [
        ("responses", True),  # previous_response_id: the server keeps the conversation
        ("responses", False),  # the Runner's default: it sends the conversation whole
        ("chat_completions", False),
    ],
)
def test_an_agent_with_its_own_tool_completes(
    app_env: Any, server: LocalServer, model_kind: str, chained: bool
) -> None:
    # Given a model that calls the agent's own tool, then the server's, then answers
    model, mojang = app_env
    model.script(
        fake_model.tool_calls(("favourite_player", {"fan": "Johnny"})),
        fake_model.tool_calls(("get_uuid_from_username", {"username": "merrydith"})),
        fake_model.answer_from_tools(),
    )
    asked: list[str] = []
    agent = an_agent(server, model_kind, asked)

    # When the Runner runs it against this API
    result = asyncio.run(
        agents.Runner.run(
            agent,
            "what is the uuid of Johnny's favourite player?",
            auto_previous_response_id=chained,
        )
    )

    # Then the agent ran its own tool, the server ran the lookup, and the answer came back
    assert asked == ["Johnny"]
    assert [r.path for r in mojang.requests()] == ["/minecraft/profile/lookup/name/merrydith"]
    assert "merrydith" in str(result.final_output).lower()
    assert model.schema_errors == []
