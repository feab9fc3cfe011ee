"""The circuit breaker: a run that would change too much changes nothing at all.

`limits.max_changes` caps the writes (attach, replace, detach) one invocation or one region's
sweep may make, `limits.max_detaches` the detaches and replaces among them. The engine counts
the writes it planned before making any; over a limit, every one of them becomes a `skipped` /
`circuit-open` outcome and the run reports the counts, so a bad mapping can never half-apply.
`rolebinder apply --allow-changes N` raises both limits to N for one deliberate rollout.
In a sweep, plans are held (at most the limit, plus one batch) until the whole region has been
planned, then written or refused together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from rolebinder.domain import reasons
from rolebinder.domain.decision import Action
from rolebinder.domain.outcome import SKIPPED, Outcome
from rolebinder.mapping.model import Limits
from rolebinder.service.binder import Plan
from rolebinder.value import Value

_DETACHING = (Action.DETACH, Action.REPLACE)


class Tripped(Value):
    """Why a run wrote nothing: what it planned against what the limits allow."""

    changes: int
    detaches: int
    max_changes: int | None
    max_detaches: int | None

    def sentence(self) -> str:
        limits = [
            f"limits.{name} {limit}"
            for name, limit in (
                ("max_changes", self.max_changes),
                ("max_detaches", self.max_detaches),
            )
            if limit is not None
        ]
        return (
            f"{self.changes} planned change(s), {self.detaches} of them detaching, exceed "
            f"{' / '.join(limits)}: nothing was written (`rolebinder apply --allow-changes "
            f"{self.changes}` rolls it out deliberately)"
        )


class Breaker:
    """Counts planned writes against the limits (thread-safe: sweep writers share it)."""

    def __init__(self, limits: Limits, allow_changes: int | None = None) -> None:
        given = allow_changes is not None
        self.max_changes = allow_changes if given else limits.max_changes
        self.max_detaches = allow_changes if given else limits.max_detaches
        self.tripped: Tripped | None = None
        self._changes = self._detaches = 0
        self._held: list[Plan] = []
        self._lock = threading.Lock()

    @property
    def armed(self) -> bool:
        return self.max_changes is not None or self.max_detaches is not None

    def gate(self, plans: list[Plan]) -> list[Outcome] | None:
        """Count `plans` (all of one run): None to go ahead, else their refusals."""
        self._count(plans)
        return None if self.tripped is None else [self.refusal(p) for p in plans]

    def hold(self, plans: list[Plan]) -> list[Outcome]:
        """Sweep: keep `plans` until `release`; refusals for all held ones once tripped."""
        with self._lock:
            self._count(plans)
            if self.tripped is None:
                self._held.extend(plans)
                return []
            held, self._held = [*self._held, *plans], []
        return [self.refusal(plan) for plan in held]

    def release(self, apply: Callable[[list[Plan]], list[Outcome]]) -> list[Outcome]:
        """Sweep end: write what was held, unless the breaker tripped (then it is empty)."""
        with self._lock:
            held, self._held = self._held, []
        return apply(held) if held else []

    def refusal(self, plan: Plan) -> Outcome:
        assert self.tripped is not None
        detail = f"{self.tripped.sentence()}; wanted: {plan.outcome.detail}"
        return plan.outcome._replace(outcome=SKIPPED, reason=reasons.CIRCUIT_OPEN, detail=detail)

    def _count(self, plans: list[Plan]) -> None:
        self._changes += len(plans)
        self._detaches += sum(1 for p in plans if p.decision.action in _DETACHING)
        over = (self.max_changes is not None and self._changes > self.max_changes) or (
            self.max_detaches is not None and self._detaches > self.max_detaches
        )
        if over:
            self.tripped = Tripped(
                self._changes, self._detaches, self.max_changes, self.max_detaches
            )
