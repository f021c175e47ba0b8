"""The tasks of the runs workflow (functions/run_workflow.asl.json): one model call, one tool
call, or the ending of a failed run, as the event's ``step`` says."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from mojang_chat import container
from mojang_chat.core import logger, metrics, tracer
from mojang_chat.wiring import run_step

# The first request's imports, in Lambda's init phase (full CPU) rather than in the request.
container.preload()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_step(event, context)
