"""One Function Compute invocation: parse the event, run the engine, journal, return or raise.

Error policy (what Function Compute should do next):
- a malformed event or an ignored one: journal it and return normally (a retry cannot help);
- an invalid mapping or missing configuration: raise (loud, every invocation, until fixed);
- permanent failures for some instances: journal them and return normally;
- transient failures left when the time budget ran out: raise `RetryLaterError`, so FC's async
  retry delivers the event again (the engine converges, so a redelivery repeats no write).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping

from rolebinder.aliyun.retry import Deadline
from rolebinder.aliyun.transport import CallCount
from rolebinder.domain import reasons
from rolebinder.domain.outcome import IGNORED, Outcome
from rolebinder.entrypoints import config
from rolebinder.entrypoints.fleet import Fleet
from rolebinder.entrypoints.wiring import Runtime, credentials_from, runtime_from
from rolebinder.errors import CloudError, EventError, InputError, RolebinderError
from rolebinder.intake.events import (
    IgnoredEvent,
    InstanceCheck,
    SweepRequest,
    Trigger,
    confine_regions,
    exclude_foreign,
    named_instances,
    parse_delivery,
)
from rolebinder.output.journal import Journal
from rolebinder.service.engine import Engine

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any

# Outcomes that also get a warning line, for Log Service alerts.
_WARNED = frozenset({reasons.CONTESTED, reasons.FLAPPING})
# A delivery naming more instances than this is refused whole, with one error line: FC never
# batches more than RunInstances' 100 per event here (template.yml sends one event per call),
# and a forged one must not buy thousands of reads and outcome lines. The sweep repairs.
MAX_DELIVERY_INSTANCES = 1000


class RetryLaterError(RolebinderError):
    """Transient failures remain; raised so Function Compute delivers the event again."""


class ContainerRuntime:
    """The container's Runtime, loaded once, even when its first invocations run concurrently
    (FC instance concurrency): each would otherwise build its own, with its own pacer, and their
    calls would collide in one quota. A failure is not kept: every invocation fails loudly."""

    def __init__(self) -> None:
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Runtime:
        with self._lock:
            if self._runtime is None:
                self._runtime = runtime_from(os.environ)
            return self._runtime

    def cache_clear(self) -> None:
        """Forget it: the next invocation starts as a cold container would (tests)."""
        with self._lock:
            self._runtime = None


container_runtime = ContainerRuntime()


def handle(event: Any, context: Any, function: str) -> dict[str, Any]:
    """The whole handler path; `function` names the handler in the journal."""
    return Invocation(container_runtime(), context, function, os.environ).run(event)


class Invocation:
    """Runs one event delivery to completion."""

    def __init__(
        self,
        runtime: Runtime,
        context: Any,
        function: str,
        env: Mapping[str, str],
        journal: Journal | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.context = context
        self.env = env
        request_id = getattr(context, "request_id", None) or _random_id()
        self.journal = journal or Journal(function=function, invocation_id=request_id)
        self.calls = CallCount()
        self.extra_summary: dict[str, Any] = {}

    def run(self, event: Any) -> dict[str, Any]:
        try:
            triggers = parse_delivery(event)
        except EventError as error:
            self.journal.error(reasons.MALFORMED_EVENT, str(error))
            return self.journal.summary(events=0)
        fleet = self._fleet()
        triggers = confine_regions(
            self._exclude_foreign(triggers, fleet), self.allowed_regions, self.home_region
        )
        named = named_instances(triggers)
        if named > MAX_DELIVERY_INSTANCES:
            message = (
                f"the delivery names {named} instances, more than the "
                f"{MAX_DELIVERY_INSTANCES} accepted; nothing was read or written (the sweep "
                "repairs whatever it should have done)"
            )
            self.journal.error(reasons.ERROR_DELIVERY_TOO_LARGE, message)
            return self.journal.summary(events=len(triggers))
        for outcome in self._outcomes(fleet, triggers):
            self.journal.write(outcome)
            if outcome.reason in _WARNED:
                self._warn_about(outcome)
        for engine in fleet.engines():
            self._warn_if_tripped(engine)
        summary = self.journal.summary(
            events=len(triggers),
            dry_run=self.settings.dry_run,
            mode=self.runtime.mapping.mode,
            calls=self.calls.total,
            **self.extra_summary,
        )
        if self.journal.retryable:
            raise RetryLaterError(
                f"{self.journal.retryable} instance(s) hit transient errors; "
                "Function Compute will deliver the event again"
            )
        return summary

    def _warn_if_tripped(self, engine: Engine) -> None:
        """The circuit-open warning, when the breaker stopped this run's writes."""
        tripped = engine.breaker.tripped
        if tripped is None:
            return
        account = engine.options.account_id if self.settings.is_hub else None
        self.journal.warning(
            reasons.WARNING_CIRCUIT_OPEN,
            tripped.sentence(),
            changes=tripped.changes,
            detaches=tripped.detaches,
            max_changes=tripped.max_changes,
            max_detaches=tripped.max_detaches,
            **({"account_id": account} if account else {}),
        )

    def _exclude_foreign(self, triggers: list[Trigger], fleet: Fleet) -> list[Trigger]:
        """Checks for accounts not served become ignored events; a hub reads its members only
        when an event names another account than its own."""
        others = {t.account_id for t in triggers if isinstance(t, InstanceCheck)}
        if not self.settings.is_hub or all(fleet.is_own(a) for a in others):
            return exclude_foreign(triggers, self.account_id)
        try:
            members = fleet.members()
        except CloudError as error:
            self._members_unavailable(error)
            return triggers  # their checks fail in the fleet, retryably when that may help
        return exclude_foreign(triggers, self.account_id, members)

    def _members_unavailable(self, error: CloudError) -> None:
        self.journal.error(
            reasons.ERROR_MEMBERS_UNAVAILABLE,
            f"cannot list the member accounts from Resource Directory: {error}",
            error_code=error.code,
        )

    @property
    def account_id(self) -> str | None:
        return self.settings.account_id or getattr(self.context, "account_id", None) or None

    @property
    def allowed_regions(self) -> frozenset[str]:
        """The only regions this deployment reads or writes (ROLEBINDER_REGIONS, or its own)."""
        return frozenset(self.settings.regions or (self.home_region,))

    @property
    def home_region(self) -> str:
        region = getattr(self.context, "region", None) or self.settings.default_region
        if not region:
            raise InputError(f"no region: set {config.FC_REGION} or run inside Function Compute")
        return str(region)

    def _fleet(self) -> Fleet:
        credentials = credentials_from(self.env, self.context)
        deadline = Deadline(self._budget())
        return Fleet(
            self.runtime,
            credentials,
            self.home_region,
            deadline,
            own_account=self.account_id,
            calls=self.calls,
        )

    def _budget(self) -> float:
        timeout = getattr(getattr(self.context, "function", None), "timeout", None)
        seconds = float(timeout) if timeout else config.DEFAULT_BUDGET_SECONDS
        return max(1.0, seconds - self.settings.deadline_margin)

    def _outcomes(self, fleet: Fleet, triggers: list[Trigger]) -> Iterator[Outcome]:
        """Outcomes in delivery order; each (account, region)'s checks run as one merged batch
        first."""
        checks: dict[tuple[str | None, str], list[InstanceCheck]] = {}
        for trigger in triggers:
            if isinstance(trigger, InstanceCheck):
                checks.setdefault(self._place(trigger), []).append(trigger)
        settled = {
            (*place, outcome.instance_id): outcome
            for place, place_checks in checks.items()
            for outcome in fleet.check(*place, place_checks)
        }
        for trigger in triggers:
            if isinstance(trigger, IgnoredEvent):
                yield _ignored(trigger, self.settings.dry_run)
            elif isinstance(trigger, InstanceCheck):
                place = self._place(trigger)
                # An instance named by several events gets one outcome, at its first mention.
                yield from (
                    o
                    for i in trigger.instance_ids
                    if (o := settled.pop((*place, i), None)) is not None
                )
        for sweep in (t for t in triggers if isinstance(t, SweepRequest)):
            # Imported here: the sweep and the hub's fan-out (FC client, thread pools) stay off
            # an event's cold start (tests/functional/test_cold_start.py).
            from rolebinder.entrypoints.sweeping import Sweeping  # noqa: PLC0415

            sweeping = Sweeping(self.journal, self.settings, self.allowed_regions, fleet, sweep)
            yield from sweeping.outcomes()
            if sweeping.fanned_out is not None:
                fanned = self.extra_summary.get("fanned_out", 0) + sweeping.fanned_out
                self.extra_summary["fanned_out"] = fanned

    def _warn_about(self, outcome: Outcome) -> None:
        self.journal.warning(
            outcome.reason,
            outcome.detail,
            instance_id=outcome.instance_id,
            region=outcome.region,
            role=outcome.previous_role,
        )

    def _place(self, check: InstanceCheck) -> tuple[str | None, str]:
        """(account, region) of a check: an event naming neither is about the home ones."""
        return check.account_id or self.account_id, check.region or self.home_region


def _ignored(event: IgnoredEvent, dry_run: bool) -> Outcome:
    instance_id = event.instance_ids[0] if len(event.instance_ids) == 1 else None
    return Outcome(
        IGNORED,
        event.reason,
        instance_id=instance_id,
        region=event.region,
        event_id=event.event_id,
        dry_run=dry_run,
        detail=event.detail,
    )


def _random_id() -> str:
    """A random (version 4) UUID for an invocation FC gave no request id (local runs, tests),
    built here: importing `uuid` costs a cold start about 0.7 ms."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
