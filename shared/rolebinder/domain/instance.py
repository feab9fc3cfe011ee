"""What rolebinder knows about one ECS instance after reading it from the API.

A plain value: the engine builds it from `DescribeInstances` plus `DescribeInstanceRamRole`,
and the pure decision function reads it. Tags here always come from the API, never from an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from rolebinder.domain.ownership import (
    CHANGES_KEY,
    DEFAULT_DEPLOYMENT,
    MARKER_KEY,
    OWNER_KEY,
    recent_changes,
    same_role,
)

VPC = "vpc"
CLASSIC = "classic"


@dataclass(frozen=True)
class Instance:
    """An ECS instance as read from the API, with its current instance RAM role (or None)."""

    instance_id: str
    region: str
    network_type: str  # "vpc" | "classic"
    status: str  # Pending | Starting | Running | Stopping | Stopped
    tags: Mapping[str, str] = field(default_factory=dict)
    vpc_id: str | None = None
    resource_group_id: str | None = None
    role: str | None = None
    account_id: str | None = None  # the account whose credentials read it

    def __post_init__(self) -> None:
        # Freeze the tag mapping so a decision can never be influenced by later mutation.
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))

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
