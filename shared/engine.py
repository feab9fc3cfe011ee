"""The engine: gather -> decide -> apply, for the instances an event names or a whole region.

Gather reads the truth from the API (never from the event): DescribeInstances in batches of 100,
then DescribeInstanceRamRole in batches of 50 for the VPC instances. Decide is the pure
`shared.decision.decide`. Apply checks each role to be attached (exists, trusts ECS; cached) and
hands the writes to `shared.binder.Binder`. One instance's failure never stops the others.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from shared import reasons
from shared.binder import Binder, BindPort, Plan
from shared.decision import Action, decide
from shared.errors import CloudError
from shared.events import InstanceCheck
from shared.instance import Instance
from shared.mapping import RoleMapping
from shared.outcome import SKIPPED, Outcome, failed, planned
from shared.retry import Backoff, Deadline, backoff_delays
from shared.roles import RamPort, RoleCache


class EcsPort(BindPort, Protocol):
    def describe_instances(self, instance_ids: Sequence[str]) -> list[Instance]: ...
    def list_instances(self) -> Iterator[list[Instance]]: ...


@dataclass(frozen=True)
class EngineOptions:
    dry_run: bool = False
    # Seconds to keep looking for instances an event names but the API does not show yet.
    visibility_wait: float = 30.0
    visibility_backoff: Backoff = field(
        default_factory=lambda: Backoff(base=0.5, cap=4.0, attempts=64)
    )


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
    ) -> None:
        self.mapping = mapping
        self.ecs_for = ecs_for
        self.ram = ram
        self.roles = roles
        self.deadline = deadline
        self.options = options or EngineOptions()
        self.sleep = sleep

    # -- entry points ---------------------------------------------------------------------------

    def check(self, check: InstanceCheck, region: str) -> list[Outcome]:
        """Bind what the mapping says for the instances one event names."""
        ecs = self.ecs_for(region)
        try:
            instances = self._visible(ecs, list(check.instance_ids))
        except CloudError as error:
            return [
                _api_failure(i, region, check.event_id, self.options.dry_run, error)
                for i in check.instance_ids
            ]
        seen = {instance.instance_id for instance in instances}
        missing = [
            _not_found(i, region, check.event_id, self.options.dry_run)
            for i in check.instance_ids
            if i not in seen
        ]
        return self.settle(ecs, instances, check.event_id) + missing

    def sweep(self, region: str, event_id: str | None) -> Iterator[Outcome]:
        """Every instance of the region, a page at a time (memory stays flat as fleets grow)."""
        ecs = self.ecs_for(region)
        try:
            for page in ecs.list_instances():
                yield from self.settle(ecs, page, event_id)
        except CloudError as error:
            # A page that cannot be read ends this region's sweep (other regions go on). It is
            # reported as a failure like any other, so a transient one makes the handler raise
            # RetryLaterError instead of escaping as a raw CloudError with no summary.
            yield _api_failure(None, region, event_id, self.options.dry_run, error)

    # -- gather ---------------------------------------------------------------------------------

    def _visible(self, ecs: EcsPort, ids: list[str]) -> list[Instance]:
        """Describe the instances, waiting a bounded time for ones the API does not show yet."""
        found = {i.instance_id: i for i in ecs.describe_instances(ids)}
        budget = Deadline(min(self.options.visibility_wait, self.deadline.remaining()))
        delays = backoff_delays(self.options.visibility_backoff, random.Random())
        while len(found) < len(set(ids)):
            delay = next(delays, None)
            if delay is None or delay >= budget.remaining():
                break
            self.sleep(delay)
            late = [i for i in ids if i not in found]
            found.update((i.instance_id, i) for i in ecs.describe_instances(late))
        return [found[i] for i in dict.fromkeys(ids) if i in found]

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

    # -- decide and apply -------------------------------------------------------------------------

    def settle(
        self, ecs: EcsPort, instances: list[Instance], event_id: str | None
    ) -> list[Outcome]:
        """Gather roles, decide and apply for already-described instances."""
        dry_run = self.options.dry_run
        try:
            with_roles = self._with_roles(ecs, instances)
        except CloudError as error:
            return [
                _api_failure(i.instance_id, i.region, event_id, dry_run, error) for i in instances
            ]
        plans: list[Plan] = []
        outcomes: dict[str, Outcome] = {}
        for original, instance in zip(instances, with_roles, strict=True):
            if instance is None:
                outcomes[original.instance_id] = _not_found(
                    original.instance_id, original.region, event_id, dry_run
                )
                continue
            decision = decide(instance, self.mapping)
            plan = Plan(
                instance,
                decision,
                planned(decision, instance.instance_id, instance.region, event_id, dry_run),
            )
            refusal = self._role_refusal(plan)
            if refusal is not None:
                outcomes[instance.instance_id] = refusal
            else:
                plans.append(plan)
        writes = [p for p in plans if p.decision.action in _WRITES]
        applied = [p.outcome for p in writes] if dry_run else Binder(ecs).apply(writes)
        outcomes.update((o.instance_id or "", o) for o in applied)
        outcomes.update(
            (p.instance_id, p.outcome) for p in plans if p.decision.action not in _WRITES
        )
        return [outcomes[i.instance_id] for i in instances]

    def _role_refusal(self, plan: Plan) -> Outcome | None:
        """A failed outcome when the role to attach is missing or does not trust ECS."""
        if (
            plan.decision.action not in (Action.ATTACH, Action.REPLACE)
            or plan.decision.role is None
        ):
            return None
        try:
            verdict = self.roles.verdict(plan.decision.role, self.ram)
        except CloudError as error:
            return failed(
                plan.outcome,
                reasons.for_error_code(error.code),
                error_code=error.code,
                request_id=error.request_id,
                detail=error.message,
                retryable=error.transient,
            )
        if verdict is None:
            return None
        detail = (
            f"role {plan.decision.role} does not exist"
            if verdict == reasons.ROLE_NOT_FOUND
            else f"role {plan.decision.role} does not trust ecs.aliyuncs.com"
        )
        return failed(plan.outcome, verdict, detail=detail)


_WRITES = (Action.ATTACH, Action.REPLACE, Action.DETACH)


def _not_found(instance_id: str, region: str, event_id: str | None, dry_run: bool) -> Outcome:
    return Outcome(
        SKIPPED,
        reasons.INSTANCE_NOT_FOUND,
        instance_id=instance_id,
        region=region,
        event_id=event_id,
        dry_run=dry_run,
        detail="the API does not show this instance",
    )


def _api_failure(
    instance_id: str | None,
    region: str | None,
    event_id: str | None,
    dry_run: bool,
    error: CloudError,
) -> Outcome:
    base = Outcome(
        "", "", instance_id=instance_id, region=region, event_id=event_id, dry_run=dry_run
    )
    return failed(
        base,
        reasons.for_error_code(error.code),
        error_code=error.code,
        request_id=error.request_id,
        detail=error.message,
        retryable=error.transient,
    )
