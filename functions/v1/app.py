"""The OpenAI-compatible API (``/v1/...``): Assistants, Responses and Conversations, Chat
Completions, models."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from mojang_chat import container
from mojang_chat.core import logger, metrics, tracer
from mojang_chat.http import v1_api

# The first request's imports, in Lambda's init phase (full CPU) rather than in the request.
container.preload()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return v1_api().resolve(event, context)
