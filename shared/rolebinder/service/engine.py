"""The engine: gather -> plan -> apply, for the instances events name or a whole region.

Gather (rolebinder.service.gather) reads the truth from the API, never from the event. Plan
(rolebinder.service.plan) is pure: the mapping's decisions, given the role verdicts gathered
for the roles to attach. Apply (rolebinder.service.apply) hands the writes to the binder.
One instance's failure never stops the others.

Calls are spent as the batching limits allow: the checks of one delivery are merged per region,
and a sweep keeps writes waiting until a batch of 100 for the same role is full (or the sweep
ends), instead of writing page by page.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from rolebinder.aliyun.ecs import BIND_BATCH, ROLE_BATCH
from rolebinder.aliyun.retry import Backoff, Deadline
from rolebinder.domain.instance import Instance
from rolebinder.domain.outcome import Outcome
from rolebinder.domain.ownership import DEFAULT_DEPLOYMENT
from rolebinder.errors import CloudError
from rolebinder.intake.events import InstanceCheck
from rolebinder.mapping.model import RoleMapping
from rolebinder.service import gather
from rolebinder.service.apply import apply_plans
from rolebinder.service.binder import Plan
from rolebinder.service.breaker import Breaker
from rolebinder.service.gather import EcsPort
from rolebinder.service.plan import EventOf, Planner, needs_role_check
from rolebinder.service.recent import SettledCache
from rolebinder.service.roles import RamPort, RoleCache
from rolebinder.value import Value

__all__ = ["EcsPort", "Engine", "EngineOptions", "wall_clock"]


def wall_clock() -> float:
    """Epoch seconds (looked up at each call, so a test can stand in for the clock)."""
    return time.time()


class EngineOptions(Value):
    dry_run: bool = False
    # Seconds to keep looking for new instances an event names that the API does not show yet.
    visibility_wait: float = 30.0
    # Seconds of the budget the visibility wait leaves for deciding and writing.
    apply_reserve: float = 5.0
    # Threads a sweep plans and writes with, while the next page is read (rolebinder.service.sweep).
    sweep_workers: int = 4
    visibility_backoff: Backoff = Backoff(base=0.5, cap=4.0, attempts=64)
    # Epoch seconds now, for flap damping (a wall clock: the evidence lives on the instance).
    clock: Callable[[], float] = wall_clock
    # `rolebinder apply --allow-changes N`: the breaker's limits raised to N for this run.
    allow_changes: int | None = None
    # ROLEBINDER_DEPLOYMENT: the owner its markers name; another deployment's are not its own.
    deployment: str = DEFAULT_DEPLOYMENT
    # The account the engine's credentials belong to: every outcome line names it.
    account_id: str | None = None


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
        self.mapping = mapping
        self.ecs_for = ecs_for
        self.ram = ram
        self.roles = roles
        self.deadline = deadline
        self.sleep = sleep
        self.settled = settled
        self.options = options or EngineOptions()
        self.now = self.options.clock()
        self.breaker = Breaker(self.mapping.limits, self.options.allow_changes)
        self.planner = Planner(
            self.mapping, self.now, self.options.dry_run, self.options.deployment
        )

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
        new = {i for c in checks if c.announces_new for i in c.instance_ids}
        recalled = self._recall(new, event_of)
        fresh = self._check_ids([i for i in event_of if i not in recalled], new, region, event_of)
        if self.settled is not None:
            for outcome in fresh:
                self.settled.remember(self._stamped(outcome))
        by_id = {o.instance_id: o for o in [*fresh, *recalled.values()]}
        return [self._stamped(by_id[i]) for i in event_of]

    def _stamped(self, outcome: Outcome) -> Outcome:
        account = self.options.account_id
        return outcome if account is None else outcome._replace(account_id=account)

    def _recall(self, new: set[str], event_of: dict[str, str | None]) -> dict[str, Outcome]:
        """Creation echoes of instances this container has just settled: no call needed."""
        if self.settled is None or self.options.dry_run:
            return {}
        account = self.options.account_id
        found = {i: self.settled.recall(i, event_of[i], account) for i in new}
        return {i: outcome for i, outcome in found.items() if outcome is not None}

    def _check_ids(
        self, ids: list[str], new: set[str], region: str, event_of: dict[str, str | None]
    ) -> list[Outcome]:
        if not ids:
            return []
        ecs = self.ecs_for(region)
        try:
            instances = gather.visible(
                ecs,
                ids,
                new,
                self._visibility_budget(),
                self.options.visibility_backoff,
                self.sleep,
            )
        except CloudError as error:
            return [self.planner.api_failure(i, region, event_of[i], error) for i in ids]
        seen = {instance.instance_id for instance in instances}
        missing = [
            self.planner.missing(i, region, event_of[i], i in new) for i in ids if i not in seen
        ]
        immediate, writes = self._plan(ecs, instances, event_of.get)
        refused = self.breaker.gate(writes) if self.breaker.armed and writes else None
        applied = refused if refused is not None else self._apply(ecs, writes)
        return [*immediate, *applied, *missing]

    def sweep(self, region: str, event_id: str | None) -> Iterator[Outcome]:
        """Every instance of the region, pipelined (rolebinder.service.sweep), memory flat as
        fleets grow."""
        ecs = self.ecs_for(region)
        yield from map(self._stamped, self._sweep(ecs, region, event_id))

    def _sweep(self, ecs: EcsPort, region: str, event_id: str | None) -> Iterator[Outcome]:
        failures: list[CloudError] = []

        def pages() -> Iterator[list[Instance]]:
            # A page that cannot be read ends this region's listing; what was read still goes
            # through, and the failure is reported like any other (transient: FC retries).
            try:
                yield from ecs.list_instances()
            except CloudError as error:
                failures.append(error)

        # Imported here: the pipeline's thread pool (concurrent.futures) stays off an event's
        # cold start (tests/functional/test_cold_start.py).
        from rolebinder.service.sweep import run_pipeline  # noqa: PLC0415

        breaker = Breaker(self.mapping.limits, self.options.allow_changes)
        yield from run_pipeline(
            pages(),
            plan=lambda page: self._plan(ecs, page, lambda _: event_id),
            apply=breaker.hold if breaker.armed else lambda batch: self._apply(ecs, batch),
            batch_size=BIND_BATCH,
            workers=self.options.sweep_workers,
            unit=ROLE_BATCH,
        )
        if breaker.armed:
            # The whole region was planned: all of it is written, or none of it.
            yield from breaker.release(lambda plans: self._apply(ecs, plans))
            self.breaker.tripped = self.breaker.tripped or breaker.tripped
        for error in failures:
            yield self.planner.api_failure(None, region, event_id, error)

    def _visibility_budget(self) -> Deadline:
        """How long new instances may take to appear: the wait, within the invocation's budget."""
        wait = min(
            self.options.visibility_wait, self.deadline.remaining() - self.options.apply_reserve
        )
        return Deadline(max(0.0, wait))

    def _plan(
        self, ecs: EcsPort, instances: list[Instance], event_of: EventOf
    ) -> tuple[list[Outcome], list[Plan]]:
        """Gather roles and role verdicts, then plan: outcomes needing no write, and writes."""
        try:
            current = gather.with_roles(ecs, instances)
        except CloudError as error:
            return [
                self.planner.api_failure(i.instance_id, i.region, event_of(i.instance_id), error)
                for i in instances
            ], []
        gone, plans = self.planner.decide_all(instances, current, event_of)
        verdicts = gather.role_verdicts(needs_role_check(plans), self.roles, self.ram)
        immediate, writes = self.planner.split(plans, verdicts)
        order = {instance.instance_id: n for n, instance in enumerate(instances)}
        return sorted([*gone, *immediate], key=lambda o: order[o.instance_id or ""]), writes

    def _apply(self, ecs: EcsPort, plans: list[Plan]) -> list[Outcome]:
        options = self.options
        return apply_plans(ecs, plans, self.mapping, self.now, options.dry_run, options.deployment)
