"""Typed configuration, read once from the environment; the OpenAI API key read lazily.

Every setting has one name (the environment variable, as documented in docs/configuration.md
and fed by template.yaml) and one type. A missing or invalid value raises ``ConfigurationError``
naming the variable, at the first use, so a misconfigured function fails fast and says why.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Annotated

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

# How long a key read from Secrets Manager / SSM is reused before it is read again, so a
# rotated key is picked up without a redeploy and a warm container makes no extra calls.
SECRET_MAX_AGE_SECONDS = 300

# Why a shared secret (or the name of the secret holding it) is refused: blank, it would
# leave the API open; padded, no caller could send it (HTTP trims header values).
BLANK_SECRET = "blank or padded with whitespace, which no caller can send"  # noqa: S105
_SHARED_SECRET_SETTINGS = frozenset({"API_SHARED_SECRET", "API_SHARED_SECRET_SECRET"})

DEFAULT_MOJANG_SESSION_URL = "https://sessionserver.mojang.com"
DEFAULT_MINECRAFT_SERVICES_URL = "https://api.minecraftservices.com"

PositiveSeconds = Annotated[float, Field(gt=0, le=900)]


class ConfigurationError(RuntimeError):
    """A setting is missing or invalid; the message names the environment variable."""


class ModelNotConfigured(ConfigurationError):
    """No API key (nor a local model server) is configured; the message says what to set."""


class Settings(BaseModel):
    """Everything the functions read from their environment (the names are the aliases)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    openai_base_url: AnyHttpUrl | None = Field(None, alias="OPENAI_BASE_URL")
    openai_model: str = Field("gpt-4o-mini", alias="OPENAI_MODEL", min_length=1, max_length=200)
    # Locally the key itself; deployed, the name of a Secrets Manager secret or of an SSM
    # SecureString parameter that holds it (never the key in a plain environment value).
    openai_api_key: str | None = Field(None, alias="OPENAI_API_KEY", repr=False)
    openai_api_key_secret: str | None = Field(None, alias="OPENAI_API_KEY_SECRET")
    openai_api_key_parameter: str | None = Field(None, alias="OPENAI_API_KEY_PARAMETER")

    mojang_session_url: AnyHttpUrl = Field(
        AnyHttpUrl(DEFAULT_MOJANG_SESSION_URL), alias="MOJANG_SESSION_URL"
    )
    minecraft_services_url: AnyHttpUrl = Field(
        AnyHttpUrl(DEFAULT_MINECRAFT_SERVICES_URL), alias="MINECRAFT_SERVICES_URL"
    )

    # Limits. The request deadline is also capped by the Lambda's remaining time.
    max_tool_rounds: int = Field(6, alias="MAX_TOOL_ROUNDS", ge=1, le=20)
    request_deadline_seconds: PositiveSeconds = Field(25.0, alias="REQUEST_DEADLINE_SECONDS")
    deadline_margin_seconds: float = Field(1.5, alias="DEADLINE_MARGIN_SECONDS", ge=0, le=10)
    max_completion_tokens: int = Field(1024, alias="MAX_COMPLETION_TOKENS", ge=16, le=32768)
    max_total_tokens: int = Field(60000, alias="MAX_TOTAL_TOKENS", ge=100)
    model_max_retries: int = Field(2, alias="MODEL_MAX_RETRIES", ge=0, le=5)
    tool_output_max_chars: int = Field(8000, alias="TOOL_OUTPUT_MAX_CHARS", ge=200, le=100_000)
    # Calls beyond this in one model turn are not run (the model is told): one turn of 200
    # bulk lookups would otherwise send thousands of Mojang requests.
    max_tool_calls_per_turn: int = Field(8, alias="MAX_TOOL_CALLS_PER_TURN", ge=1, le=64)
    # The longest answer (text and tool arguments of one turn, in characters) the model may
    # give; a longer one is a model error (502), and no more than it is read from the server.
    max_answer_chars: int = Field(20_000, alias="MAX_ANSWER_CHARS", ge=1000, le=200_000)

    mojang_timeout_seconds: PositiveSeconds = Field(4.0, alias="MOJANG_TIMEOUT_SECONDS")
    mojang_max_retries: int = Field(2, alias="MOJANG_MAX_RETRIES", ge=0, le=5)
    mojang_cache_ttl_seconds: float = Field(3600.0, alias="MOJANG_CACHE_TTL_SECONDS", ge=0)
    mojang_negative_cache_ttl_seconds: float = Field(
        120.0, alias="MOJANG_NEGATIVE_CACHE_TTL_SECONDS", ge=0
    )
    mojang_cache_max_entries: int = Field(4096, alias="MOJANG_CACHE_MAX_ENTRIES", ge=1)
    # What every container shares (docs/scaling.md): the cache behind the memory one and the
    # limiter's state, in MOJANG_CACHE_TABLE_NAME; without it, each process has its own.
    mojang_cache_table_name: str | None = Field(None, alias="MOJANG_CACHE_TABLE_NAME", min_length=3)
    # How long one container may look a name up while the others wait for its answer.
    mojang_cache_lease_seconds: float = Field(3.0, alias="MOJANG_CACHE_LEASE_SECONDS", gt=0, le=30)
    # Below Mojang's documented quota (600 per 10 minutes per IP, i.e. 60 a minute on average);
    # 0 switches the limit off.
    mojang_max_requests_per_minute: int = Field(
        50, alias="MOJANG_MAX_REQUESTS_PER_MINUTE", ge=0, le=600
    )
    # How long every container pauses after a 429 that names no Retry-After.
    mojang_rate_limit_pause_seconds: float = Field(
        10.0, alias="MOJANG_RATE_LIMIT_PAUSE_SECONDS", ge=0, le=300
    )

    # Runs (the Step Functions path): where run records live, the workflow that runs them, and
    # how long a run may take before it ends `expired` (OpenAI's runs expire after 10 minutes).
    # The workflow's own TimeoutSeconds (functions/run_workflow.asl.json) is 1000 s: a run must
    # expire, and its last step end, before that (docs/runs.md, "Time limits").
    runs_table_name: str | None = Field(None, alias="RUNS_TABLE_NAME", min_length=3)
    run_state_machine_arn: str | None = Field(None, alias="RUN_STATE_MACHINE_ARN")
    run_expires_seconds: int = Field(600, alias="RUN_EXPIRES_SECONDS", ge=1, le=780)
    runs_retention_days: int = Field(7, alias="RUNS_RETENTION_DAYS", ge=1, le=365)
    # A thread's size: the most messages it holds, and the most of its history (in estimated
    # tokens) one model call is sent; older items are left out first (docs/assistants.md).
    thread_max_messages: int = Field(1000, alias="THREAD_MAX_MESSAGES", ge=1, le=100_000)
    max_context_tokens: int = Field(16_000, alias="MAX_CONTEXT_TOKENS", ge=1000, le=1_000_000)

    # A shared secret that server-to-server callers send (``X-Api-Key``, see http/resolver.py):
    # locally the value itself; deployed, the name of the Secrets Manager secret holding it.
    # Unset: the API is open (browsers rely on CORS and throttling; a secret in a web page is
    # public).
    api_shared_secret: str | None = Field(None, alias="API_SHARED_SECRET", repr=False)
    api_shared_secret_secret: str | None = Field(None, alias="API_SHARED_SECRET_SECRET")

    # The cost guard (mojang_chat/guard, docs/cost.md): per client (its address) and for the
    # whole deployment; 0 switches one off. Its counters live in USAGE_TABLE_NAME, shared by
    # every container; without it, in the memory of one process (the command line, tests).
    client_requests_per_minute: int = Field(10, alias="CLIENT_REQUESTS_PER_MINUTE", ge=0)
    client_tokens_per_day: int = Field(200_000, alias="CLIENT_TOKENS_PER_DAY", ge=0)
    tokens_per_day: int = Field(2_000_000, alias="TOKENS_PER_DAY", ge=0)
    usage_table_name: str | None = Field(None, alias="USAGE_TABLE_NAME", min_length=3)

    # Off by default: questions and tool payloads are users' data.
    log_message_contents: bool = Field(False, alias="LOG_MESSAGE_CONTENTS")

    # Origins whose pages may call the API (comma-separated); none means no CORS headers.
    # Deployed, API Gateway answers CORS itself from the template's AllowedOrigins.
    cors_allowed_origins: tuple[str, ...] = Field((), alias="CORS_ALLOWED_ORIGINS")

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(",") if origin.strip())
        return value

    @field_validator("api_shared_secret", "api_shared_secret_secret")
    @classmethod
    def _no_blank_secret(cls, value: str | None) -> str | None:
        if value is not None and not _usable_secret(value):
            raise ValueError(BLANK_SECRET)
        return value

    @model_validator(mode="after")
    def _one_key_source(self) -> Settings:
        sources = [self.openai_api_key_secret, self.openai_api_key_parameter]
        if all(sources):
            raise ValueError(
                "set OPENAI_API_KEY_SECRET or OPENAI_API_KEY_PARAMETER, not both",
            )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read the settings from ``environ``; blank values count as unset, but for the
        shared secret's, where only an empty value does (whitespace is refused: a secret
        that looks set must never leave the API open)."""
        values = {
            key: value
            for key, value in environ.items()
            if value.strip() or (value and key in _SHARED_SECRET_SETTINGS)
        }
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise ConfigurationError(_configuration_problems(error)) from None

    def required(self, value: str | None, name: str) -> str:
        """``value``, or ``ConfigurationError`` naming the variable ``name`` that must be set."""
        if not value:
            raise ConfigurationError(f"invalid configuration: {name} is not set")
        return value

    @property
    def model_configured(self) -> bool:
        """True when some source of an API key (or a keyless local server) is configured."""
        return bool(
            self.openai_api_key
            or self.openai_api_key_secret
            or self.openai_api_key_parameter
            or self.openai_base_url
        )

    def shared_secret(self) -> str | None:
        """The secret callers must send, or None when the API is open (from the environment,
        or cached from Secrets Manager so that a rotated secret is picked up)."""
        if self.api_shared_secret_secret:
            stored = _stored("API_SHARED_SECRET_SECRET", self.api_shared_secret_secret)
            if not _usable_secret(stored):
                raise ConfigurationError(
                    f"API_SHARED_SECRET_SECRET: the stored value is {BLANK_SECRET}"
                )
            return stored
        return self.api_shared_secret

    def api_key(self) -> str:
        """The OpenAI API key, from the environment or (cached) from Secrets Manager / SSM."""
        if self.openai_api_key_secret:
            return _stored("OPENAI_API_KEY_SECRET", self.openai_api_key_secret)
        if self.openai_api_key_parameter:
            return _stored("OPENAI_API_KEY_PARAMETER", self.openai_api_key_parameter)
        if self.openai_api_key:
            return self.openai_api_key
        if self.openai_base_url:
            # Local OpenAI-compatible servers (Ollama, vLLM, llama.cpp) accept any key.
            return "unused"
        raise ModelNotConfigured(
            "no model is configured: set OPENAI_API_KEY (or OPENAI_API_KEY_SECRET / "
            "OPENAI_API_KEY_PARAMETER when deployed), and OPENAI_BASE_URL for a server other "
            "than OpenAI's"
        )


def _usable_secret(value: str) -> bool:
    """False for a shared secret that is ``BLANK_SECRET``."""
    return bool(value) and value == value.strip()


def _stored(setting: str, name: str) -> str:
    """The value stored under ``name``: a Secrets Manager secret, or for ``*_PARAMETER``
    settings an SSM SecureString; cached for ``SECRET_MAX_AGE_SECONDS``. One that cannot be
    read (a wrong name, a missing permission) is a configuration error naming the setting."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    from mojang_chat.core.observability import logger

    try:
        if setting.endswith("_PARAMETER"):
            value = parameters.get_parameter(name, decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
        else:
            value = parameters.get_secret(name, max_age=SECRET_MAX_AGE_SECONDS)
    except GetParameterError as error:
        # The setting is named; the secret's own name stays in the logs (callers are strangers).
        logger.error(
            "could not read a stored secret", extra={"setting": setting, "secret_name": name}
        )
        cause = type(error.__cause__).__name__ if error.__cause__ else "unreadable"
        raise ConfigurationError(
            f"{setting}: the stored value could not be read ({cause})"
        ) from None
    return str(value)


def _configuration_problems(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "settings"
        problems.append(f"{name}: {item['msg']}")
    return "invalid configuration: " + "; ".join(problems)


@cache
def get_settings() -> Settings:
    """The settings of this process (read once per container)."""
    return Settings.from_env(os.environ)
