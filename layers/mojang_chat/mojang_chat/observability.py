"""The Powertools logger, tracer and metrics every module of the package reports through.

One instance each per process; the service name comes from POWERTOOLS_SERVICE_NAME (set by the
template), the namespace from POWERTOOLS_METRICS_NAMESPACE.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="mojang-chat")
tracer = Tracer(service="mojang-chat")
metrics = Metrics(namespace="MojangChat", service="mojang-chat")


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to the counter metric ``name`` (flushed at the end of the invocation)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
