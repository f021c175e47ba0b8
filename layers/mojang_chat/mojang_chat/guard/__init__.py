"""The cost guard: per-client and deployment-wide budgets for model work, over shared counters
(DynamoDB when deployed, memory in one process)."""

from mojang_chat.guard.counters import Counters, DynamoCounters, MemoryCounters
from mojang_chat.guard.errors import (
    BudgetExhausted,
    ClientLimited,
    CountersUnavailable,
    GuardRefused,
)
from mojang_chat.guard.guard import (
    DAY_SECONDS,
    MINUTE_SECONDS,
    UNKNOWN_CLIENT,
    Budgets,
    Guard,
    MeteredModel,
    client_key,
)

__all__ = [
    "DAY_SECONDS",
    "MINUTE_SECONDS",
    "UNKNOWN_CLIENT",
    "BudgetExhausted",
    "Budgets",
    "ClientLimited",
    "Counters",
    "CountersUnavailable",
    "DynamoCounters",
    "Guard",
    "GuardRefused",
    "MemoryCounters",
    "MeteredModel",
    "client_key",
]
