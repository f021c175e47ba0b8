"""Fixtures of the runs core's unit tests: in-memory adapters and a clock the test sets."""

from __future__ import annotations

import pytest

from tests.fakes.runs import MemoryRunStore, MemoryWorkflow
from tests.helpers import FakeClock
from tests.unit.runs.helpers import NOW


@pytest.fixture
def store() -> MemoryRunStore:
    return MemoryRunStore()


@pytest.fixture
def workflow() -> MemoryWorkflow:
    return MemoryWorkflow()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(float(NOW))
