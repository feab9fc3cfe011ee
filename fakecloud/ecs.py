"""ECS backend (one per account and region): VPCs, instances, tags and instance RAM roles.

Actions (methods are named after them): RunInstances, DescribeInstances, StartInstance,
StopInstance, DeleteInstance, TagResources, UntagResources, AddTags, RemoveTags, ListTagResources,
DescribeInstanceRamRole, AttachInstanceRamRole, DetachInstanceRamRole.

Not modelled: images, instance types and security groups (accepted and echoed, not validated),
billing, disks, ENIs, launch templates, dedicated hosts, resource types other than `instance`
for the tag actions, and `DryRun` beyond an answer of `DryRunOperation`.

Choices where the public docs are silent (each marked "choice" where it is implemented):
- Instance RAM role actions are accepted in every state but deleted.
- Attaching to an instance that already has a role (even the same role) fails for that instance.
- Per-instance problems in a batch Attach/Detach are per-instance result items (HTTP 200); when
  every instance of the call fails with the same code, the call fails with that code instead,
  which is what the docs' top-level error table shows for single-instance calls.
- DescribeInstanceRamRole omits instances without a role (switch: `list_roleless`).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from fakecloud.errors import ApiError
from fakecloud.ids import IdFactory
from fakecloud.ram import ECS_SERVICE, RamBackend
from fakecloud.tagging import TagStore

RUNNING, PENDING, STARTING, STOPPING, STOPPED = (
    "Running",
    "Pending",
    "Starting",
    "Stopping",
    "Stopped",
)
DELETED = "Deleted"
# choice: the code for "this instance already has an instance RAM role" is not documented.
ROLE_ALREADY_ATTACHED = "InvalidInstance.RamRoleAttached"


@dataclass
class VSwitch:
    vswitch_id: str
    vpc_id: str
    zone_id: str
    cidr: str


@dataclass
class Instance:
    instance_id: str
    seq: int
    name: str
    region: str
    zone_id: str
    status: str
    network_type: str
    created: float
    instance_type: str
    image_id: str
    private_ip: str
    vpc_id: str = ""
    vswitch_id: str = ""
    resource_group_id: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    role: str | None = None
    role_policy: str | None = None
    hidden_until: float = 0.0
    hidden_calls: int = 0


@dataclass(frozen=True)
class Lifecycle:
    """Seconds each transitional state lasts (clock seconds)."""

    pending: float = 1.0
    starting: float = 1.0
    stopping: float = 1.0


@dataclass(frozen=True)
class BindResult:
    instance_id: str
    code: str
    message: str
    role: str | None = None

    @property
    def success(self) -> bool:
        return self.code == "200"


class EcsBackend:
    """The ECS state of one account in one region."""

    def __init__(
        self,
        account_id: str,
        region: str,
        ram: RamBackend,
        ids: IdFactory,
        now: Callable[[], float],
        publish: Callable[[str, Instance, dict[str, object]], None],
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.ram = ram
        self.ids = ids
        self.now = now
        self.publish = publish  # (kind, instance, details) -> queues an event
        self.lifecycle = Lifecycle()
        # The StateChange events of a launch before Starting (set by the cloud from its shapes).
        self.creation_states: Callable[[str], tuple[str, ...]] = lambda instance_id: ("Created",)
        self.list_roleless = False
        self.vswitches: dict[str, VSwitch] = {}
        self.instances: dict[str, Instance] = {}
        self.tags = TagStore(self)
        self._order: list[int] = []  # creation sequence numbers, ascending, for NextToken paging
        self._by_seq: dict[int, str] = {}
        self._seq = itertools.count(1)
        self._timers: list[tuple[float, int, str, str, str]] = []
        self._timer_seq = itertools.count()
        # Eventual consistency for new instances: (seconds, calls) they stay invisible.
        self.invisibility: tuple[float, int] = (0.0, 0)

    # -- networks ---------------------------------------------------------------------------

    def add_vswitch(self, vswitch_id: str, vpc_id: str, zone_id: str, cidr: str) -> VSwitch:
        vswitch = VSwitch(vswitch_id, vpc_id, zone_id, cidr)
        self.vswitches[vswitch_id] = vswitch
        return vswitch

    # -- lifecycle ----------------------------------------------------------------------------

    def run_instances(
        self,
        amount: int,
        vswitch_id: str | None,
        name: str | None,
        tags: list[tuple[str, str]],
        resource_group_id: str | None,
        ram_role_name: str | None,
        instance_type: str,
        image_id: str,
        can_pass_role: Callable[[str], bool],
        unique_suffix: bool = False,
    ) -> list[str]:
        vswitch = self._vswitch(vswitch_id) if vswitch_id else None
        if ram_role_name:
            ram_role_name = self.check_role(ram_role_name, can_pass_role, not_ecs_status=401)
            if vswitch is None:
                raise _classic_mismatch()
        self.tags.check_new(tags)
        created = [
            self._create(
                index,
                unique_suffix and amount > 1,
                vswitch,
                name,
                tags,
                resource_group_id,
                ram_role_name,
                instance_type,
                image_id,
            )
            for index in range(amount)
        ]
        return [instance.instance_id for instance in created]

    def _create(
        self,
        index: int,
        numbered: bool,
        vswitch: VSwitch | None,
        name: str | None,
        tags: list[tuple[str, str]],
        resource_group_id: str | None,
        role: str | None,
        instance_type: str,
        image_id: str,
    ) -> Instance:
        now = self.now()
        instance_id = self.ids.instance_id(self.region)
        seconds, calls = self.invisibility
        instance = Instance(
            instance_id=instance_id,
            seq=next(self._seq),
            name=_instance_name(name, index, numbered, instance_id),
            region=self.region,
            zone_id=vswitch.zone_id if vswitch else f"{self.region}-b",
            status=PENDING,
            network_type="vpc" if vswitch else "classic",
            created=now,
            instance_type=instance_type,
            image_id=image_id,
            private_ip=_private_ip(vswitch, self.ids),
            vpc_id=vswitch.vpc_id if vswitch else "",
            vswitch_id=vswitch.vswitch_id if vswitch else "",
            resource_group_id=resource_group_id or "",
            tags=dict(tags),
            role=role,
            hidden_until=now + seconds,
            hidden_calls=calls,
        )
        self.add_instance(instance)
        for state in self.creation_states(instance_id):  # Created, Pending or both: shapes.py
            self.publish("state", instance, {"state": state})
        self._schedule(self.lifecycle.pending, instance, PENDING, STARTING)
        return instance

    def add_instance(self, instance: Instance) -> None:
        """Store an instance (RunInstances, or a seed file with explicit ids)."""
        if instance.instance_id in self.instances:
            raise ValueError(f"duplicate instance id {instance.instance_id}")
        self.instances[instance.instance_id] = instance
        self._order.append(instance.seq)
        self._by_seq[instance.seq] = instance.instance_id

    def next_seq(self) -> int:
        return next(self._seq)

    def start_instance(self, instance_id: str) -> None:
        self._transition(instance_id, STOPPED, STARTING, RUNNING, self.lifecycle.starting)

    def stop_instance(self, instance_id: str) -> None:
        self._transition(instance_id, RUNNING, STOPPING, STOPPED, self.lifecycle.stopping)

    def _transition(
        self, instance_id: str, start: str, during: str, end: str, delay: float
    ) -> None:
        """From `start` to `end` through `during` (`delay` seconds); IncorrectInstanceStatus
        when the instance is not in `start`."""
        instance = self.get_instance(instance_id)
        if instance.status != start:
            raise _incorrect_status()
        self._set_status(instance, during)
        self._schedule(delay, instance, during, end)

    def delete_instance(self, instance_id: str, force: bool = False) -> None:
        instance = self.get_instance(instance_id)
        allowed = (STOPPED,) if not force else (STOPPED, PENDING, RUNNING, STARTING, STOPPING)
        if instance.status not in allowed:
            raise _incorrect_status()
        del self.instances[instance_id]
        del self._by_seq[instance.seq]
        self._order.remove(instance.seq)
        self.publish("state", instance, {"state": DELETED})

    def _set_status(self, instance: Instance, status: str) -> None:
        instance.status = status
        self.publish("state", instance, {"state": status})

    def _schedule(
        self,
        delay: float,
        instance: Instance,
        expected: str,
        target: str,
        start: float | None = None,
    ) -> None:
        due = (self.now() if start is None else start) + delay
        heapq.heappush(
            self._timers, (due, next(self._timer_seq), instance.instance_id, expected, target)
        )

    def tick(self) -> None:
        """Apply every state transition that is due on the clock."""
        now = self.now()
        while self._timers and self._timers[0][0] <= now:
            due, _, instance_id, expected, target = heapq.heappop(self._timers)
            instance = self.instances.get(instance_id)
            if instance is None or instance.status != expected:
                continue
            self._set_status(instance, target)
            if target == STARTING:  # the next step counts from when this one was due
                self._schedule(self.lifecycle.starting, instance, STARTING, RUNNING, start=due)

    # -- lookups ------------------------------------------------------------------------------

    def visible(self, instance: Instance) -> bool:
        """False while a new instance is still inside its eventual-consistency window."""
        if instance.hidden_calls > 0:
            instance.hidden_calls -= 1
            return False
        return self.now() >= instance.hidden_until

    def get_instance(self, instance_id: str) -> Instance:
        instance = self.instances.get(instance_id)
        if instance is None or not self.visible(instance):
            raise ApiError(
                "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.", 404
            )
        return instance

    def find_instance(self, instance_id: str) -> Instance | None:
        instance = self.instances.get(instance_id)
        return instance if instance is not None and self.visible(instance) else None

    def iter_instances(self, after_seq: int = 0) -> Iterator[Instance]:
        """Visible instances in creation order, starting after sequence number `after_seq`."""
        start = bisect.bisect_right(self._order, after_seq)
        for seq in self._order[start:]:
            instance = self.instances[self._by_seq[seq]]
            if self.visible(instance):
                yield instance

    def _vswitch(self, vswitch_id: str) -> VSwitch:
        vswitch = self.vswitches.get(vswitch_id)
        if vswitch is None:
            raise ApiError(
                "InvalidVSwitchId.NotFound", "Specified virtual switch does not exist.", 404
            )
        return vswitch

    # -- instance RAM roles -------------------------------------------------------------------

    def check_role(
        self, role_name: str, can_pass_role: Callable[[str], bool], not_ecs_status: int = 404
    ) -> str:
        """The role's canonical name, or the error Attach/RunInstances answer with.

        The docs give NotEcsRole HTTP 404 for AttachInstanceRamRole and 401 for RunInstances.
        """
        role = self.ram.find_role(role_name)
        if role is None:
            raise ApiError(
                "InvalidRamRole.NotFound", "The specified RAMRoleName does not exist.", 404
            )
        if not role.trusts(ECS_SERVICE):
            raise ApiError(
                "InvalidRamRole.NotEcsRole",
                "The specified ram role is not authorized for ecs, please check your role policy.",
                not_ecs_status,
            )
        if not can_pass_role(role.name):
            raise ApiError(
                "InvalidUser.PassRoleForbidden",
                "The RAM user does not have the privilege to pass a RAM role.",
                403,
            )
        return role.name

    def attach_instance_ram_role(
        self,
        instance_ids: list[str],
        role_name: str,
        policy: str | None,
        can_pass_role: Callable[[str], bool],
    ) -> list[BindResult]:
        role = self.check_role(role_name, can_pass_role)
        return [self._attach_one(instance_id, role, policy) for instance_id in instance_ids]

    def _attach_one(self, instance_id: str, role: str, policy: str | None) -> BindResult:
        instance = self.find_instance(instance_id)
        problem = _bind_problem(instance)
        if problem is not None:
            return BindResult(instance_id, *problem)
        assert instance is not None
        if instance.role is not None:  # choice: one role at a time, same role included
            return BindResult(
                instance_id,
                ROLE_ALREADY_ATTACHED,
                f"The instance already has the RAM role {instance.role}.",
            )
        instance.role, instance.role_policy = role, policy
        return BindResult(instance_id, "200", "success", role)

    def detach_instance_ram_role(
        self, instance_ids: list[str], role_name: str | None
    ) -> list[BindResult]:
        if role_name and self.ram.find_role(role_name) is None:
            raise ApiError(
                "InvalidRamRole.NotFound", "The specified RAMRoleName does not exist.", 404
            )
        return [self._detach_one(instance_id, role_name) for instance_id in instance_ids]

    def _detach_one(self, instance_id: str, role_name: str | None) -> BindResult:
        instance = self.find_instance(instance_id)
        problem = _bind_problem(instance)
        if problem is not None:
            return BindResult(instance_id, *problem)
        assert instance is not None
        if instance.role is None:  # choice: nothing to detach is a per-instance failure
            return BindResult(
                instance_id, "InvalidRamRole.NotAttached", "The instance has no RAM role attached."
            )
        if role_name and instance.role.lower() != role_name.lower():
            return BindResult(
                instance_id,
                "InvalidRamRole.NotEqual",
                f"The instance's RAM role is {instance.role}, not {role_name}.",
            )
        previous, instance.role, instance.role_policy = instance.role, None, None
        return BindResult(instance_id, "200", "Success", previous)

    def describe_instance_ram_role(
        self, instance_ids: list[str] | None, role_name: str | None
    ) -> list[Instance]:
        """Instances (with their roles) the call reports, before paging."""
        if instance_ids is not None:
            instances = [self.get_instance(i) for i in dict.fromkeys(instance_ids)]
            for instance in instances:
                if instance.network_type != "vpc":
                    raise _classic_mismatch()
        else:
            instances = list(self.iter_instances())
        if role_name:
            instances = [i for i in instances if i.role and i.role.lower() == role_name.lower()]
        if not self.list_roleless:
            instances = [i for i in instances if i.role]
        return instances

    def instances_with_role(self, role_name: str) -> bool:
        return any(i.role and i.role.lower() == role_name.lower() for i in self.instances.values())


def _bind_problem(instance: Instance | None) -> tuple[str, str] | None:
    if instance is None:
        return "InvalidInstanceId.NotFound", "The specified InstanceId does not exist."
    if instance.network_type != "vpc":
        error = _classic_mismatch()
        return error.code, error.message
    return None


# Top-level HTTP statuses of the codes a per-instance failure can carry.
_ITEM_CODE_STATUS = {
    "InvalidInstanceId.NotFound": 404,
    "InvalidNetworkType.MismatchRamRole": 403,
    ROLE_ALREADY_ATTACHED: 403,
    "InvalidRamRole.NotAttached": 403,
    "InvalidRamRole.NotEqual": 403,
}


def fail_whole_call_if_all_failed(results: list[BindResult]) -> list[BindResult]:
    """choice: a batch whose every instance failed the same way is answered as a call error."""
    codes = {r.code for r in results}
    if len(codes) == 1 and "200" not in codes:
        code = codes.pop()
        raise ApiError(code, results[0].message, _ITEM_CODE_STATUS.get(code, 400))
    return results


def _classic_mismatch() -> ApiError:
    return ApiError(
        "InvalidNetworkType.MismatchRamRole",
        "Ram role cannot be applied to instances of Classic network type.",
        403,
    )


def _incorrect_status() -> ApiError:
    return ApiError(
        "IncorrectInstanceStatus",
        "The current status of the resource does not support this operation.",
        403,
    )


def _instance_name(name: str | None, index: int, numbered: bool, instance_id: str) -> str:
    """Documented: a batch shares one name unless `UniqueSuffix` numbers them 001, 002, ..."""
    if not name:
        return instance_id
    return f"{name}{index + 1:03d}" if numbered else name


def _private_ip(vswitch: VSwitch | None, ids: IdFactory) -> str:
    base = vswitch.cidr.split("/")[0].rsplit(".", 1)[0] if vswitch else "10.0.0"
    return f"{base}.{ids.ip_suffix()}"
