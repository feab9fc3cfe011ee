"""The fake cloud's clock: real time from the command line, hand-driven in tests.

Only the instance lifecycle and eventual consistency follow this clock. Signature timestamps
are always checked against the wall clock (the SDK signs with the real time), and rate limits
and injected latency use real monotonic time because the client really waits on them.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


class RealClock:
    """Wall-clock seconds since the epoch."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when a test (or the admin endpoint) advances it."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now


def iso_seconds(epoch: float) -> str:
    """`2026-11-28T06:12:58Z`, the format of event times and RAM dates."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_minutes(epoch: float) -> str:
    """`2026-11-28T06:12Z`, the format of ECS `CreationTime`."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
