"""Instances this container has just settled, so an echo of their creation costs no API call.

After a RunInstances record has been handled, the Running state change of the same instances
follows seconds later (it is the safety net for a lost record). Within ROLEBINDER_SETTLED_SECONDS
a container answers such a creation event from what it decided, instead of reading the
instance again. Tag events are never answered from here: a tag change is exactly what could
change the decision. A mapping change starts new containers, and the sweep repairs anything
changed behind rolebinder's back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rolebinder.domain import reasons
from rolebinder.domain.outcome import ATTACHED, REPLACED, SKIPPED, UNCHANGED, Outcome

MAX_ENTRIES = 50_000


class SettledCache:
    """Recent final outcomes per instance, for `ttl` seconds."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        # Keyed by (account, instance): a hub's container serves many accounts, and one
        # account's event must never be answered from what was settled in another.
        self._entries: dict[tuple[str | None, str], tuple[float, Outcome]] = {}
        self._lock = threading.Lock()

    def remember(self, outcome: Outcome) -> None:
        """Keep a final, written (not dry-run) outcome of one instance."""
        final = outcome.outcome in (ATTACHED, REPLACED, UNCHANGED, SKIPPED)
        if self.ttl <= 0 or outcome.dry_run or not final or outcome.instance_id is None:
            return
        if outcome.reason == reasons.INSTANCE_NOT_FOUND:
            return
        now = self._clock()
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries = {k: v for k, v in self._entries.items() if now - v[0] < self.ttl}
            self._entries[(outcome.account_id, outcome.instance_id)] = (now, outcome)

    def recall(
        self, instance_id: str, event_id: str | None, account_id: str | None = None
    ) -> Outcome | None:
        """What this container settled for the account's instance within `ttl`, as an outcome
        now (`account_id`: the outcome's, as remembered)."""
        with self._lock:
            entry = self._entries.get((account_id, instance_id))
        if entry is None or self._clock() - entry[0] >= self.ttl:
            return None
        age, earlier = self._clock() - entry[0], entry[1]
        detail = f"settled by this container {age:.0f} s ago; not read again"
        if earlier.outcome in (ATTACHED, REPLACED, UNCHANGED):
            return earlier._replace(
                outcome=UNCHANGED,
                reason=reasons.ALREADY_BOUND,
                previous_role=earlier.role,
                event_id=event_id,
                detail=detail,
            )
        return earlier._replace(event_id=event_id, detail=f"{earlier.detail}; {detail}")
