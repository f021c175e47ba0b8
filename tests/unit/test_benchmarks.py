"""The benchmark's own arithmetic (benchmarks/): cost on paper, request units, callgrind's
totals, the turn order, the tables. No timing is asserted here or anywhere in the tests."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import contenders, cost, doors, run, sidebyside


def test_a_million_runs_cost_their_counts_times_the_prices() -> None:
    # Given one run's counts: 8 transitions, a 1.01 s execution, 3 requests, 5 invocations
    money = cost.per_million_runs(
        transitions=8,
        execution_s=1.01,
        api_requests=3,
        lambda_invocations=5,
        lambda_gb_s=0.5,
        dynamodb={"GetItem": 2, "PutItem": 1, "TransactWriteItems": 2},
    )
    # Then each service is its units times its price, a million times
    assert money["step_functions_standard"] == pytest.approx(8 * 25.0)
    # Express: one request plus 1.1 s (rounded up to 100 ms) of one 64 MB chunk
    assert money["step_functions_express"] == pytest.approx(1.0 + 1.1 * (64 / 1024) * 16.67)
    assert money["lambda"] == pytest.approx(5 * 0.20 + 0.5 * 13.3334)
    assert money["dynamodb"] == pytest.approx(2 * 0.125 + (1 + 2 * 2) * 0.625)
    assert money["api_gateway"] == pytest.approx(3.0)


def test_a_door_without_a_workflow_costs_nothing_on_step_functions() -> None:
    money = cost.per_million_runs(
        transitions=0, execution_s=0, api_requests=1, lambda_invocations=1, lambda_gb_s=0.1,
        dynamodb={},
    )  # fmt: skip
    assert money["step_functions_standard"] == money["step_functions_express"] == 0


def test_request_units_count_items_and_transactions_double() -> None:
    assert cost.request_units({"Query": 1, "BatchGetItem": 3, "TransactWriteItems": 2}) == (4, 4)
    assert cost.request_units({"DescribeTable": 5}) == (0, 0)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"TableName": "t", "Key": {}}, 1),
        ({"TransactItems": [{}, {}, {}]}, 3),
        ({"RequestItems": {"a": {"Keys": [{}, {}]}, "b": {"Keys": [{}]}}}, 3),
        ({"RequestItems": {"a": [{"PutRequest": {}}, {"DeleteRequest": {}}]}}, 2),
    ],
    ids=["one", "transaction", "batch-get", "batch-write"],
)
def test_a_dynamodb_request_counts_the_items_it_bills(
    params: dict[str, Any], expected: int
) -> None:
    assert doors.items(params) == expected


def test_callgrind_total_is_the_dump_summary() -> None:
    dump = "version: 1\ncreator: callgrind\nevents: Ir\nsummary: 52991598\ntotals: 52991598\n"
    assert sidebyside.callgrind_total(dump) == 52_991_598
    with pytest.raises(ValueError, match="summary"):
        sidebyside.callgrind_total("events: Ir\n")


def test_each_turn_starts_with_another_contender() -> None:
    keys = ["a", "b", "c"]
    assert [sidebyside.rotated(keys, turn)[0] for turn in range(4)] == ["a", "b", "c", "a"]


def test_the_best_peer_is_the_lowest_and_never_the_project() -> None:
    measured = {"project": {"x": 1.0}, "plain": {"x": 4.0}, "agents": {"x": 3.0}}
    assert sidebyside.best_peer(measured, lambda row: row["x"]) == 3.0


def test_the_plain_loop_describes_the_tools_the_frameworks_get(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the typed tools the frameworks make their schemas from
    monkeypatch.setenv("MINECRAFT_SERVICES_URL", "http://127.0.0.1:9")
    typed = [tool.__name__ for tool in contenders.mojang_tools()]
    # Then the plain loop's hand-written schemas are for the same tools
    assert [tool["function"]["name"] for tool in contenders.PLAIN_TOOLS] == typed
    assert set(contenders.PEERS) == set(contenders.CONTENDERS) - {"project", "floor"}


def test_grid_pads_columns_to_the_widest_cell() -> None:
    assert run.grid([["a", "bb"], ["ccc", "d"]]) == "a    bb\nccc  d"
