"""Cost on paper: what a million runs of each front door would cost on AWS, computed from what
the benchmark counted (state transitions, Lambda invocations and their durations, DynamoDB
operations) and AWS's published on-demand prices.

Prices: us-east-1, as published on aws.amazon.com/step-functions/pricing,
aws.amazon.com/lambda/pricing, aws.amazon.com/dynamodb/pricing/on-demand and
aws.amazon.com/api-gateway/pricing (read 2026-11-30; DynamoDB's since its November 2024 cut).
Free tiers are left out: they do not scale with a million runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

PRICES_READ = "2026-11-30"
PER_MILLION = 1_000_000
STANDARD_PER_TRANSITION = 25.0 / PER_MILLION
EXPRESS_PER_REQUEST = 1.0 / PER_MILLION
EXPRESS_PER_GB_SECOND = 0.00001667  # the first 1,000 GB-hours a month
EXPRESS_MEMORY_GB = 64 / 1024  # billed in 64 MB chunks; a run's payloads fit in one
LAMBDA_PER_REQUEST = 0.20 / PER_MILLION
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334  # arm64, as the template deploys
DYNAMODB_PER_WRITE_UNIT = 0.625 / PER_MILLION
DYNAMODB_PER_READ_UNIT = 0.125 / PER_MILLION
HTTP_API_PER_REQUEST = 1.0 / PER_MILLION

# Request units of one operation on the small items this project stores (under 1 KB written,
# under 4 KB read: one unit each; a transaction's items cost two). Batch and transactional
# operations count their items.
WRITES = {"PutItem": 1, "UpdateItem": 1, "DeleteItem": 1, "BatchWriteItem": 1}
READS = {"GetItem": 1, "Query": 1, "BatchGetItem": 1, "Scan": 1}
TRANSACTIONS = {"TransactWriteItems": 2, "TransactGetItems": 2}


def request_units(operations: Mapping[str, float]) -> tuple[float, float]:
    """(read units, write units) of DynamoDB ``operations`` (items per operation name)."""
    reads = sum(n * READS.get(op, 0) for op, n in operations.items())
    writes = sum(n * WRITES.get(op, 0) for op, n in operations.items())
    writes += operations.get("TransactWriteItems", 0) * TRANSACTIONS["TransactWriteItems"]
    reads += operations.get("TransactGetItems", 0) * TRANSACTIONS["TransactGetItems"]
    return reads, writes


def per_million_runs(
    *,
    transitions: float,
    execution_s: float,
    api_requests: float,
    lambda_invocations: float,
    lambda_gb_s: float,
    dynamodb: Mapping[str, float],
) -> dict[str, Any]:
    """Dollars per million runs, by service, with one run's measured counts. ``execution_s``
    is the workflow's duration (Express bills it, rounded up to 100 ms); zero transitions
    means no workflow (``/chat``)."""
    reads, writes = request_units(dynamodb)
    workflow = transitions > 0
    billed_s = math.ceil(execution_s * 10) / 10
    costs = {
        "step_functions_standard": transitions * STANDARD_PER_TRANSITION,
        "step_functions_express": (
            EXPRESS_PER_REQUEST + billed_s * EXPRESS_MEMORY_GB * EXPRESS_PER_GB_SECOND
            if workflow
            else 0.0
        ),
        "lambda": lambda_invocations * LAMBDA_PER_REQUEST + lambda_gb_s * LAMBDA_ARM_PER_GB_SECOND,
        "dynamodb": reads * DYNAMODB_PER_READ_UNIT + writes * DYNAMODB_PER_WRITE_UNIT,
        "api_gateway": api_requests * HTTP_API_PER_REQUEST,
    }
    return {name: value * PER_MILLION for name, value in costs.items()}
