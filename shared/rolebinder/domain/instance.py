"""What rolebinder knows about one ECS instance after reading it from the API.

A plain value: the engine builds it from `DescribeInstances` plus `DescribeInstanceRamRole`,
and the pure decision function reads it. Tags here always come from the API, never from an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from rolebinder.domain.ownership import CHANGES_KEY, MARKER_KEY, recent_changes, same_role

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

    def owned_by_rolebinder(self, adopt_unmarked: bool = False) -> bool:
        """Whether the current binding is rolebinder's: its marker names the bound role."""
        if self.role is None:
            return False
        return same_role(self.marker, self.role) or (adopt_unmarked and self.marker is None)

    def changes_within(self, now: float, window: float) -> int:
        """How many times rolebinder changed this instance's role in the last `window` s."""
        return len(recent_changes(self.tags.get(CHANGES_KEY), now, window))

    @property
    def contested(self) -> bool:
        """A marker naming another role than the bound one: someone else changed the binding."""
        return (
            self.role is not None
            and self.marker is not None
            and not same_role(self.marker, self.role)
        )
