"""`make bench` in its smallest configuration (zero latency): it runs, its JSON has every
measure of issue 14, and it says it is a smoke run that judges nothing. No timing is asserted:
numbers belong to benchmarks/results, not to tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import run, sidebyside


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quick_benchmark_writes_every_measure_and_judges_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the benchmark runs in quick mode
    output = tmp_path / "latest.json"
    assert run.main(["--quick", "--output", str(output)]) == 0
    # Then the JSON holds each measurement of each installed contender, as finite numbers
    results = json.loads(output.read_text())
    keys = sidebyside.contenders()
    assert {"project", "plain"} <= set(keys)
    assert set(results["contenders"]) == set(results["cold"]) == set(keys)
    numbers = [
        number
        for key in keys
        for number in (
            results["contenders"][key]["sizes"]["1"]["median_s"],
            results["contenders"][key]["sizes"]["1"]["mojang_requests"],
            results["contenders"][key]["cpu_ms"],
            results["cold"][key]["cold_s"],
            results["cold"][key]["peak_rss_mb"],
        )
    ]
    for door in ("chat", "runs", "responses"):
        numbers += [results["doors"][door]["seconds"], results["doors"][door]["lambda_invocations"]]
        numbers += list(results["cost"][door].values())
    numbers += [results["doors"]["runs"]["transitions"], results["cold_detail"]["import_openai_s"]]
    numbers += [results["lambda_burst"]["ratio"], results["lambda_burst"]["limited"]["max_per_60s"]]
    assert all(isinstance(n, int | float) and math.isfinite(n) for n in numbers)
    assert [results["contenders"][key]["first_failures"] for key in keys] == [[]] * len(keys)
    assert results["doors"]["runs"]["transitions"] > 0
    assert {"python", "platform", "cpus"} <= results["machine"].keys()
    # And it calls itself a smoke run, with no verdict anywhere
    printed = capsys.readouterr().out
    assert "SMOKE RUN" in printed
    assert "pass" not in printed
    assert "MISSED" not in printed
    assert results["judged"] is False
    assert all(row["met"] is None for row in results["table"])
    assert results["instructions"] == {"skipped": "smoke run"}
    # And the containers sharing DynamoDB never used a deprecated route, nor passed the limit
    shared = results["lambda_burst"]
    assert shared["shared"]["deprecated_requests"] == 0
    assert shared["limited"]["max_per_60s"] <= shared["limit"]
