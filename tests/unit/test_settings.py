"""Settings: one typed model from the environment; the API key from Secrets Manager or SSM."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from mojang_chat.core.settings import ConfigurationError, ModelNotConfigured, Settings


def test_defaults_are_the_real_mojang_hosts_and_sane_limits() -> None:
    settings = Settings.from_env({})
    assert str(settings.mojang_session_url) == "https://sessionserver.mojang.com/"
    assert str(settings.minecraft_services_url) == "https://api.minecraftservices.com/"
    assert settings.openai_base_url is None
    assert settings.max_tool_rounds == 6
    assert settings.request_deadline_seconds < 29  # inside API Gateway's 30 s
    assert settings.log_message_contents is False
    assert settings.model_configured is False


def test_values_are_read_by_their_documented_names() -> None:
    settings = Settings.from_env(
        {
            "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1",
            "OPENAI_MODEL": "llama3.1",
            "MAX_TOOL_ROUNDS": "3",
            "LOG_MESSAGE_CONTENTS": "true",
            "CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "MINECRAFT_SERVICES_URL": "http://127.0.0.1:9000",
            "UNRELATED": "ignored",
        }
    )
    assert settings.openai_model == "llama3.1"
    assert settings.max_tool_rounds == 3
    assert settings.log_message_contents is True
    assert settings.cors_allowed_origins == ("https://a.example", "https://b.example")
    assert str(settings.minecraft_services_url) == "http://127.0.0.1:9000/"
    # A local OpenAI-compatible server needs no key.
    assert settings.model_configured is True
    assert settings.api_key() == "unused"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"MAX_TOOL_ROUNDS": "many"}, "MAX_TOOL_ROUNDS"),
        ({"MAX_TOOL_ROUNDS": "0"}, "MAX_TOOL_ROUNDS"),
        ({"OPENAI_BASE_URL": "not a url"}, "OPENAI_BASE_URL"),
        ({"MOJANG_SESSION_URL": "ftp://x"}, "MOJANG_SESSION_URL"),
        ({"REQUEST_DEADLINE_SECONDS": "-1"}, "REQUEST_DEADLINE_SECONDS"),
        (
            {"OPENAI_API_KEY_SECRET": "a", "OPENAI_API_KEY_PARAMETER": "b"},
            "OPENAI_API_KEY_SECRET or OPENAI_API_KEY_PARAMETER",
        ),
    ],
)
def test_an_invalid_setting_fails_fast_naming_it(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        Settings.from_env(environ)


def test_the_error_never_repeats_the_value() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({"OPENAI_BASE_URL": "sk-secret-looking-value"})
    assert "sk-secret-looking-value" not in str(raised.value)


def test_blank_values_count_as_unset() -> None:
    assert Settings.from_env({"OPENAI_BASE_URL": " ", "MAX_TOOL_ROUNDS": ""}).max_tool_rounds == 6


def test_no_key_anywhere_says_what_to_set() -> None:
    with pytest.raises(ModelNotConfigured, match="OPENAI_API_KEY"):
        Settings.from_env({}).api_key()


def test_the_key_itself_is_not_in_the_repr() -> None:
    settings = Settings.from_env({"OPENAI_API_KEY": "sk-live-abc"})
    assert "sk-live-abc" not in repr(settings)
    assert settings.api_key() == "sk-live-abc"


@mock_aws
def test_the_key_comes_from_secrets_manager_and_is_cached() -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name="mojang-chat/openai", SecretString="sk-from-secrets-manager")
    settings = Settings.from_env({"OPENAI_API_KEY_SECRET": "mojang-chat/openai"})

    assert settings.api_key() == "sk-from-secrets-manager"
    client.put_secret_value(SecretId="mojang-chat/openai", SecretString="sk-rotated")
    # Cached for SECRET_MAX_AGE_SECONDS: a warm container makes no call per request.
    assert settings.api_key() == "sk-from-secrets-manager"


@mock_aws
def test_the_key_comes_from_an_ssm_secure_string() -> None:
    client = boto3.client("ssm", region_name="us-east-1")
    client.put_parameter(Name="/mojang-chat/openai", Value="sk-from-ssm", Type="SecureString")
    settings = Settings.from_env({"OPENAI_API_KEY_PARAMETER": "/mojang-chat/openai"})
    assert settings.api_key() == "sk-from-ssm"


@mock_aws
@pytest.mark.parametrize(
    ("setting", "method"),
    [
        ("OPENAI_API_KEY_SECRET", "api_key"),
        ("OPENAI_API_KEY_PARAMETER", "api_key"),
        ("API_SHARED_SECRET_SECRET", "shared_secret"),
    ],
)
def test_a_secret_that_cannot_be_read_is_a_configuration_error(setting: str, method: str) -> None:
    settings = Settings.from_env({setting: "mojang-chat/does-not-exist"})
    with pytest.raises(ConfigurationError, match=f"{setting}: the stored value could not be read"):
        getattr(settings, method)()
