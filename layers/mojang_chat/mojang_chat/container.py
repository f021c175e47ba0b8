"""The clients of this container, created once per container on first use and then reused.

Lazily, not at import: a test (or the local server) sets its environment first, and a cold
start pays only for what the first request needs. ``reset()`` forgets them all.

Kept in the current container (``core.isolation``): on Lambda that is the process; the local
server runs several containers of a function in one process, each with its own clients and
resolver, so that concurrent invocations share none of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from mojang_chat.chat.loop import Limits
from mojang_chat.chat.model import Model
from mojang_chat.chat.registry import new_executor
from mojang_chat.core import isolation
from mojang_chat.core.settings import get_settings
from mojang_chat.mojang.client import MojangClient

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient
    from openai import OpenAI

    from mojang_chat.guard import Guard
    from mojang_chat.runs.store import RunStore
    from mojang_chat.runs.workflow import Workflow

T = TypeVar("T")


def per_container(factory: Callable[[], T]) -> Callable[[], T]:
    """Decorator: call ``factory`` once per container, until ``reset()``."""

    @functools.wraps(factory)
    def get() -> T:
        return isolation.current().get(get, factory)

    return get


@per_container
def openai_client() -> OpenAI:
    """One OpenAI client (one connection pool); the key is read (and re-read when its cache
    expires) through the settings, so a rotated secret is picked up."""
    from openai import OpenAI

    settings = get_settings()
    return OpenAI(
        api_key=settings.api_key,
        base_url=str(settings.openai_base_url) if settings.openai_base_url else None,
        max_retries=0,  # Model retries itself, within the deadline
        timeout=settings.request_deadline_seconds,
    )


@per_container
def model() -> Model:
    """The configured model."""
    settings = get_settings()
    return Model(
        openai_client(),
        model=settings.openai_model,
        max_completion_tokens=settings.max_completion_tokens,
        max_retries=settings.model_max_retries,
        max_answer_chars=settings.max_answer_chars,
    )


@per_container
def mojang() -> MojangClient:
    """The Mojang adapter, with its session and cache; over the shared cache and limiter
    state when a table is configured."""
    settings = get_settings()
    if not settings.mojang_cache_table_name:
        return MojangClient.from_settings(settings)
    from mojang_chat.mojang.shared import DynamoSharedState

    return MojangClient.from_settings(
        settings, DynamoSharedState(dynamodb(), settings.mojang_cache_table_name)
    )


@per_container
def executor() -> ThreadPoolExecutor:
    """The thread pool tool calls run on."""
    return new_executor()


@per_container
def dynamodb() -> DynamoDBClient:
    """One DynamoDB client (the runs table); boto3 comes with the Lambda runtime."""
    import boto3

    client: DynamoDBClient = boto3.client("dynamodb")
    return client


@per_container
def stepfunctions() -> SFNClient:
    """One Step Functions client (starting, stopping and describing run executions)."""
    import boto3

    client: SFNClient = boto3.client("stepfunctions")
    return client


@per_container
def run_store() -> RunStore:
    """The runs table, through its DynamoDB adapter."""
    # Not at import: /chat never reads the table.
    from mojang_chat.runs.dynamodb import DynamoRunStore

    settings = get_settings()
    table = settings.required(settings.runs_table_name, "RUNS_TABLE_NAME")
    return DynamoRunStore(dynamodb(), table)


@per_container
def workflow() -> Workflow:
    """The runs workflow, through its Step Functions adapter."""
    from mojang_chat.runs.workflow import StepFunctionsWorkflow

    settings = get_settings()
    machine = settings.required(settings.run_state_machine_arn, "RUN_STATE_MACHINE_ARN")
    return StepFunctionsWorkflow(stepfunctions(), machine)


@per_container
def guard() -> Guard:
    """The cost guard, over the usage table when one is configured; otherwise over counters
    in this process's memory (the command line, tests), which no other process shares."""
    from mojang_chat.guard import Budgets, DynamoCounters, Guard, MemoryCounters

    settings = get_settings()
    budgets = Budgets(
        client_requests_per_minute=settings.client_requests_per_minute,
        client_tokens_per_day=settings.client_tokens_per_day,
        tokens_per_day=settings.tokens_per_day,
    )
    if settings.usage_table_name:
        return Guard(DynamoCounters(dynamodb(), settings.usage_table_name), budgets)
    return Guard(MemoryCounters(), budgets)


def preload() -> None:
    """Import now what the first model call would import: the openai SDK (about 0.4 s, most of
    a cold start) and the tools' schemas built with it.

    Called at import by the functions that call the model, so that this work happens in
    Lambda's init phase, which runs at full CPU (a 256 MB function gets a fraction of a vCPU
    once invoked) and which SnapStart snapshots, instead of in the first visitor's request.
    Reads no settings and creates no client: importing stays free of side effects.
    """
    import aws_lambda_powertools.event_handler.middlewares.openapi_validation

    # The OpenAPI models the resolver builds its validation and docs from (~0.15 s of
    # pydantic class construction), imported by the first request otherwise.
    import aws_lambda_powertools.event_handler.openapi.models  # noqa: F401
    import httpcore2  # noqa: F401 (the openai client's transport, imported when it is made)
    import openai
    import openai.resources.chat.completions  # noqa: F401 (loaded lazily by client.chat)

    from mojang_chat.mojang.tools import mojang_tools

    mojang_tools.definitions  # noqa: B018 (cached on first access)


def limits() -> Limits:
    """The conversation limits from the settings."""
    settings = get_settings()
    return Limits(
        max_tool_rounds=settings.max_tool_rounds,
        max_total_tokens=settings.max_total_tokens,
        tool_output_max_chars=settings.tool_output_max_chars,
        max_tool_calls_per_turn=settings.max_tool_calls_per_turn,
    )


def reset() -> None:
    """Forget the settings and every container's clients (tests, and the local server on
    reconfiguration)."""
    get_settings.cache_clear()
    isolation.clear_all()
