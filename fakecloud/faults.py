"""Fault injection, per action (`"*"` matches every action).

- `fail`: answer with an error code and HTTP status, `times` times (None: until cleared).
- `delay`: add latency before the action runs, or after it ran (`after=True`: the write happened,
  the client may time out waiting for the answer).
- `drop`: close the connection without answering, before the action or after it ran.
- `corrupt`: answer HTTP 200 with a malformed body (not JSON, empty, a missing or mistyped
  field) after the action ran.
- `rate_limit`: a token bucket per action answering `Throttling` (or another code) when empty;
  with `per_account_region`, one bucket per (account, region, action), as ECS throttles
  (docs/research/multi-account.md section 6), so a hub's members do not share one quota.
- `fail_instances`: per-instance failure items inside an Attach/Detach batch.
- `invisible_after_create`: eventual consistency; new instances stay invisible to every action
  for `seconds` of clock time or for their next `calls` lookups.

Rate limits and latency use real monotonic time: the client really waits on them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from fakecloud.corruption import KINDS
from fakecloud.errors import ApiError, fault_error


@dataclass
class Rule:
    kind: str  # fail | delay | drop
    action: str
    times: int | None = 1
    code: str = ""
    status: int | None = None
    message: str | None = None
    seconds: float = 0.0
    after: bool = False
    corruption: str = ""  # for kind "corrupt": a fakecloud.corruption kind
    path: str | None = None

    def applies(self, action: str) -> bool:
        return self.action in ("*", action) and (self.times is None or self.times > 0)

    def use(self) -> None:
        if self.times is not None:
            self.times -= 1


@dataclass
class TokenBucket:
    per_second: float
    burst: float
    code: str = "Throttling"
    tokens: float = field(init=False)
    stamp: float = field(init=False, default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class ItemFailure:
    action: str
    instance_ids: set[str]
    code: str
    message: str
    times: int | None = 1


class DropConnection(Exception):  # noqa: N818 - a signal to the server, not an error
    """The server must close the connection without writing a response."""


@dataclass
class Plan:
    """What the server does around one call, decided before it runs."""

    delay_before: float = 0.0
    delay_after: float = 0.0
    drop_before: bool = False
    drop_after: bool = False
    corrupt: tuple[str, str | None] | None = None  # (kind, path) for a malformed 200 answer


class FaultPlan:
    """All configured faults; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[Rule] = []
        self.buckets: dict[str, TokenBucket] = {}
        # Actions limited per (account, region), and those buckets, made on first use.
        self.scoped: set[str] = set()
        self._scoped_buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self.item_failures: list[ItemFailure] = []
        self.invisibility: tuple[float, int] = (0.0, 0)

    def fail(
        self,
        action: str,
        code: str,
        status: int | None = None,
        message: str | None = None,
        times: int | None = 1,
    ) -> None:
        self._add(Rule("fail", action, times, code=code, status=status, message=message))

    def delay(
        self, action: str, seconds: float, times: int | None = None, after: bool = False
    ) -> None:
        self._add(Rule("delay", action, times, seconds=seconds, after=after))

    def drop(self, action: str, times: int | None = 1, after: bool = False) -> None:
        self._add(Rule("drop", action, times, after=after))

    def corrupt(
        self, action: str, kind: str, path: str | None = None, times: int | None = 1
    ) -> None:
        """Answer 200 with a malformed body (after the action ran); see fakecloud.corruption."""
        if kind not in KINDS:
            raise ValueError(f"unknown corruption {kind!r}; one of {', '.join(KINDS)}")
        self._add(Rule("corrupt", action, times, corruption=kind, path=path))

    def rate_limit(
        self,
        action: str,
        per_second: float,
        burst: float | None = None,
        code: str = "Throttling",
        per_account_region: bool = False,
    ) -> None:
        with self._lock:
            self.buckets[action] = TokenBucket(per_second, burst or max(1.0, per_second), code)
            if per_account_region:
                self.scoped.add(action)

    def fail_instances(
        self,
        action: str,
        instance_ids: list[str],
        code: str,
        message: str = "Injected per-instance failure.",
        times: int | None = 1,
    ) -> None:
        with self._lock:
            self.item_failures.append(ItemFailure(action, set(instance_ids), code, message, times))

    def invisible_after_create(self, seconds: float = 0.0, calls: int = 0) -> None:
        with self._lock:
            self.invisibility = (seconds, calls)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.buckets.clear()
            self.scoped.clear()
            self._scoped_buckets.clear()
            self.item_failures.clear()
            self.invisibility = (0.0, 0)

    def _add(self, rule: Rule) -> None:
        with self._lock:
            self.rules.append(rule)

    def before(self, action: str, account: str = "", region: str = "") -> Plan:
        """Consume the faults that apply to one call (by `account` in `region`); raises the
        ApiError to answer with, if any."""
        with self._lock:
            self._check_rate(action, account, region)
            plan = Plan()
            for rule in self.rules:
                if rule.applies(action):
                    self._apply(rule, plan)
            return plan

    def _check_rate(self, action: str, account: str, region: str) -> None:
        name = action if action in self.buckets else "*"
        bucket = self.buckets.get(name)
        if bucket is not None and name in self.scoped:
            key = (account, region, name)
            if key not in self._scoped_buckets:  # the configured bucket is the template
                self._scoped_buckets[key] = TokenBucket(
                    bucket.per_second, bucket.burst, bucket.code
                )
            bucket = self._scoped_buckets[key]
        if bucket is not None and not bucket.take():
            raise fault_error(bucket.code)

    @staticmethod
    def _apply(rule: Rule, plan: Plan) -> None:
        if rule.kind == "fail":
            rule.use()
            raise fault_error(rule.code, rule.status, rule.message)
        rule.use()
        if rule.kind == "corrupt":
            plan.corrupt = (rule.corruption, rule.path)
        elif rule.kind == "delay":
            if rule.after:
                plan.delay_after += rule.seconds
            else:
                plan.delay_before += rule.seconds
        elif rule.after:
            plan.drop_after = True
        else:
            plan.drop_before = True

    def failing_items(self, action: str, instance_ids: list[str]) -> dict[str, ApiError]:
        """Per-instance failures to report for this batch (consumes one use of each rule hit)."""
        found: dict[str, ApiError] = {}
        with self._lock:
            for failure in self.item_failures:
                if failure.action not in ("*", action) or failure.times == 0:
                    continue
                hit = [i for i in instance_ids if i in failure.instance_ids and i not in found]
                for instance_id in hit:
                    found[instance_id] = ApiError(failure.code, failure.message)
                if hit and failure.times is not None:
                    failure.times -= 1
        return found

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rules": [asdict(r) for r in self.rules],
                "rate_limits": {
                    a: {
                        "per_second": b.per_second,
                        "burst": b.burst,
                        "code": b.code,
                        **({"per_account_region": True} if a in self.scoped else {}),
                    }
                    for a, b in self.buckets.items()
                },
                "item_failures": [
                    {**asdict(f), "instance_ids": sorted(f.instance_ids)}
                    for f in self.item_failures
                ],
                "invisible_after_create": {
                    "seconds": self.invisibility[0],
                    "calls": self.invisibility[1],
                },
            }

    def configure(self, spec: dict[str, Any]) -> None:
        """Apply a JSON description (admin endpoint, CLI): {"fail": [{...}], ...}."""
        # Each list names the method that installs its items, e.g. {"delay": [{...}]}.
        for kind in ("fail", "delay", "drop", "corrupt", "rate_limit", "fail_instances"):
            for item in spec.get(kind, []):
                getattr(self, kind)(**item)
        if "invisible_after_create" in spec:
            self.invisible_after_create(**spec["invisible_after_create"])


def pause(seconds: float) -> None:
    """Sleep for an injected delay (none when zero)."""
    if seconds > 0:
        time.sleep(seconds)
