"""What the runs core's unit tests share: the time they start at and a run's bounds."""

from __future__ import annotations

# Seconds since the epoch at which every test's clock starts.
NOW = 1_000_000
EXPIRES_SECONDS = 600
