"""The engine: gather -> decide -> apply, for the instances events name or a whole region.

Gather reads the truth from the API (never from the event): DescribeInstances in batches of 100,
then DescribeInstanceRamRole in batches of 50 for the VPC instances. Decide is the pure
`rolebinder.domain.decision.decide`. Apply checks each role to be attached (exists, trusts ECS;
cached) and
hands the writes to `rolebinder.service.binder.Binder`. One instance's failure never stops the
others.

Calls are spent as the batching limits allow: the checks of one delivery are merged per region,
and a sweep keeps writes waiting until a batch of 100 for the same role is full (or the sweep
ends), instead of writing page by page.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from rolebinder.aliyun.ecs import BIND_BATCH
from rolebinder.aliyun.retry import Backoff, Deadline, backoff_delays
from rolebinder.domain import reasons
from rolebinder.domain.decision import Action, decide
from rolebinder.domain.instance import Instance
from rolebinder.domain.outcome import FAILED, SKIPPED, Outcome, failed, failed_call, planned
from rolebinder.errors import CloudError
from rolebinder.intake.events import KIND_INSTANCE_STATE, InstanceCheck
from rolebinder.mapping.model import AUDIT, RoleMapping
from rolebinder.mapping.permissions import can_detach
from rolebinder.service.binder import Binder, BindPort, Plan, RestorePolicy
from rolebinder.service.breaker import Breaker
from rolebinder.service.markers import ChangeLog
from rolebinder.service.recent import SettledCache
from rolebinder.service.roles import RamPort, RoleCache
from rolebinder.service.sweep import run_pipeline

# API calls that announce a new instance (the others name existing ones).
CREATION_CALLS = frozenset({"RunInstances", "CreateInstance"})
_WRITES = (Action.ATTACH, Action.REPLACE, Action.DETACH)

EventOf = Callable[[str], "str | None"]


class EcsPort(BindPort, Protocol):
    def describe_instances(self, instance_ids: Sequence[str]) -> list[Instance]: ...
    def list_instances(self) -> Iterator[list[Instance]]: ...


def wall_clock() -> float:
    """Epoch seconds (looked up at each call, so a test can stand in for the clock)."""
    return time.time()


@dataclass(frozen=True)
class EngineOptions:
    dry_run: bool = False
    # Seconds to keep looking for new instances an event names that the API does not show yet.
    visibility_wait: float = 30.0
    # Seconds of the budget the visibility wait leaves for deciding and writing.
    apply_reserve: float = 5.0
    # Threads a sweep plans and writes with, while the next page is read (rolebinder.service.sweep).
    sweep_workers: int = 4
    visibility_backoff: Backoff = field(
        default_factory=lambda: Backoff(base=0.5, cap=4.0, attempts=64)
    )
    # Epoch seconds now, for flap damping (a wall clock: the evidence lives on the instance).
    clock: Callable[[], float] = wall_clock
    # `rolebinder apply --allow-changes N`: the breaker's limits raised to N for this run.
    allow_changes: int | None = None


def is_creation(check: InstanceCheck) -> bool:
    """True for events that announce new instances, which may not be visible yet."""
    return check.event_kind == KIND_INSTANCE_STATE or check.event_name in CREATION_CALLS


class Engine:
    """Runs the binding for one invocation (one deadline) over ports to ECS and RAM."""

    def __init__(
        self,
        mapping: RoleMapping,
        ecs_for: Callable[[str], EcsPort],
        ram: RamPort,
        roles: RoleCache,
        deadline: Deadline,
        options: EngineOptions | None = None,
        sleep: Callable[[float], None] = time.sleep,
        settled: SettledCache | None = None,
    ) -> None:
        self.settled = settled
        self.mapping = mapping
        self.ecs_for = ecs_for
        self.ram = ram
        self.roles = roles
        self.deadline = deadline
        self.options = options or EngineOptions()
        self.sleep = sleep
        self.now = self.options.clock()
        self.breaker = Breaker(mapping.limits, self.options.allow_changes)

    # -- entry points ---------------------------------------------------------------------------

    def check(self, checks: InstanceCheck | Sequence[InstanceCheck], region: str) -> list[Outcome]:
        """Bind what the mapping says for every instance the events name, in one region.

        The events' ids are merged (one outcome per instance, carrying the first event's id), so
        a batch of events costs the calls of one batch of instances.
        """
        checks = [checks] if isinstance(checks, InstanceCheck) else list(checks)
        event_of: dict[str, str | None] = {}
        for check in checks:
            for instance_id in check.instance_ids:
                event_of.setdefault(instance_id, check.event_id)
        new = {i for c in checks if is_creation(c) for i in c.instance_ids}
        recalled = self._recall(new, event_of)
        fresh = self._check_ids([i for i in event_of if i not in recalled], new, region, event_of)
        if self.settled is not None:
            for outcome in fresh:
                self.settled.remember(outcome)
        by_id = {o.instance_id: o for o in [*fresh, *recalled.values()]}
        return [by_id[i] for i in event_of]

    def _recall(self, new: set[str], event_of: dict[str, str | None]) -> dict[str, Outcome]:
        """Creation echoes of instances this container has just settled: no call needed."""
        if self.settled is None or self.options.dry_run:
            return {}
        found = {i: self.settled.recall(i, event_of[i]) for i in new}
        return {i: outcome for i, outcome in found.items() if outcome is not None}

    def _check_ids(
        self, ids: list[str], new: set[str], region: str, event_of: dict[str, str | None]
    ) -> list[Outcome]:
        if not ids:
            return []
        ecs = self.ecs_for(region)
        try:
            instances = self._visible(ecs, ids, new)
        except CloudError as error:
            return [self._api_failure(i, region, event_of[i], error) for i in ids]
        seen = {instance.instance_id for instance in instances}
        missing = [self._missing(i, region, event_of[i], i in new) for i in ids if i not in seen]
        immediate, writes = self._plan(ecs, instances, event_of.get)
        refused = self.breaker.gate(writes) if self.breaker.armed and writes else None
        applied = refused if refused is not None else self._apply(ecs, writes)
        return [*immediate, *applied, *missing]

    def sweep(self, region: str, event_id: str | None) -> Iterator[Outcome]:
        """Every instance of the region, pipelined (rolebinder.service.sweep), memory flat as
        fleets grow."""
        ecs = self.ecs_for(region)
        failures: list[CloudError] = []

        def pages() -> Iterator[list[Instance]]:
            # A page that cannot be read ends this region's listing; what was read still goes
            # through, and the failure is reported like any other (transient: FC retries).
            try:
                yield from ecs.list_instances()
            except CloudError as error:
                failures.append(error)

        breaker = Breaker(self.mapping.limits, self.options.allow_changes)
        yield from run_pipeline(
            pages(),
            plan=lambda page: self._plan(ecs, page, lambda _: event_id),
            apply=breaker.hold if breaker.armed else lambda batch: self._apply(ecs, batch),
            batch_size=BIND_BATCH,
            workers=self.options.sweep_workers,
        )
        if breaker.armed:
            # The whole region was planned: all of it is written, or none of it.
            yield from breaker.release(lambda plans: self._apply(ecs, plans))
            self.breaker.tripped = self.breaker.tripped or breaker.tripped
        for error in failures:
            yield self._api_failure(None, region, event_id, error)

    # -- gather ---------------------------------------------------------------------------------

    def _visible(self, ecs: EcsPort, ids: list[str], new: set[str]) -> list[Instance]:
        """Describe the instances, waiting a bounded time for new ones not visible yet."""
        found = {i.instance_id: i for i in ecs.describe_instances(ids)}
        wait = min(
            self.options.visibility_wait, self.deadline.remaining() - self.options.apply_reserve
        )
        budget = Deadline(max(0.0, wait))
        delays = backoff_delays(self.options.visibility_backoff, random.Random())
        while late := [i for i in ids if i not in found and i in new]:
            delay = next(delays, None)
            if delay is None or delay >= budget.remaining():
                break
            self.sleep(delay)
            found.update((i.instance_id, i) for i in ecs.describe_instances(late))
        return [found[i] for i in ids if i in found]

    def _with_roles(self, ecs: EcsPort, instances: list[Instance]) -> list[Instance | None]:
        """Each instance with its current role; None where it vanished in between."""
        roles = ecs.describe_roles([i.instance_id for i in instances if i.is_vpc])
        return [
            instance
            if not instance.is_vpc
            else replace(instance, role=roles[instance.instance_id])
            if instance.instance_id in roles
            else None
            for instance in instances
        ]

    # -- decide ---------------------------------------------------------------------------------

    def _plan(
        self, ecs: EcsPort, instances: list[Instance], event_of: EventOf
    ) -> tuple[list[Outcome], list[Plan]]:
        """Outcomes that need no write, and the plans that do (role checks passed)."""
        try:
            with_roles = self._with_roles(ecs, instances)
        except CloudError as error:
            failures = [
                self._api_failure(i.instance_id, i.region, event_of(i.instance_id), error)
                for i in instances
            ]
            return failures, []
        immediate: list[Outcome] = []
        writes: list[Plan] = []
        for original, instance in zip(instances, with_roles, strict=True):
            if instance is None:  # deleted between the two reads
                immediate.append(
                    self._missing(
                        original.instance_id,
                        original.region,
                        event_of(original.instance_id),
                        new=False,
                    )
                )
                continue
            plan = self._decide(instance, event_of(instance.instance_id))
            refusal = self._role_refusal(plan)
            if refusal is not None:
                immediate.append(refusal)
            elif plan.decision.action in _WRITES and plan.decision.mode != AUDIT:
                writes.append(plan)
            else:  # no write needed, or audited: the outcome it would have had, dry_run
                immediate.append(plan.outcome)
        return immediate, writes

    def _decide(self, instance: Instance, event_id: str | None) -> Plan:
        decision = decide(instance, self.mapping, self.now)
        outcome = planned(
            decision, instance.instance_id, instance.region, event_id, self.options.dry_run
        )
        return Plan(instance, decision, outcome)

    def _role_refusal(self, plan: Plan) -> Outcome | None:
        """A failed outcome when the role to attach is missing or does not trust ECS."""
        role = plan.decision.role
        if plan.decision.action not in (Action.ATTACH, Action.REPLACE) or role is None:
            return None
        try:
            verdict = self.roles.verdict(role, self.ram)
        except CloudError as error:
            return failed_call(plan.outcome, error)
        if verdict is None:
            return None
        detail = (
            f"role {role} does not exist"
            if verdict == reasons.ROLE_NOT_FOUND
            else f"role {role} does not trust ecs.aliyuncs.com"
        )
        return failed(plan.outcome, verdict, detail=detail)

    # -- apply ----------------------------------------------------------------------------------

    def _apply(self, ecs: EcsPort, plans: list[Plan]) -> list[Outcome]:
        if not plans:
            return []
        if self.options.dry_run:
            return [plan.outcome for plan in plans]
        limits = self.mapping.limits
        changes = ChangeLog(self.now, limits.flip_window, limits.max_flips)
        binder = Binder(ecs, changes, self._restore_policy, unmark_refused=can_detach(self.mapping))
        return binder.apply(plans)

    def _restore_policy(self, role: str) -> RestorePolicy:
        """The Policy a rolled-back role gets again: the one its rules give it, if unique."""
        policies = {rule.policy for rule in self.mapping.rules if rule.may_grant(role)}
        return (len(policies) <= 1, next(iter(policies), None))

    # -- outcomes -------------------------------------------------------------------------------

    def _missing(self, instance_id: str, region: str, event_id: str | None, new: bool) -> Outcome:
        """An instance the API does not show. A new one may still appear: FC should retry."""
        base = Outcome(
            SKIPPED,
            reasons.INSTANCE_NOT_FOUND,
            instance_id=instance_id,
            region=region,
            event_id=event_id,
            dry_run=self.options.dry_run,
            detail="the API does not show this instance",
        )
        if not new:
            return base
        return replace(
            base,
            outcome=FAILED,
            retryable=True,
            detail="a new instance the API did not show within the visibility wait",
        )

    def _api_failure(
        self, instance_id: str | None, region: str | None, event_id: str | None, error: CloudError
    ) -> Outcome:
        base = Outcome(
            "",
            "",
            instance_id=instance_id,
            region=region,
            event_id=event_id,
            dry_run=self.options.dry_run,
        )
        return failed_call(base, error)
