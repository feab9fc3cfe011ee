"""What rolebinder knows about one ECS instance after reading it from the API.

A plain value: the engine builds it from `DescribeInstances` plus `DescribeInstanceRamRole`,
and the pure decision function reads it. Tags here always come from the API, never from an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from rolebinder.domain.ownership import (
    CHANGES_KEY,
    DEFAULT_DEPLOYMENT,
    MARKER_KEY,
    OWNER_KEY,
    recent_changes,
    same_role,
)
from rolebinder.value import Value

VPC = "vpc"
CLASSIC = "classic"
_NO_TAGS: Mapping[str, str] = MappingProxyType({})


class _Read(Value):
    instance_id: str
    region: str
    network_type: str  # "vpc" | "classic"
    status: str  # Pending | Starting | Running | Stopping | Stopped
    tags: Mapping[str, str]
    vpc_id: str | None
    resource_group_id: str | None
    role: str | None
    account_id: str | None  # the account whose credentials read it


class Instance(_Read):
    """An ECS instance as read from the API, with its current instance RAM role (or None).

    Immutable (a `rolebinder.value.Value`: a NamedTuple), and so are its tags: copied into a
    read-only mapping at construction, so a decision can never be influenced by later mutation
    of the dict it was built from (`_replace` and `_make` construct through here too).
    """

    __slots__ = ()

    def __new__(
        cls,
        instance_id: str,
        region: str,
        network_type: str,
        status: str,
        tags: Mapping[str, str] = _NO_TAGS,
        vpc_id: str | None = None,
        resource_group_id: str | None = None,
        role: str | None = None,
        account_id: str | None = None,
    ) -> Instance:
        frozen = MappingProxyType(dict(tags))
        return super().__new__(
            cls,
            instance_id,
            region,
            network_type,
            status,
            frozen,
            vpc_id,
            resource_group_id,
            role,
            account_id,
        )

    @property
    def is_vpc(self) -> bool:
        return self.network_type == VPC

    @property
    def marker(self) -> str | None:
        """The role rolebinder's ownership marker names (None: rolebinder has not bound one)."""
        return self.tags.get(MARKER_KEY) or None

    def owner(self) -> str:
        """The deployment that wrote the marker (an unnamed one is the default deployment)."""
        return self.tags.get(OWNER_KEY) or DEFAULT_DEPLOYMENT

    def owned_by_rolebinder(
        self, adopt_unmarked: bool = False, deployment: str = DEFAULT_DEPLOYMENT
    ) -> bool:
        """Whether the current binding is this deployment's: its marker names the bound role
        and its owner tag names this deployment."""
        if self.role is None:
            return False
        if self.marker is None:
            return adopt_unmarked
        return same_role(self.marker, self.role) and self.owner() == deployment

    def changes_within(self, now: float, window: float) -> int:
        """How many times rolebinder changed this instance's role in the last `window` s."""
        return len(recent_changes(self.tags.get(CHANGES_KEY), now, window))

    def contested(self, deployment: str = DEFAULT_DEPLOYMENT) -> bool:
        """A marker naming another role than the bound one (someone else changed the binding),
        or written by another deployment (whose binding it is)."""
        if self.role is None or self.marker is None:
            return False
        return not same_role(self.marker, self.role) or self.owner() != deployment
