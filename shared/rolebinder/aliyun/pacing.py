"""Pacing: spend each API action's quota at its rate instead of discovering it by refusals.

ECS and RAM limit calls per account, region and action. A throttled call is a wasted round
trip followed by a jittered sleep, so bursts run far slower than the quota allows. The pacer
spaces each action's calls in this container:
- at a configured rate (ROLEBINDER_RATE_LIMITS, e.g. "AttachInstanceRamRole=10"), always:
  calls leave evenly spaced but arrive with jitter, so some are refused; a call's first
  refusal, if no call left after it, is that jitter (its retry leaves RETRY_GAP later, below);
  any other lowers the pace a little (never under FLOOR of the configured rate), and
  successes bring it back to the full rate;
- for an action with no configured rate, only after it was throttled: then at half the rate
  it was being called at (never under MIN_RATE), growing back by one call per second with
  each successful call (additive increase, multiplicative decrease, as TCP does), so it
  settles just under the quota it shares with every other client of the account.
Thread-safe: the calls of one action from several threads are spaced as one stream, and leave
in the order they first asked (a queue of tickets; each slot is counted from the moment the
call before actually left, so a thread that wakes late does not squeeze the next call in).
A refused call keeps its ticket: its retry goes ahead of every call not yet sent. Against a
configured rate a refusal means the call arrived a few milliseconds before its token, so if no
other call has left since, the retry leaves RETRY_GAP after it rather than a whole interval.
`region(r)` is the pacer of one region's calls, so regions swept side by side (a hub's shards)
do not share one pace; RAM, which is global, stays on the account's own.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# A configured rate is lowered by this factor on each refusal, down to FLOOR of itself, and
# regains RECOVERY of itself with each success.
EASE = 0.93
FLOOR = 0.8
RECOVERY = 0.002
# Seconds added to every paced interval. The service's bucket holds one token, so a call that
# arrives even a millisecond less than 1/rate after the one before is refused, and calls sent
# exactly 1/rate apart arrive with a few milliseconds of jitter (thread wake-ups, signing, the
# network): a small margin turns most of those refusals, each a lost slot, into a short wait.
MARGIN = 0.003
# How soon a refused call of a configured rate is retried, if no other call left after it: its
# token is due within milliseconds (refused calls arrived 1 to 14 ms early), not a whole
# interval later. Never more than the interval itself.
RETRY_GAP = 0.015
# Clock slack for "the slot has come" (float rounding of a sleep that ends exactly on it).
_EPSILON = 1e-9
# Below this a paced action's rate does not fall: a throttled action still makes progress.
MIN_RATE = 2.0
# Calls per second an adapted rate regains with each successful call.
GROWTH = 1.0


@dataclass
class _Lane:
    rate: float | None  # calls per second; None: not paced
    limit: float | None  # the configured rate, if any: the pace never exceeds it
    next_slot: float = 0.0
    recent: deque[float] = field(default_factory=deque)  # call times in the last second
    waiting: list[int] = field(default_factory=list)  # tickets of calls not yet sent
    tickets: int = 0  # tickets handed out
    last: int = -1  # the ticket of the call that left last ...
    last_sent: float = 0.0  # ... and when
    forgiven: int = -1  # the last call whose refusal was taken for arrival jitter

    def join(self, ticket: int | None) -> int:
        """Queue a call; a retry keeps its first ticket, so it goes ahead of later calls."""
        if ticket is None:
            ticket = self.tickets
            self.tickets += 1
        self.waiting.append(ticket)
        return ticket

    def due(self, ticket: int) -> float | None:
        """When this call may leave, or None while an earlier ticket waits."""
        return self.next_slot if ticket == min(self.waiting) else None

    def depart(self, ticket: int, now: float) -> None:
        if ticket in self.waiting:
            self.waiting.remove(ticket)
        self.last, self.last_sent = ticket, now
        if self.rate is not None:
            self.next_slot = max(now, self.next_slot) + 1.0 / self.rate + MARGIN


class Pacer:
    """Spaces calls per action; `wait` before a call, `throttled` / `succeeded` after it."""

    def __init__(
        self,
        rates: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rates = dict(rates or {})
        self._lanes = {action: _Lane(rate, rate) for action, rate in self._rates.items()}
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._regions: dict[str, Pacer] = {}

    def region(self, region: str) -> Pacer:
        """The pacer of this region's calls, made on first use: ECS quotas are per account,
        region and action, so one region's calls never wait for another's."""
        with self._lock:
            found = self._regions.get(region)
            if found is None:
                found = self._regions[region] = Pacer(self._rates, self._clock, self._sleep)
            return found

    def wait(self, action: str, budget: float, ticket: int | None = None) -> int:
        """Block until `action` may be called (never longer than `budget` seconds); the call's
        ticket, which its retries pass back (and `throttled` too) to keep their place."""
        end = self._clock() + budget
        with self._cond:
            lane = self._lane(action)
            now = self._clock()
            lane.recent.append(now)
            while lane.recent and lane.recent[0] < now - 1.0:
                lane.recent.popleft()
            ticket = lane.join(ticket)
        while True:
            with self._cond:
                now = self._clock()
                due = lane.due(ticket) if lane.rate is not None else now
                if (due is not None and due - now <= _EPSILON) or now >= end:
                    lane.depart(ticket, now)
                    self._cond.notify_all()
                    return ticket
                if due is None:  # an earlier call goes first; it wakes us when it leaves
                    self._cond.wait(end - now)
                    continue
            self._sleep(min(due, end) - now)

    def throttled(self, action: str, ticket: int | None = None) -> None:
        """The service refused a call (its `ticket`, from `wait`) for flow control: slow this
        action down; if nothing left after it, let its retry leave soon."""
        with self._cond:
            lane = self._lane(action)
            if lane.limit is not None and lane.rate is not None:
                self._refused(lane, lane.limit, lane.rate, ticket)
                return
            observed = float(len(lane.recent)) or MIN_RATE
            lane.rate = max(MIN_RATE, min(lane.rate or observed, observed) / 2)

    def _refused(self, lane: _Lane, limit: float, rate: float, ticket: int | None) -> None:
        """A configured rate's refusal. The first of a call that left last is arrival jitter
        (its token is due within ms): its retry leaves soon and the pace stays. Any other
        (a second refusal of the same call, or one whose slot another call took) eases it."""
        jitter = ticket is not None and ticket == lane.last
        if not jitter or ticket == lane.forgiven:
            lane.rate = rate = max(limit * FLOOR, rate * EASE)
        if ticket is not None and jitter:
            lane.forgiven = ticket
            gap = min(RETRY_GAP, 1.0 / rate)
            lane.next_slot = min(lane.next_slot, lane.last_sent + gap)
            self._cond.notify_all()

    def succeeded(self, action: str) -> None:
        with self._cond:
            lane = self._lane(action)
            if lane.rate is None:
                return
            if lane.limit is None:
                lane.rate += GROWTH
            else:
                lane.rate = min(lane.limit, lane.rate + lane.limit * RECOVERY)

    def rate(self, action: str) -> float | None:
        with self._cond:
            return self._lane(action).rate

    def _lane(self, action: str) -> _Lane:
        lane = self._lanes.get(action)
        if lane is None:
            lane = self._lanes[action] = _Lane(None, None)
        return lane
