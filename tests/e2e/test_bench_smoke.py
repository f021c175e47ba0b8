"""`make bench` in its smallest configuration (zero latency): it runs, and its JSON has every
metric of issue 6. No timing is asserted: numbers belong to benchmarks/results, not to tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import run


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_benchmark_writes_every_metric(tmp_path: Path) -> None:
    # When the benchmark runs in quick mode
    output = tmp_path / "latest.json"
    assert run.main(["--quick", "--output", str(output)]) == 0
    # Then the JSON holds each measurement, as finite numbers
    results = json.loads(output.read_text())
    numbers = [
        results["chat"]["1"]["median_s"],
        results["tutorial"]["1"],
        results["runs"]["median_s"],
        results["runs"]["state_transitions"],
        results["cold_start"]["init_s"],
        results["cold_start"]["import_openai_s"],
        results["cold_start"]["first_request_s"],
        results["cold_start"]["peak_rss_mb"],
        results["warm"]["median_ms"],
        results["warm"]["p99_ms"],
        results["warm"]["requests_per_second"],
        results["mojang_burst"]["requests"],
        results["lambda_burst"]["ratio"],
        results["lambda_burst"]["limited"]["max_per_60s"],
        results["lambda_burst"]["shared"]["dynamodb_writes_per_question"],
    ]
    assert all(isinstance(n, int | float) and math.isfinite(n) for n in numbers)
    assert {"python", "platform", "cpus"} <= results["machine"].keys()
    assert {row["metric"] for row in results["table"]} >= {"cold peak RSS", "warm overhead"}
    # The containers sharing DynamoDB never used a deprecated route, nor passed the limit
    shared = results["lambda_burst"]
    assert shared["shared"]["deprecated_requests"] == 0
    assert shared["limited"]["max_per_60s"] <= shared["limit"]
