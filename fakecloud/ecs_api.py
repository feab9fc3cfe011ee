"""ECS wire layer: read each action's parameters, call the backend, shape the documented response.

No state and no logic here beyond parameter limits; behaviour lives in `fakecloud.ecs`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fakecloud.clock import iso_minutes
from fakecloud.ecs import BindResult, EcsBackend, Instance, fail_whole_call_if_all_failed
from fakecloud.errors import ApiError
from fakecloud.params import Params
from fakecloud.tagging import missing_tag_parameter

_INSTANCE_ID = re.compile(r"^i-[A-Za-z0-9]{1,64}$")
_STATUSES = {"Pending", "Running", "Starting", "Stopping", "Stopped"}

_ORPHAN_VALUE_MESSAGES = {
    "InvalidTag.Mismatch": "The specified Tag.n.Key and Tag.n.Value are not match.",
    # ListTagResources documents this code; its message is not documented.
    "InvalidParameter.TagValue": "The specified Tag.N.Value is given without its Tag.N.Key.",
}


@dataclass
class EcsCall:
    """What an ECS action handler gets: the backend, the parameters, the caller's rights."""

    backend: EcsBackend
    params: Params
    can_pass_role: Callable[[str], bool]
    # Injected per-instance failures for a batch: instance id -> error to report for it.
    failing_items: Callable[[list[str]], dict[str, ApiError]] = lambda ids: {}
    # The `Code` of a per-instance success: "200" or 200, as the docs show both (shapes.py).
    success_code: Callable[[str], str | int] = lambda instance_id: "200"


def _instance_ids(params: Params, name: str, limit: int, required: bool) -> list[str] | None:
    ids = params.json_list(name, "InvalidInstanceIds.Malformed")
    if ids is None:
        if required:
            raise ApiError(f"MissingParameter.{name}", f"The input parameter {name} is missing.")
        return None
    if (required and not ids) or len(ids) > limit or not all(_INSTANCE_ID.match(i) for i in ids):
        raise ApiError("InvalidInstanceIds.Malformed", "The specified instanceIds are not valid.")
    return ids


def _tags(p: Params, orphan_code: str = "InvalidTag.Mismatch") -> list[tuple[str, str]]:
    """`Tag.N.Key`/`Tag.N.Value` pairs; a value without its key is the API's documented error."""
    try:
        return p.flat_pairs("Tag")
    except ApiError:
        raise ApiError(orphan_code, _ORPHAN_VALUE_MESSAGES[orphan_code]) from None


def run_instances(call: EcsCall) -> dict[str, Any]:
    p = call.params
    for name in ("ImageId", "InstanceType"):
        if p.get(name) is None:
            raise ApiError(
                "MissingParameter",
                f"The input parameter {name} that is mandatory for processing this request "
                "is not supplied.",
            )
    amount = p.get("Amount") or "1"
    if not amount.isdigit() or not 1 <= int(amount) <= 100:
        raise ApiError("InvalidParam.Amount", f"The specified Amount {amount!r} is not valid.", 403)
    ids = call.backend.run_instances(
        amount=int(amount),
        vswitch_id=p.get("VSwitchId"),
        name=p.get("InstanceName"),
        tags=_tags(p),
        resource_group_id=p.get("ResourceGroupId"),
        ram_role_name=p.get("RamRoleName"),
        instance_type=p.require("InstanceType"),
        image_id=p.require("ImageId"),
        can_pass_role=call.can_pass_role,
        unique_suffix=p.boolean("UniqueSuffix"),
    )
    return {"InstanceIdSets": {"InstanceIdSet": ids}, "OrderId": "", "TradePrice": 0}


def describe_instances(call: EcsCall) -> dict[str, Any]:
    p = call.params
    ids = _instance_ids(p, "InstanceIds", 100, required=False)
    matches = _instance_filter(p, ids)
    if p.get("NextToken") is not None or p.get("MaxResults") is not None:
        return _describe_by_token(call, ids, matches)
    page_number = p.integer("PageNumber", 1, 1, 1_000_000)
    page_size = p.integer("PageSize", 10, 1, 100)
    found = [i for i in _candidates(call.backend, ids, 0) if matches(i)]
    page = found[(page_number - 1) * page_size : page_number * page_size]
    return {
        "TotalCount": len(found),
        "PageNumber": page_number,
        "PageSize": page_size,
        "Instances": {"Instance": [instance_to_api(i) for i in page]},
    }


def _describe_by_token(
    call: EcsCall, ids: list[str] | None, matches: Callable[[Instance], bool]
) -> dict[str, Any]:
    # Documented: an out-of-range MaxResults is clamped to 10..100, not rejected.
    limit = min(100, max(10, call.params.integer("MaxResults", 10, -(2**31), 2**31)))
    token = call.params.get("NextToken")
    after = _decode_token(token) if token else 0
    page: list[Instance] = []
    more = False
    for instance in _candidates(call.backend, ids, after):
        if not matches(instance):
            continue
        if len(page) == limit:
            more = True
            break
        page.append(instance)
    return {
        "NextToken": f"{page[-1].seq:x}" if more else "",
        "Instances": {"Instance": [instance_to_api(i) for i in page]},
    }


def _decode_token(token: str) -> int:
    """Our tokens are non-negative hex positions; anything else is not one of ours."""
    try:
        position = int(token, 16)
    except ValueError:
        position = -1
    if position < 0:
        raise ApiError("Invalid.NextToken", "The specified NextToken is not valid.", 403)
    return position


def _candidates(backend: EcsBackend, ids: list[str] | None, after: int) -> list[Instance] | Any:
    if ids is None:
        return backend.iter_instances(after)
    found = (backend.find_instance(i) for i in dict.fromkeys(ids))
    return sorted((i for i in found if i is not None and i.seq > after), key=lambda i: i.seq)


def _instance_filter(p: Params, ids: list[str] | None) -> Callable[[Instance], bool]:
    status = p.get("Status")
    if status is not None and status not in _STATUSES:
        raise ApiError("InvalidStatus.NotFound", "The specified Status is not found.", 404)
    network = p.get("InstanceNetworkType")
    if network is not None and network not in ("vpc", "classic"):
        raise ApiError(
            "InvalidNetworkType.NotFound", "The specified InstanceNetworkType is not found.", 404
        )
    tags = _tags(p)
    if len(tags) > 20:
        raise ApiError("InvalidTagCount", "The specified tags are beyond the permitted range.")
    wanted = {
        "status": status,
        "network_type": network,
        "vpc_id": p.get("VpcId"),
        "resource_group_id": p.get("ResourceGroupId"),
        "vswitch_id": p.get("VSwitchId"),
    }

    def matches(instance: Instance) -> bool:
        if any(v is not None and getattr(instance, k) != v for k, v in wanted.items()):
            return False
        return all(k in instance.tags and (not v or instance.tags[k] == v) for k, v in tags)

    return matches


def instance_to_api(instance: Instance) -> dict[str, Any]:
    """One `Instances.Instance[]` entry, with the documented fields (no RAM role field exists)."""
    vpc = instance.network_type == "vpc"
    body: dict[str, Any] = {
        "InstanceId": instance.instance_id,
        "InstanceName": instance.name,
        "HostName": instance.name,
        "Description": "",
        "RegionId": instance.region,
        "ZoneId": instance.zone_id,
        "Status": instance.status,
        "InstanceNetworkType": instance.network_type,
        "CreationTime": iso_minutes(instance.created),
        "ExpiredTime": "2099-12-31T15:59Z",
        "InstanceChargeType": "PostPaid",
        "InstanceType": instance.instance_type,
        "ImageId": instance.image_id,
        "OSType": "linux",
        "Cpu": 2,
        "Memory": 8192,
        "ResourceGroupId": instance.resource_group_id,
        "VpcAttributes": {
            "VpcId": instance.vpc_id,
            "VSwitchId": instance.vswitch_id,
            "NatIpAddress": "",
            "PrivateIpAddress": {"IpAddress": [instance.private_ip] if vpc else []},
        },
        "InnerIpAddress": {"IpAddress": [] if vpc else [instance.private_ip]},
        "PublicIpAddress": {"IpAddress": []},
        "EipAddress": {"AllocationId": "", "IpAddress": "", "Bandwidth": 0},
        "SecurityGroupIds": {"SecurityGroupId": []},
        "OperationLocks": {"LockReason": []},
    }
    if instance.tags:  # choice: an instance without tags has no `Tags` field
        body["Tags"] = {"Tag": [{"TagKey": k, "TagValue": v} for k, v in instance.tags.items()]}
    return body


def start_instance(call: EcsCall) -> dict[str, Any]:
    call.backend.start_instance(call.params.require("InstanceId"))
    return {}


def stop_instance(call: EcsCall) -> dict[str, Any]:
    call.params.boolean("ForceStop")  # checked as ECS checks it; the fake stops either way
    call.backend.stop_instance(call.params.require("InstanceId"))
    return {}


def delete_instance(call: EcsCall) -> dict[str, Any]:
    call.backend.delete_instance(call.params.require("InstanceId"), call.params.boolean("Force"))
    return {}


def _resource_type(p: Params) -> str:
    """Documented: the tag actions answer a missing ResourceType with 404, not 400."""
    value = p.get("ResourceType")
    if value is None:
        raise missing_tag_parameter("ResourceType")
    return value


def tag_resources(call: EcsCall) -> dict[str, Any]:
    p = call.params
    call.backend.tags.tag_resources(_resource_type(p), p.flat_list("ResourceId"), _tags(p))
    return {}


def untag_resources(call: EcsCall) -> dict[str, Any]:
    p = call.params
    call.backend.tags.untag_resources(
        _resource_type(p),
        p.flat_list("ResourceId"),
        p.flat_list("TagKey"),
        p.boolean("All"),
    )
    return {}


def add_tags(call: EcsCall) -> dict[str, Any]:
    return _one_resource_tags(call, call.backend.tags.add_tags)


def remove_tags(call: EcsCall) -> dict[str, Any]:
    return _one_resource_tags(call, call.backend.tags.remove_tags)


def _one_resource_tags(call: EcsCall, write: Callable[[str, str, Any], None]) -> dict[str, Any]:
    """The older tag APIs: one resource, Tag.N pairs."""
    p = call.params
    write(_resource_type(p), p.require("ResourceId"), _tags(p))
    return {}


def list_tag_resources(call: EcsCall) -> dict[str, Any]:
    p = call.params
    rows = call.backend.tags.list_tag_resources(
        _resource_type(p), p.flat_list("ResourceId"), _tags(p, "InvalidParameter.TagValue")
    )
    start = _decode_token(p.get("NextToken") or "0")
    page = rows[start : start + 50]
    more = start + 50 < len(rows)
    entries = [
        {"ResourceId": r, "ResourceType": "instance", "TagKey": k, "TagValue": v}
        for r, k, v in page
    ]
    return {
        "NextToken": f"{start + 50:x}" if more else "",
        "TagResources": {"TagResource": entries},
    }


def describe_instance_ram_role(call: EcsCall) -> dict[str, Any]:
    p = call.params
    ids = _instance_ids(p, "InstanceIds", 50, required=False)
    role = p.get("RamRoleName")
    if ids is None and role is None:
        raise ApiError(
            "InvalidParameter.AllEmpty", "InstanceIds and RamRoleName cannot both be empty.", 403
        )
    page_number = p.integer("PageNumber", 1, 1, 1_000_000)
    page_size = p.integer("PageSize", 10, 1, 50)
    found = call.backend.describe_instance_ram_role(ids, role)
    page = found[(page_number - 1) * page_size : page_number * page_size]
    # The documented answer (api-facts 2.6): RequestId, RegionId, TotalCount and the sets; the
    # request's PageNumber and PageSize are not echoed.
    return {
        "RegionId": call.backend.region,
        "TotalCount": len(found),
        "InstanceRamRoleSets": {
            "InstanceRamRoleSet": [
                {"InstanceId": i.instance_id, "RamRoleName": i.role or ""} for i in page
            ]
        },
    }


def attach_instance_ram_role(call: EcsCall) -> dict[str, Any]:
    p = call.params
    ids = _instance_ids(p, "InstanceIds", 100, required=True) or []
    role = p.require("RamRoleName")
    policy = p.get("Policy")
    if policy is not None and len(policy) > 1024:
        raise ApiError(
            "InvalidParameter.Policy", "The specified Policy is longer than 1024 characters."
        )
    results = _bind(
        call,
        ids,
        lambda rest: call.backend.attach_instance_ram_role(rest, role, policy, call.can_pass_role),
    )
    return _bind_response("AttachInstanceRamRole", role, results, call.success_code)


def detach_instance_ram_role(call: EcsCall) -> dict[str, Any]:
    p = call.params
    ids = _instance_ids(p, "InstanceIds", 100, required=True) or []
    role = p.get("RamRoleName")
    results = _bind(call, ids, lambda rest: call.backend.detach_instance_ram_role(rest, role))
    return _bind_response("DetachInstanceRamRole", role or "", results, call.success_code)


def _bind(
    call: EcsCall, ids: list[str], act: Callable[[list[str]], list[BindResult]]
) -> list[BindResult]:
    """Run a batch bind action, with injected per-instance failures standing in for some ids."""
    injected = call.failing_items(ids)
    if not injected:
        return fail_whole_call_if_all_failed(act(ids))
    rest = [i for i in ids if i not in injected]
    done = {r.instance_id: r for r in act(rest)} if rest else {}
    failed = {i: BindResult(i, e.code, e.message) for i, e in injected.items()}
    return [done.get(i) or failed[i] for i in ids]


def _bind_response(
    action: str,
    role: str,
    results: list[BindResult],
    success_code: Callable[[str], str | int],
) -> dict[str, Any]:
    items = []
    for result in results:
        code = success_code(result.instance_id) if result.success else result.code
        item: dict[str, Any] = {
            "InstanceId": result.instance_id,
            "Code": code,
            "Message": result.message,
            "Success": result.success,
        }
        if action == "DetachInstanceRamRole" and result.success:
            item["InstanceRamRoleSets"] = {
                "InstanceRamRoleSet": [
                    {"InstanceId": result.instance_id, "RamRoleName": result.role}
                ]
            }
        items.append(item)
    return {
        "RamRoleName": role,
        "TotalCount": len(results),
        "FailCount": sum(1 for r in results if not r.success),
        f"{action}Results": {f"{action}Result": items},
    }


ACTIONS: dict[str, Callable[[EcsCall], dict[str, Any]]] = {
    "RunInstances": run_instances,
    "DescribeInstances": describe_instances,
    "StartInstance": start_instance,
    "StopInstance": stop_instance,
    "DeleteInstance": delete_instance,
    "TagResources": tag_resources,
    "UntagResources": untag_resources,
    "AddTags": add_tags,
    "RemoveTags": remove_tags,
    "ListTagResources": list_tag_resources,
    "DescribeInstanceRamRole": describe_instance_ram_role,
    "AttachInstanceRamRole": attach_instance_ram_role,
    "DetachInstanceRamRole": detach_instance_ram_role,
}
# Actions that change state: ActionTrail records them and EventBridge delivers them.
WRITE_ACTIONS = frozenset(ACTIONS) - {
    "DescribeInstances",
    "ListTagResources",
    "DescribeInstanceRamRole",
}
