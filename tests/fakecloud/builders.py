"""Builders shared by the fake cloud's acceptance tests: state in, SDK requests out."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest
from aliyunsdkecs.request.v20140526.AttachInstanceRamRoleRequest import (
    AttachInstanceRamRoleRequest,
)
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkecs.request.v20140526.RunInstancesRequest import RunInstancesRequest

from fakecloud import FakeCloud
from fakecloud.ram import ecs_trust_policy
from tests.support import REGION, call

VPC_ID = "vpc-bp1acceptance"
VSWITCH_ID = "vsw-bp1acceptance"
ZONE_ID = "cn-hangzhou-h"
ROLE = "AppReader"
# Long enough for Pending -> Starting -> Running with the default one-second steps.
BOOT_SECONDS = 2.0


def seed_vpc(cloud: FakeCloud, vswitch_id: str = VSWITCH_ID, region: str = REGION) -> str:
    """Declare a VPC with one vSwitch (the fake has no VPC API) and return the vSwitch id."""
    cloud.ecs(region).add_vswitch(vswitch_id, VPC_ID, ZONE_ID, "172.16.1.0/24")
    return vswitch_id


def seed_role(
    cloud: FakeCloud, name: str = ROLE, services: Sequence[str] = ("ecs.aliyuncs.com",)
) -> str:
    """Create a RAM role trusting `services` (an instance RAM role by default)."""
    policy = ecs_trust_policy().replace('["ecs.aliyuncs.com"]', json.dumps(list(services)))
    cloud.ram().create_role(name, policy)
    return name


def run_request(
    amount: int = 1,
    *,
    vswitch_id: str | None = VSWITCH_ID,
    tags: Mapping[str, str] | None = None,
    name: str | None = None,
    role: str | None = None,
    resource_group_id: str | None = None,
) -> RunInstancesRequest:
    request = RunInstancesRequest()
    request.set_ImageId("aliyun_3_x64_20G_alibase_20240819.vhd")
    request.set_InstanceType("ecs.g7.large")
    request.set_Amount(amount)
    if vswitch_id:
        request.set_VSwitchId(vswitch_id)
    if tags:
        request.set_Tags([{"Key": k, "Value": v} for k, v in tags.items()])
    if name:
        request.set_InstanceName(name)
    if role:
        request.set_RamRoleName(role)
    if resource_group_id:
        request.set_ResourceGroupId(resource_group_id)
    return request


def run(client: AcsClient, amount: int = 1, **options: Any) -> list[str]:
    """RunInstances through the SDK; the new instance ids."""
    body = call(client, run_request(amount, **options))
    return list(body["InstanceIdSets"]["InstanceIdSet"])


def run_running(cloud: FakeCloud, client: AcsClient, amount: int = 1, **options: Any) -> list[str]:
    """RunInstances, then drive the clock until the instances are Running."""
    ids = run(client, amount, **options)
    cloud.advance(BOOT_SECONDS)
    return ids


def describe(client: AcsClient, **setters: Any) -> dict[str, Any]:
    """DescribeInstances; each keyword is a setter name without `set_` (InstanceIds: a list)."""
    request = DescribeInstancesRequest()
    for name, value in setters.items():
        getattr(request, f"set_{name}")(json.dumps(value) if name == "InstanceIds" else value)
    return call(client, request)


def instance_ids(body: Mapping[str, Any]) -> list[str]:
    return [i["InstanceId"] for i in body["Instances"]["Instance"]]


def attach_request(ids: Sequence[str], role: str = ROLE) -> AttachInstanceRamRoleRequest:
    request = AttachInstanceRamRoleRequest()
    request.set_InstanceIds(json.dumps(list(ids)))
    request.set_RamRoleName(role)
    return request


def server_error(client: AcsClient, request: RpcRequest) -> ServerException:
    """The ServerException the SDK raises for `request`."""
    with pytest.raises(ServerException) as caught:
        client.do_action_with_exception(request)
    return caught.value


def assert_error(error: ServerException, code: str, status: int) -> None:
    assert (error.get_error_code(), error.get_http_status()) == (code, status), error
    assert error.get_request_id()
