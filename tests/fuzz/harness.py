"""What every fuzz test shares: the active profile, the example tally and the hang guard.

The profiles themselves are registered in `tests/fuzz/conftest.py`. A profile's `max_examples` is
the budget of one *target* (the event intake, the mapping loader, the handler path); each test
takes a `share` of
it, and the shares of a target add up to at least 1, so `fuzz-ci` runs 10,000+ examples per target.
`fuzz` applies that share and tallies the examples that really ran; the conftest prints the
tally after the run.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import settings

INTAKE = "event intake"
MAPPING = "mapping loader"
HANDLER = "handler, no write"
# Targets that must reach the active profile's max_examples, the handler path included (its
# examples go over HTTP to a fake cloud: about 40 s for 10,000 on two workers).
BUDGETED = (INTAKE, MAPPING, HANDLER)

PROFILE_VARIABLE = "ROLEBINDER_FUZZ_PROFILE"
DEFAULT_PROFILE = "fuzz-ci"
# No single input may take longer to parse (or load) than this: pathological slowness, not a
# timing target. The profiles' deadline is only a backstop for a whole example.
PARSE_SECONDS = 1.0
# A hung parser is stopped after this long instead of stalling CI until its global timeout.
HANG_SECONDS = 10.0


@dataclass
class Tally:
    """What this process ran: examples by target, and its slowest timed parse (the conftest
    reports both per test, so a run shows how far its inputs stayed from PARSE_SECONDS)."""

    examples: Counter[str] = field(default_factory=Counter)
    slowest: float = 0.0


TALLY = Tally()

F = TypeVar("F", bound=Callable[..., Any])


def profile_name() -> str:
    """The profile chosen through ROLEBINDER_FUZZ_PROFILE (default fuzz-ci)."""
    return os.environ.get(PROFILE_VARIABLE) or DEFAULT_PROFILE


def fuzz_settings(share: float, **overrides: Any) -> settings:
    """The active profile, with max_examples set to this test's share of its target's budget."""
    profile = settings.get_profile(profile_name())
    examples = max(1, math.ceil(profile.max_examples * share))
    return settings(profile, max_examples=examples, **overrides)


def fuzz(target: str, share: float, **overrides: Any) -> Callable[[F], F]:
    """Settings for a `@given` test below it, and a tally of the examples it really runs.

    Goes above `@given`: it applies `fuzz_settings(share)`, wraps Hypothesis' inner test (the
    hook Hypothesis documents for wrapping each example) to count it for `target` and stop a
    hang, and records `(target, planned examples)` for the summary.
    """
    chosen = fuzz_settings(share, **overrides)

    def decorate(test: F) -> F:
        inner = test.hypothesis.inner_test  # type: ignore[attr-defined]

        @functools.wraps(inner)
        def run(*args: Any, **kwargs: Any) -> Any:
            with hang_guard(HANG_SECONDS):
                result = inner(*args, **kwargs)
            TALLY.examples[target] += 1  # only complete examples: not rejected, not cut short
            return result

        test.hypothesis.inner_test = run  # type: ignore[attr-defined]
        wrapped = chosen(test)
        wrapped.fuzz_plan = (target, chosen.max_examples)  # type: ignore[attr-defined]
        return wrapped

    return decorate


class SlowError(AssertionError):
    """One input took longer than PARSE_SECONDS."""


def timed(call: Callable[..., Any], *args: Any) -> Any:
    """`call(*args)`, failing (whatever it returned or raised) when it took over PARSE_SECONDS.

    A slow call is timed twice more and reported only if it stays slow: a pause that is not the
    input's fault (the loader's first, lazy import of jsonschema; a machine busy with something
    else) passes, a pathological input does not.
    """
    start = time.perf_counter()
    try:
        return call(*args)
    finally:
        elapsed = time.perf_counter() - start
        for _ in range(2):
            if elapsed > PARSE_SECONDS:
                elapsed = min(elapsed, _seconds(call, *args))
        TALLY.slowest = max(TALLY.slowest, elapsed)
        if elapsed > PARSE_SECONDS:
            raise SlowError(f"one input took {elapsed:.2f} s, more than {PARSE_SECONDS:.0f} s")


def _seconds(call: Callable[..., Any], *args: Any) -> float:
    start = time.perf_counter()
    with contextlib.suppress(Exception):  # what it raises was checked on the first call
        call(*args)
    return time.perf_counter() - start


class HangError(AssertionError):
    """One example ran for longer than HANG_SECONDS."""


@contextlib.contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    """Turn a hang inside the block into a test failure (main thread, POSIX only)."""
    if not hasattr(signal, "setitimer") or _nested_or_off_main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise HangError(f"one example ran for more than {seconds:.0f} s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _nested_or_off_main_thread() -> bool:
    if threading.current_thread() is not threading.main_thread():
        return True
    return signal.getitimer(signal.ITIMER_REAL)[0] > 0
