"""Gather: what the API says now, never what an event said. Reads only, no writes.

DescribeInstances in batches of 100 (waiting a bounded time for new instances not visible
yet), DescribeInstanceRamRole in batches of 50 for the VPC ones, and the role checks
(GetRole, cached per container) for the roles the plan would attach.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence

from rolebinder.aliyun.retry import Backoff, Deadline, backoff_delays
from rolebinder.domain.instance import Instance
from rolebinder.errors import CloudError
from rolebinder.service.binder import BindPort
from rolebinder.service.roles import RamPort, RoleCache
from rolebinder.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # the ports are for type checkers: nothing checks them at run time


class EcsPort(BindPort, Protocol):
    def describe_instances(self, instance_ids: Sequence[str]) -> list[Instance]: ...
    def list_instances(self) -> Iterator[list[Instance]]: ...


class RoleVerdict(Value):
    """A role check's answer: None when the role may be attached, else the reason; or the
    error that kept the check from answering."""

    reason: str | None = None
    error: CloudError | None = None


def visible(
    ecs: EcsPort,
    ids: list[str],
    new: set[str],
    budget: Deadline,
    backoff: Backoff,
    sleep: Callable[[float], None],
) -> list[Instance]:
    """Describe the instances, waiting up to `budget` for new ones the API does not show yet."""
    found = {i.instance_id: i for i in ecs.describe_instances(ids)}
    delays = backoff_delays(backoff, random.Random())
    while late := [i for i in ids if i not in found and i in new]:
        delay = next(delays, None)
        if delay is None or delay >= budget.remaining():
            break
        sleep(delay)
        found.update((i.instance_id, i) for i in ecs.describe_instances(late))
    return [found[i] for i in ids if i in found]


def with_roles(ecs: EcsPort, instances: list[Instance]) -> list[Instance | None]:
    """Each instance with its current role; None where it vanished in between."""
    roles = ecs.describe_roles([i.instance_id for i in instances if i.is_vpc])
    return [
        instance
        if not instance.is_vpc
        else instance._replace(role=roles[instance.instance_id])
        if instance.instance_id in roles
        else None
        for instance in instances
    ]


def role_verdicts(
    wanted: Iterable[tuple[str, str]], roles: RoleCache, ram: RamPort
) -> dict[str, RoleVerdict]:
    """The check of each (instance id, role) pair, in order: one GetRole per role while the
    cache holds it; an error is not cached, so the next instance naming that role asks again."""
    verdicts: dict[str, RoleVerdict] = {}
    for instance_id, role in wanted:
        try:
            verdicts[instance_id] = RoleVerdict(roles.verdict(role, ram))
        except CloudError as error:
            verdicts[instance_id] = RoleVerdict(error=error)
    return verdicts
