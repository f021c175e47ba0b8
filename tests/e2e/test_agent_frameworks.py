"""Agent frameworks nobody here wrote, pointed at this API: openai-agents' ``Runner`` and
pydantic-ai's ``Agent``, each on its Responses model and on its Chat Completions model, with a
function tool of the agent's own. The server runs the Mojang tools; the agent's own tool runs
in the agent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mojang_chat.local.server import LocalServer, serving
from tests.aws import RunsStack, runs_stack
from tests.fakes import model_server as fake_model

__all__ = ["runs_stack"]  # the fixture, imported for pytest

QUESTION = "what is the uuid of Johnny's favourite player?"
INSTRUCTIONS = "Answer about Minecraft players."


@pytest.fixture
def server(runs_stack: RunsStack) -> Iterator[LocalServer]:
    with serving(runs_stack.api) as local:
        yield local


def favourite_player_tool(asked: list[str]) -> Callable[[str], str]:
    def favourite_player(fan: str) -> str:
        """The favourite Minecraft player of a fan."""
        asked.append(fan)
        return "merrydith"

    return favourite_player


def openai_agents(url: str, model_kind: str, tool: Callable[[str], str]) -> str:
    """The ``Runner``'s answer; ``responses_chained`` continues each response by its id (the
    ``Runner``'s default sends the conversation whole)."""
    agents = pytest.importorskip("agents")
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url, api_key="unused", max_retries=0)
    model_class = (
        agents.OpenAIChatCompletionsModel if model_kind == "chat" else agents.OpenAIResponsesModel
    )
    agents.set_tracing_disabled(True)
    agent = agents.Agent(
        name="fan helper",
        instructions=INSTRUCTIONS,
        tools=[agents.function_tool(tool)],
        model=model_class(model="gpt-4o-mini", openai_client=client),
    )
    chained = model_kind == "responses_chained"
    result = asyncio.run(agents.Runner.run(agent, QUESTION, auto_previous_response_id=chained))
    return str(result.final_output)


def pydantic_ai(url: str, model_kind: str, tool: Callable[[str], str]) -> str:
    """The ``Agent``'s answer (it sends the conversation whole)."""
    framework = pytest.importorskip("pydantic_ai")
    from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model_class = OpenAIChatModel if model_kind == "chat" else OpenAIResponsesModel
    provider = OpenAIProvider(base_url=url, api_key="unused")
    agent = framework.Agent(
        model_class("gpt-4o-mini", provider=provider), instructions=INSTRUCTIONS, tools=[tool]
    )
    return str(agent.run_sync(QUESTION).output)


@pytest.mark.parametrize(
    ("framework", "model_kind"),
    [
        (openai_agents, "responses_chained"),
        (openai_agents, "responses"),
        (openai_agents, "chat"),
        (pydantic_ai, "responses"),
        (pydantic_ai, "chat"),
    ],
)
def test_an_agent_with_its_own_tool_completes(
    app_env: Any,
    server: LocalServer,
    framework: Callable[[str, str, Callable[[str], str]], str],
    model_kind: str,
) -> None:
    # Given a model that calls the agent's own tool, then the server's, then answers
    model, mojang = app_env
    model.script(
        fake_model.tool_calls(("favourite_player", {"fan": "Johnny"})),
        fake_model.tool_calls(("get_uuid_from_username", {"username": "merrydith"})),
        fake_model.answer_from_tools(),
    )
    asked: list[str] = []

    # When the framework runs the agent against this API
    answer = framework(f"{server.url}/v1", model_kind, favourite_player_tool(asked))

    # Then the agent ran its own tool, the server ran the lookup, and the answer came back
    assert asked == ["Johnny"]
    assert [r.path for r in mojang.requests()] == ["/minecraft/profile/lookup/name/merrydith"]
    assert "merrydith" in answer.lower()
    assert model.schema_errors == []
    # Each turn the model was sent the agent's instructions
    for sent in model.requests:
        system = [m["content"] for m in sent.body["messages"] if m["role"] == "system"]
        assert INSTRUCTIONS in system
