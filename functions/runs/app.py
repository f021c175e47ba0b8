"""The runs endpoints (/v1/threads/...): start, poll and cancel a run; read its messages."""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from mojang_chat.core import logger, metrics, tracer
from mojang_chat.http import runs_api


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return runs_api().resolve(event, context)
