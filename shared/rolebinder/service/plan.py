"""Plan: decisions and role verdicts in, outcomes and write plans out. Pure: no API call.

`decide_all` applies the mapping to gathered instances; `needs_role_check` says which
decisions attach a role that must be checked first; `split` turns the decisions and the
gathered verdicts into the outcomes that need no write and the plans the apply step writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from rolebinder.domain import reasons
from rolebinder.domain.decision import Action, decide
from rolebinder.domain.instance import Instance
from rolebinder.domain.outcome import FAILED, SKIPPED, Outcome, failed, failed_call, planned
from rolebinder.domain.ownership import DEFAULT_DEPLOYMENT
from rolebinder.errors import CloudError
from rolebinder.mapping.model import AUDIT, RoleMapping
from rolebinder.service.binder import Plan
from rolebinder.service.gather import RoleVerdict
from rolebinder.value import Value

EventOf = Callable[[str], "str | None"]
_WRITES = (Action.ATTACH, Action.REPLACE, Action.DETACH)


class Planner(Value):
    """The pure half of the engine: one mapping, one moment, dry run or not."""

    mapping: RoleMapping
    now: float
    dry_run: bool
    deployment: str = DEFAULT_DEPLOYMENT  # whose markers count as its own

    def decide_all(
        self, originals: Sequence[Instance], current: Sequence[Instance | None], event_of: EventOf
    ) -> tuple[list[Outcome], list[Plan]]:
        """Outcomes of instances gone between the two reads, and a plan for each other one."""
        gone: list[Outcome] = []
        plans: list[Plan] = []
        for original, instance in zip(originals, current, strict=True):
            event_id = event_of(original.instance_id)
            if instance is None:  # deleted between the two reads
                gone.append(self.missing(original.instance_id, original.region, event_id, False))
                continue
            decision = decide(instance, self.mapping, self.now, self.deployment)
            outcome = planned(
                decision, instance.instance_id, instance.region, event_id, self.dry_run
            )
            plans.append(Plan(instance, decision, outcome))
        return gone, plans

    def split(
        self, plans: Sequence[Plan], verdicts: dict[str, RoleVerdict]
    ) -> tuple[list[Outcome], list[Plan]]:
        """Outcomes that need no write (refused roles, no change, audited), and the writes."""
        immediate: list[Outcome] = []
        writes: list[Plan] = []
        for plan in plans:
            refusal = _refusal(plan, verdicts.get(plan.instance_id))
            if refusal is not None:
                immediate.append(refusal)
            elif plan.decision.action in _WRITES and plan.decision.mode != AUDIT:
                writes.append(plan)
            else:  # no write needed, or audited: the outcome it would have had, dry_run
                immediate.append(plan.outcome)
        return immediate, writes

    def missing(self, instance_id: str, region: str, event_id: str | None, new: bool) -> Outcome:
        """An instance the API does not show. A new one may still appear: FC should retry."""
        base = Outcome(
            SKIPPED,
            reasons.INSTANCE_NOT_FOUND,
            instance_id=instance_id,
            region=region,
            event_id=event_id,
            dry_run=self.dry_run,
            detail="the API does not show this instance",
        )
        if not new:
            return base
        return base._replace(
            outcome=FAILED,
            retryable=True,
            detail="a new instance the API did not show within the visibility wait",
        )

    def api_failure(
        self, instance_id: str | None, region: str | None, event_id: str | None, error: CloudError
    ) -> Outcome:
        """The outcome of an instance whose reads failed."""
        base = Outcome(
            "", "", instance_id=instance_id, region=region, event_id=event_id, dry_run=self.dry_run
        )
        return failed_call(base, error)


def needs_role_check(plans: Sequence[Plan]) -> Iterator[tuple[str, str]]:
    """(instance id, role) of every plan that attaches a role: it must exist and trust ECS."""
    for plan in plans:
        role = plan.decision.role
        if plan.decision.action in (Action.ATTACH, Action.REPLACE) and role is not None:
            yield plan.instance_id, role


def _refusal(plan: Plan, verdict: RoleVerdict | None) -> Outcome | None:
    """A failed outcome when the role to attach is missing, untrusted or could not be checked."""
    if verdict is None:
        return None
    if verdict.error is not None:
        return failed_call(plan.outcome, verdict.error)
    if verdict.reason is None:
        return None
    role = plan.decision.role
    detail = (
        f"role {role} does not exist"
        if verdict.reason == reasons.ROLE_NOT_FOUND
        else f"role {role} does not trust ecs.aliyuncs.com"
    )
    return failed(plan.outcome, verdict.reason, detail=detail)
