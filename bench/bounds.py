"""Lower bounds, from the API's documented batch limits and from rate limits.

Batch limits (docs/research/api-facts.md): DescribeInstances takes 100 ids (or pages 100 at a
time), DescribeInstanceRamRole 50, AttachInstanceRamRole 100 (one role per call), TagResources
50 (the ownership marker every attach is preceded by, one value per call). These are the
API's limits, written down here on purpose rather than imported from the engine, so a bound
never moves when the engine changes.

A batch bound counts the fewest calls any correct binder needs: every instance read once, every
VPC instance's current role read once, each role attached in as few calls as its instances
allow, each attach's ownership marker in as few calls as its instances allow, and one GetRole
per role unless role checks are cached.

A rate bound is the time per-action rate limits impose if every action's calls ran at exactly
its rate, all actions concurrently: max over actions of (calls_a - burst_a) / rate_a (a token
bucket starts with `burst` tokens), plus one round trip for the last answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

DESCRIBE_BATCH = 100
ROLE_BATCH = 50
ATTACH_BATCH = 100
MARK_BATCH = 50

DESCRIBE = "DescribeInstances"
DESCRIBE_ROLES = "DescribeInstanceRamRole"
ATTACH = "AttachInstanceRamRole"
GET_ROLE = "GetRole"
MARK = "TagResources"


def batch_bound(
    described: int,
    vpc: int,
    attach_per_role: Mapping[str, int],
    roles_cached: bool = True,
) -> dict[str, int]:
    """The fewest calls per action to bind `attach_per_role` among `described` instances."""
    calls = {
        DESCRIBE: math.ceil(described / DESCRIBE_BATCH),
        DESCRIBE_ROLES: math.ceil(vpc / ROLE_BATCH),
        ATTACH: sum(math.ceil(n / ATTACH_BATCH) for n in attach_per_role.values() if n),
        MARK: sum(math.ceil(n / MARK_BATCH) for n in attach_per_role.values() if n),
        GET_ROLE: 0 if roles_cached else sum(1 for n in attach_per_role.values() if n),
    }
    return {action: n for action, n in calls.items() if n}


def total(calls: Mapping[str, int]) -> int:
    return sum(calls.values())


def rate_bound(
    calls: Mapping[str, int],
    rates: Mapping[str, float],
    burst: float = 1.0,
    round_trip: float = 0.0,
) -> float:
    """Seconds the rate limits impose on `calls`, all actions at their rate concurrently."""
    waits = [
        max(0.0, count - burst) / rates[action]
        for action, count in calls.items()
        if action in rates
    ]
    return max(waits, default=0.0) + round_trip


def sequential_bound(calls: Mapping[str, int], round_trip: float) -> float:
    """Seconds the calls take one after another at `round_trip` each (a sequential client)."""
    return total(calls) * round_trip
