"""Apply: the write plans to the cloud, through the binder; nothing at all in a dry run."""

from __future__ import annotations

from rolebinder.domain.outcome import Outcome
from rolebinder.domain.ownership import DEFAULT_DEPLOYMENT
from rolebinder.mapping.model import RoleMapping
from rolebinder.mapping.permissions import can_detach
from rolebinder.service.binder import Binder, BindPort, Plan, RestorePolicy
from rolebinder.service.markers import ChangeLog


def apply_plans(
    ecs: BindPort,
    plans: list[Plan],
    mapping: RoleMapping,
    now: float,
    dry_run: bool,
    deployment: str = DEFAULT_DEPLOYMENT,
) -> list[Outcome]:
    """One outcome per plan, in order: written, or (dry run) what would have been written."""
    if not plans:
        return []
    if dry_run:
        return [plan.outcome for plan in plans]
    changes = ChangeLog(now, mapping.limits.flip_window, mapping.limits.max_flips)
    binder = Binder(
        ecs,
        changes,
        lambda role: restore_policy(mapping, role),
        unmark_refused=can_detach(mapping),
        deployment=deployment,
    )
    return binder.apply(plans)


def restore_policy(mapping: RoleMapping, role: str) -> RestorePolicy:
    """The Policy a rolled-back role gets again: the one its rules give it, if unique."""
    policies = {rule.policy for rule in mapping.rules if rule.may_grant(role)}
    return (len(policies) <= 1, next(iter(policies), None))
