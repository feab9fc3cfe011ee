"""Bounded, jittered retries inside a time budget: the only retry layer (the SDK's is off).

`backoff_delays` is pure (c7n's `backoff_delays` idea); `Deadline` is the invocation's budget;
`retry_transient` retries a call while it fails with a transient `CloudError` and time remains.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator

from rolebinder.errors import CloudError
from rolebinder.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")


class Backoff(Value):
    """Exponential backoff with full jitter: delay n is uniform in [0, min(cap, base * 2**n)]."""

    base: float = 0.2
    cap: float = 5.0
    attempts: int = 8  # calls in all, the first included


def backoff_delays(backoff: Backoff, rng: random.Random) -> Iterator[float]:
    """The sleeps between attempts; there are `attempts - 1` of them."""
    for n in range(backoff.attempts - 1):
        ceiling = min(backoff.cap, backoff.base * (2**n))
        # Never zero: an immediate retry of a throttled call is wasted quota.
        yield max(backoff.base / 4, rng.uniform(0, ceiling))


class Deadline:
    """Seconds left in the invocation's budget, on a monotonic clock."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())


def retry_transient(
    attempt: Callable[[], T],
    deadline: Deadline,
    backoff: Backoff | None = None,
    *,
    retryable: Callable[[CloudError], bool] = lambda error: error.transient,
    pause: Callable[[CloudError, float], float] = lambda error, delay: delay,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Call `attempt` until it succeeds, fails for good, or waiting would pass the deadline.

    `pause(error, delay)` may shorten the backoff delay, e.g. when a pacer already spaces the
    next attempt.
    """
    delays = backoff_delays(backoff or Backoff(), rng or random.Random())
    while True:
        try:
            return attempt()
        except CloudError as error:
            if not retryable(error):
                raise
            delay = next(delays, None)
            if delay is None or delay >= deadline.remaining():
                raise
            sleep(pause(error, delay))
