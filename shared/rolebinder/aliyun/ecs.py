"""ECS gateway: instances, their tags and their instance RAM roles, in documented batch sizes.

DescribeInstances takes up to 100 ids, DescribeInstanceRamRole up to 50, Attach/Detach up to
100, TagResources/UntagResources up to 50 (rolebinder's ownership markers). Every answer
becomes small typed values; per-instance results inside batch answers are read one by one,
since an HTTP 200 can still carry failures.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence

from aliyunsdkecs.request.v20140526.AttachInstanceRamRoleRequest import AttachInstanceRamRoleRequest
from aliyunsdkecs.request.v20140526.DescribeInstanceRamRoleRequest import (
    DescribeInstanceRamRoleRequest,
)
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkecs.request.v20140526.DetachInstanceRamRoleRequest import DetachInstanceRamRoleRequest
from aliyunsdkecs.request.v20140526.TagResourcesRequest import TagResourcesRequest
from aliyunsdkecs.request.v20140526.UntagResourcesRequest import UntagResourcesRequest

from rolebinder.aliyun.side_by_side import side_by_side
from rolebinder.aliyun.transport import TRANSIENT_CODES, Answer, Transport, item_get
from rolebinder.domain.instance import Instance
from rolebinder.errors import CloudError
from rolebinder.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any

DESCRIBE_BATCH = 100
ROLE_BATCH = 50
BIND_BATCH = 100
TAG_BATCH = 50
# Codes for which a DescribeInstanceRamRole batch is split to find the instance at fault.
_SPLIT_CODES = frozenset({"InvalidInstanceId.NotFound", "InvalidNetworkType.MismatchRamRole"})
# The tag APIs refuse a whole call when one resource is gone; split to find it.
_TAG_SPLIT_CODES = frozenset({"InvalidResourceId.NotFound"})


class BindResult(Value):
    """What Attach/Detach said about one instance."""

    instance_id: str
    ok: bool
    code: str
    message: str
    request_id: str | None

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES


def chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class EcsGateway:
    """ECS calls for one region through one SDK transport."""

    def __init__(self, transport: Transport, region: str, account_id: str | None = None) -> None:
        self.transport = transport
        self.region = region
        # DescribeInstances does not name the owner: the credentials' account is the owner.
        self.account_id = account_id

    # -- instances ----------------------------------------------------------------------------

    def describe_instances(self, instance_ids: Sequence[str]) -> list[Instance]:
        """The listed instances that exist (missing ones are simply absent)."""
        found: list[Instance] = []
        for batch in chunks(list(dict.fromkeys(instance_ids)), DESCRIBE_BATCH):
            for page in self._pages(batch):
                found.extend(page)
        return found

    def list_instances(self) -> Iterator[list[Instance]]:
        """Every instance of the region, a page (up to 100) at a time."""
        return self._pages(None)

    def _pages(self, instance_ids: list[str] | None) -> Iterator[list[Instance]]:
        token = ""
        while True:
            request = DescribeInstancesRequest()
            request.set_MaxResults(DESCRIBE_BATCH)
            if instance_ids is not None:
                request.set_InstanceIds(json.dumps(instance_ids))
            if token:
                request.set_NextToken(token)
            answer = Answer("DescribeInstances", self.transport.read(request))
            # Required: the documented answer always carries the list, empty when nothing
            # matches. Read as "no instances", a broken answer would skip a tag event for good.
            items = answer.get("Instances.Instance", list)
            yield [
                self._instance(answer, item, f"Instances.Instance[{i}]")
                for i, item in enumerate(items)
            ]
            token = answer.get("NextToken", str, "")
            if not token:
                return

    def _instance(self, answer: Answer, item: Any, where: str) -> Instance:
        vpc = item_get(answer, item, where, "VpcAttributes", dict, {})
        return Instance(
            instance_id=item_get(answer, item, where, "InstanceId", str),
            region=item_get(answer, item, where, "RegionId", str, self.region) or self.region,
            network_type=item_get(answer, item, where, "InstanceNetworkType", str),
            status=item_get(answer, item, where, "Status", str),
            tags=_tags(answer, item, where),
            vpc_id=vpc.get("VpcId") or None if isinstance(vpc.get("VpcId"), str) else None,
            resource_group_id=item_get(answer, item, where, "ResourceGroupId", str, "") or None,
            account_id=self.account_id,
        )

    # -- instance RAM roles -------------------------------------------------------------------

    def describe_roles(self, instance_ids: Sequence[str]) -> dict[str, str | None]:
        """Current role of each listed VPC instance (None: no role); vanished ids are absent."""
        batches = list(chunks(list(dict.fromkeys(instance_ids)), ROLE_BATCH))
        roles: dict[str, str | None] = {}
        for found in side_by_side(self._roles, batches):
            roles.update(found)
        return roles

    def _roles(self, batch: list[str]) -> dict[str, str | None]:
        request = DescribeInstanceRamRoleRequest()
        request.set_InstanceIds(json.dumps(batch))
        request.set_PageSize(ROLE_BATCH)
        try:
            answer = Answer("DescribeInstanceRamRole", self.transport.read(request))
        except CloudError as error:
            # One instance deleted (or not VPC) fails the whole batch: find it by halving.
            if error.code not in _SPLIT_CODES:
                raise
            if len(batch) == 1:
                return {}
            middle = len(batch) // 2
            return {**self._roles(batch[:middle]), **self._roles(batch[middle:])}
        # Role-less instances may be omitted or listed with an empty name: both mean "none".
        # The list and each item's name are required all the same: a broken answer read as
        # "no role" would decide on a binding the instance does not have.
        roles: dict[str, str | None] = dict.fromkeys(batch)
        for i, item in enumerate(answer.get("InstanceRamRoleSets.InstanceRamRoleSet", list)):
            where = f"InstanceRamRoleSets.InstanceRamRoleSet[{i}]"
            instance_id = item_get(answer, item, where, "InstanceId", str)
            if instance_id in roles:
                roles[instance_id] = item_get(answer, item, where, "RamRoleName", str) or None
        return roles

    def attach_role(
        self, role: str, instance_ids: Sequence[str], policy: str | None = None
    ) -> dict[str, BindResult]:
        """Attach `role` to up to 100 instances, its credentials narrowed by `policy` if given;
        one result per instance the answer covers."""
        request = AttachInstanceRamRoleRequest()
        if policy is not None:
            request.set_Policy(policy)
        return self._bind(request, role, instance_ids)

    def detach_role(self, role: str, instance_ids: Sequence[str]) -> dict[str, BindResult]:
        """Detach `role` (only where it is still the bound role) from up to 100 instances."""
        return self._bind(DetachInstanceRamRoleRequest(), role, instance_ids)

    # -- ownership markers (tags) ---------------------------------------------------------------

    def tag_instances(self, tags: dict[str, str], instance_ids: Sequence[str]) -> set[str]:
        """Set `tags` on up to 50 instances; returns the ids tagged (vanished ones are not)."""
        request = TagResourcesRequest()
        request.set_ResourceType("instance")
        request.set_ResourceIds(list(instance_ids))
        request.set_Tags([{"Key": key, "Value": value} for key, value in tags.items()])
        return self._tag_call(request, instance_ids, lambda ids: self.tag_instances(tags, ids))

    def untag_instances(self, keys: Sequence[str], instance_ids: Sequence[str]) -> set[str]:
        """Remove tag `keys` from up to 50 instances; returns the ids untagged."""
        request = UntagResourcesRequest()
        request.set_ResourceType("instance")
        request.set_ResourceIds(list(instance_ids))
        request.set_TagKeys(list(keys))
        return self._tag_call(request, instance_ids, lambda ids: self.untag_instances(keys, ids))

    def _tag_call(
        self,
        request: TagResourcesRequest | UntagResourcesRequest,
        instance_ids: Sequence[str],
        again: Callable[[Sequence[str]], set[str]],
    ) -> set[str]:
        try:
            # Setting or removing the same tag twice is harmless: retried like a read.
            Answer(request.get_action_name(), self.transport.idempotent_write(request))
        except CloudError as error:
            if error.code not in _TAG_SPLIT_CODES:
                raise
            if len(instance_ids) == 1:
                return set()
            middle = len(instance_ids) // 2
            return again(instance_ids[:middle]) | again(instance_ids[middle:])
        return set(instance_ids)

    def _bind(
        self,
        request: AttachInstanceRamRoleRequest | DetachInstanceRamRoleRequest,
        role: str,
        instance_ids: Sequence[str],
    ) -> dict[str, BindResult]:
        action = request.get_action_name()
        request.set_RamRoleName(role)
        request.set_InstanceIds(json.dumps(list(instance_ids)))
        answer = Answer(action, self.transport.write(request))
        return _bind_results(answer, action, instance_ids)


def _tags(answer: Answer, item: dict[str, Any], where: str) -> dict[str, str]:
    tags = item_get(answer, item, where, "Tags", dict, {})
    entries = tags.get("Tag", [])
    if not isinstance(entries, list):
        answer.fail(f"{where}.Tags.Tag: expected list, got {type(entries).__name__}")
    pairs = {}
    for i, entry in enumerate(entries):
        key = item_get(answer, entry, f"{where}.Tags.Tag[{i}]", "TagKey", str)
        pairs[key] = item_get(answer, entry, f"{where}.Tags.Tag[{i}]", "TagValue", str, "")
    return pairs


def _bind_results(
    answer: Answer, action: str, instance_ids: Sequence[str]
) -> dict[str, BindResult]:
    path = f"{action}Results.{action}Result"
    results: dict[str, BindResult] = {}
    for i, item in enumerate(answer.get(path, list, [])):
        where = f"{path}[{i}]"
        instance_id = item_get(answer, item, where, "InstanceId", str)
        code = str(item_get(answer, item, where, "Code", (str, int), ""))
        success = item_get(answer, item, where, "Success", bool, code == "200")
        message = item_get(answer, item, where, "Message", str, "")
        if instance_id in instance_ids:
            results[instance_id] = BindResult(
                instance_id, success, code, message, answer.request_id
            )
    return results
