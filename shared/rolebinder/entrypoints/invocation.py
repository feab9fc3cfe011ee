"""One Function Compute invocation: parse the event, run the engine, journal, return or raise.

Error policy (what Function Compute should do next):
- a malformed event or an ignored one: journal it and return normally (a retry cannot help);
- an invalid mapping or missing configuration: raise (loud, every invocation, until fixed);
- permanent failures for some instances: journal them and return normally;
- transient failures left when the time budget ran out: raise `RetryLaterError`, so FC's async
  retry delivers the event again (the engine converges, so a redelivery repeats no write).
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from rolebinder.aliyun.retry import Deadline
from rolebinder.aliyun.transport import CallCount
from rolebinder.domain import reasons
from rolebinder.domain.outcome import IGNORED, Outcome
from rolebinder.entrypoints import config
from rolebinder.entrypoints.wiring import Runtime, build_engine, credentials_from, runtime_from
from rolebinder.errors import EventError, InputError, RolebinderError
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

# Outcomes that also get a warning line, for Log Service alerts.
_WARNED = frozenset({reasons.CONTESTED, reasons.FLAPPING})
# A delivery naming more instances than this is refused whole, with one error line: FC never
# batches more than RunInstances' 100 per event here (template.yml sends one event per call),
# and a forged one must not buy thousands of reads and outcome lines. The sweep repairs.
MAX_DELIVERY_INSTANCES = 1000


class RetryLaterError(RolebinderError):
    """Transient failures remain; raised so Function Compute delivers the event again."""


@functools.lru_cache(maxsize=1)
def container_runtime() -> Runtime:
    """Loaded once per container. A failure is not cached: every invocation fails loudly."""
    return runtime_from(os.environ)


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
        request_id = getattr(context, "request_id", None) or str(uuid.uuid4())
        self.journal = journal or Journal(function=function, invocation_id=request_id)
        self.calls = CallCount()

    def run(self, event: Any) -> dict[str, Any]:
        try:
            triggers = parse_delivery(event)
        except EventError as error:
            self.journal.error(reasons.MALFORMED_EVENT, str(error))
            return self.journal.summary(events=0)
        triggers = confine_regions(
            exclude_foreign(triggers, self.account_id), self.allowed_regions, self.home_region
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
        engine = self._engine()
        for outcome in self._outcomes(engine, triggers):
            self.journal.write(outcome)
            if outcome.reason in _WARNED:
                self._warn_about(outcome)
        self._warn_if_tripped(engine)
        summary = self.journal.summary(
            events=len(triggers),
            dry_run=self.settings.dry_run,
            mode=self.runtime.mapping.mode,
            calls=self.calls.total,
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
        self.journal.warning(
            reasons.WARNING_CIRCUIT_OPEN,
            tripped.sentence(),
            changes=tripped.changes,
            detaches=tripped.detaches,
            max_changes=tripped.max_changes,
            max_detaches=tripped.max_detaches,
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

    def _engine(self) -> Engine:
        credentials = credentials_from(self.env, self.context)
        deadline = Deadline(self._budget())
        return build_engine(self.runtime, credentials, self.home_region, deadline, calls=self.calls)

    def _budget(self) -> float:
        timeout = getattr(getattr(self.context, "function", None), "timeout", None)
        seconds = float(timeout) if timeout else config.DEFAULT_BUDGET_SECONDS
        return max(1.0, seconds - self.settings.deadline_margin)

    def _outcomes(self, engine: Engine, triggers: list[Trigger]) -> Iterator[Outcome]:
        """Outcomes in delivery order; each region's checks run as one merged batch first."""
        checks: dict[str, list[InstanceCheck]] = {}
        for trigger in triggers:
            if isinstance(trigger, InstanceCheck):
                checks.setdefault(self._region(trigger), []).append(trigger)
        settled = {
            (region, outcome.instance_id): outcome
            for region, region_checks in checks.items()
            for outcome in engine.check(region_checks, region)
        }
        for trigger in triggers:
            if isinstance(trigger, IgnoredEvent):
                yield _ignored(trigger, self.settings.dry_run)
            elif isinstance(trigger, InstanceCheck):
                region = self._region(trigger)
                # An instance named by several events gets one outcome, at its first mention.
                yield from (
                    o
                    for i in trigger.instance_ids
                    if (o := settled.pop((region, i), None)) is not None
                )
        for sweep in (t for t in triggers if isinstance(t, SweepRequest)):
            for region in self._sweep_regions(sweep):
                yield from self._sweep(engine, region, sweep.event_id)

    def _sweep_regions(self, sweep: SweepRequest) -> list[str]:
        """The configured regions, narrowed (never widened) by the timer payload."""
        allowed = sorted(self.allowed_regions)
        if not sweep.regions:
            return allowed
        refused = [region for region in sweep.regions if region not in self.allowed_regions]
        if refused:
            self.journal.warning(
                reasons.WARNING_REGION_REFUSED,
                f"the timer payload names {', '.join(refused)}, outside this deployment's "
                f"regions ({', '.join(allowed)}); not swept",
                regions=refused,
            )
        return [region for region in sweep.regions if region in self.allowed_regions]

    def _warn_about(self, outcome: Outcome) -> None:
        self.journal.warning(
            outcome.reason,
            outcome.detail,
            instance_id=outcome.instance_id,
            region=outcome.region,
            role=outcome.previous_role,
        )

    def _sweep(self, engine: Engine, region: str, event_id: str | None) -> Iterator[Outcome]:
        seen = 0
        for outcome in engine.sweep(region, event_id):
            seen += 1
            yield outcome
        if seen == 0:
            # ECS answers DescribeInstances with an empty list, not an error, when the caller
            # lacks the permission: an empty region and a broken policy look the same.
            self.journal.warning(
                reasons.WARNING_EMPTY_SWEEP,
                f"the sweep saw no instance in {region}; if the region has instances, check "
                "that the functions' role may call ecs:DescribeInstances",
                region=region,
            )

    def _region(self, check: InstanceCheck) -> str:
        return check.region or self.home_region


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
