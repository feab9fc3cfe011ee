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
bucket starts with `burst` tokens), plus one round trip for the last answer. No sweep can reach
it: its calls depend on each other's answers. The pipeline bound adds those dependencies, and
the marker round trip every attach waits for.
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
RUN = "RunInstances"


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


# -- the pipeline bound: the rate bound, with the data dependencies a sweep cannot skip ---------
#
# rate_bound lets every action start at t=0. A sweep cannot: DescribeInstances pages follow each
# other (page k+1 needs page k's NextToken), a DescribeInstanceRamRole call names instances a page
# has returned, and an Attach batch of 100 instances of one role needs the role reads that cover
# them. Before it, the same batch's ownership markers (TagResources, the MARK calls batch_bound
# counts: a binder that attached first and marked after could leave a binding it cannot prove
# it owns) must be answered: one more round trip, its two calls side by side, not rate limited.
# In a cold container a role's batch also needs that role's GetRole (one per role, at its rate),
# which the first page, naming every role, lets start. Each call waits for its action's token
# (one every 1/rate, a bucket of 1) and takes one round trip. Issuing every call as soon as both
# allow is optimal here (each action's calls become ready in the order they are issued), so the
# last answer of that schedule is a lower bound for any binder that makes the fewest calls.


def pipeline_bound(
    n: int,
    rates: Mapping[str, float],
    round_trip: float,
    roles: int = 2,
    cold: bool = True,
) -> float:
    """Seconds for a first sweep of `n` instances whose roles alternate among `roles` roles
    (`cold`: the container has no role checks cached)."""
    done: dict[tuple[str, int], float] = {}
    free: dict[str, float] = {}

    def call(action: str, index: int, ready: float) -> None:
        start = max(ready, free.get(action, 0.0))
        free[action] = start + 1.0 / rates.get(action, math.inf)
        done[action, index] = start + round_trip

    for page in range(math.ceil(n / DESCRIBE_BATCH)):
        call(DESCRIBE, page, done.get((DESCRIBE, page - 1), 0.0))
    for read in range(math.ceil(n / ROLE_BATCH)):
        call(DESCRIBE_ROLES, read, done[DESCRIBE, read * ROLE_BATCH // DESCRIBE_BATCH])
    for role in range(min(roles, n) if cold else 0):
        call(GET_ROLE, role, done[DESCRIBE, 0])
    for index, last in enumerate(_batch_ends(n, roles)):
        checked = done.get((GET_ROLE, last % roles), 0.0)
        marked = max(done[DESCRIBE_ROLES, last // ROLE_BATCH], checked) + round_trip
        call(ATTACH, index, marked)
    return max(done.values(), default=0.0)


def _batch_ends(n: int, roles: int) -> list[int]:
    """For each Attach batch, in the order they fill, the index of its last instance."""
    ends = []
    for role in range(roles):
        members = list(range(role, n, roles))
        ends += [
            members[min(i + ATTACH_BATCH, len(members)) - 1]
            for i in range(0, len(members), ATTACH_BATCH)
        ]
    return sorted(ends)


# -- the burst bound: launches whose records each start one binding chain -------------------------
#
# A burst is `launches` RunInstances calls of `amount` instances, made one after another by one
# client (each one round trip; the bound lets its record reach a handler the moment it is
# answered). Each record names its instances and one role, so a binder may read their current
# roles (DescribeInstanceRamRole, 50 ids a call) and, cold, check the role (GetRole, once per
# role) at once; it must read their tags (DescribeInstances, 100 ids a call) to decide the role.
# Before the launch's Attach (100 ids a call) the ownership markers of its instances (TagResources,
# side by side, not rate limited) must be answered, and a marker may only be written once the
# tags, the current roles and the role check are in: one more round trip. Each action's calls
# take one token (one every 1/rate, a bucket of 1) in the order they become ready, as in
# pipeline_bound; the last Attach answered is the bound. It holds when every launch fills whole
# batches (`amount` a multiple of 100): then no binder saves a call by merging two launches'
# calls, and merging only makes the earlier launch wait. (For smaller launches a binder could
# merge them and beat these per-launch chains; use rate_bound there.)


class _Schedule:
    """Each call leaves as soon as it is ready and its action's token allows; one round trip."""

    def __init__(self, rates: Mapping[str, float], round_trip: float) -> None:
        self.rates, self.round_trip = rates, round_trip
        self.free: dict[str, float] = {}

    def call(self, action: str, ready: float, count: int = 1) -> float:
        """When the last of `count` calls of `action`, all ready at `ready`, is answered."""
        start = ready
        for _ in range(count):
            start = max(ready, self.free.get(action, 0.0))
            self.free[action] = start + 1.0 / self.rates.get(action, math.inf)
        return start + self.round_trip


def burst_bound(
    launches: int,
    amount: int,
    rates: Mapping[str, float],
    round_trip: float,
    roles: int = 2,
    cold: bool = True,
) -> float:
    """Seconds from the first RunInstances until every instance of `launches` launches of
    `amount` (launch k's instances all of role k % roles) has its role."""
    if amount % DESCRIBE_BATCH or amount % ATTACH_BATCH or amount % ROLE_BATCH:
        raise ValueError(f"launches of {amount} do not fill whole batches: use rate_bound")
    schedule = _Schedule(rates, round_trip)
    launched, checked, bound = 0.0, dict.fromkeys(range(roles), 0.0), 0.0
    for k in range(launches):
        launched = schedule.call(RUN, launched)
        role = k % roles
        if cold and k < roles:
            checked[role] = schedule.call(GET_ROLE, launched)
        described = schedule.call(DESCRIBE, launched, math.ceil(amount / DESCRIBE_BATCH))
        read = schedule.call(DESCRIBE_ROLES, launched, math.ceil(amount / ROLE_BATCH))
        marked = max(described, read, checked[role]) + round_trip
        bound = max(bound, schedule.call(ATTACH, marked, math.ceil(amount / ATTACH_BATCH)))
    return bound
