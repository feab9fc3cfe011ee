"""Per-key permissions: lists of actions and passable roles, or a real RAM policy document."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.DetachInstanceRamRoleRequest import DetachInstanceRamRoleRequest
from aliyunsdkecs.request.v20140526.StopInstanceRequest import StopInstanceRequest
from aliyunsdkram.request.v20150501.GetRoleRequest import GetRoleRequest
from aliyunsdkram.request.v20150501.ListRolesRequest import ListRolesRequest

from fakecloud import DEFAULT_ACCOUNT_ID, FakeCloud, FakeCloudServer
from tests.fakecloud.builders import (
    ROLE,
    assert_error,
    attach_request,
    describe,
    instance_ids,
    run,
    run_request,
    seed_role,
    seed_vpc,
    server_error,
)
from tests.support import REGION, call, make_client

INSTANCES = f"acs:ecs:*:{DEFAULT_ACCOUNT_ID}:instance/*"


def restricted_client(server: FakeCloudServer, **permissions: Any) -> AcsClient:
    """A client whose key carries `permissions` (allowed_actions, passable_roles or policy)."""
    server.cloud.add_key("LTAI5tRestricted", "restricted-secret", **permissions)
    return make_client(
        server, access_key_id="LTAI5tRestricted", access_key_secret="restricted-secret"
    )


def get_role(name: str) -> GetRoleRequest:
    request = GetRoleRequest()
    request.set_RoleName(name)
    return request


@pytest.fixture
def instances(cloud: FakeCloud, client) -> list[str]:
    """Two VPC instances without roles, and roles AppReader and AppWriter."""
    seed_vpc(cloud)
    seed_role(cloud)
    seed_role(cloud, "AppWriter")
    return run(client, 2)


def test_allowed_actions_and_passable_roles(
    cloud: FakeCloud, server: FakeCloudServer, instances: list[str]
) -> None:
    # GIVEN a key that may describe and attach, and pass AppReader only
    client = restricted_client(
        server,
        allowed_actions=["ecs:DescribeInstances", "ecs:AttachInstanceRamRole"],
        passable_roles=[ROLE],
    )

    # WHEN it uses its rights, passes another role, and calls an action it lacks
    seen = instance_ids(describe(client))
    call(client, attach_request(instances[:1]))
    other_role = server_error(client, attach_request(instances[1:], "AppWriter"))
    other_action = server_error(client, run_request())

    # THEN
    assert sorted(seen) == sorted(instances)
    assert cloud.ecs(REGION).instances[instances[0]].role == ROLE
    assert_error(other_role, "InvalidUser.PassRoleForbidden", 403)
    assert_error(other_action, "Forbidden.RAM", 403)
    assert other_action.get_error_msg() == (
        "User not authorized to operate on the specified resource, or this API doesn't support RAM."
    )
    assert cloud.ecs(REGION).instances[instances[1]].role is None
    assert len(cloud.ecs(REGION).instances) == 2


def test_actions_are_matched_case_insensitively(
    server: FakeCloudServer, instances: list[str]
) -> None:
    client = restricted_client(server, allowed_actions=["ECS:describeinstances"])

    assert describe(client)["TotalCount"] == 2


def test_describe_instances_without_permission_is_an_empty_list(
    server: FakeCloudServer, instances: list[str]
) -> None:
    client = restricted_client(server, allowed_actions=["ecs:StopInstance"])

    body = describe(client)

    assert (body["TotalCount"], instance_ids(body)) == (0, [])


def test_ram_actions_without_permission(server: FakeCloudServer, instances: list[str]) -> None:
    client = restricted_client(server, allowed_actions=["ram:ListRoles"])

    roles = call(client, ListRolesRequest())["Roles"]["Role"]
    error = server_error(client, get_role(ROLE))

    assert len(roles) == 2
    assert_error(error, "NoPermission", 403)
    assert "ram:GetRole" in error.get_error_msg()


def policy_client(server: FakeCloudServer, *statements: dict[str, Any]) -> AcsClient:
    return restricted_client(server, policy={"Version": "1", "Statement": list(statements)})


def test_a_policy_document_allows_and_denies_by_resource(
    cloud: FakeCloud, server: FakeCloudServer, instances: list[str]
) -> None:
    # GIVEN a policy: describe and attach anywhere, except on one instance; pass AppReader only
    protected, free = instances
    client = policy_client(
        server,
        {
            "Effect": "Allow",
            "Action": ["ecs:Describe*", "ecs:AttachInstanceRamRole"],
            "Resource": "*",
        },
        {
            "Effect": "Deny",
            "Action": "ecs:AttachInstanceRamRole",
            "Resource": f"acs:ecs:{REGION}:{DEFAULT_ACCOUNT_ID}:instance/{protected}",
        },
        {"Effect": "Allow", "Action": "ram:PassRole", "Resource": "acs:ram:*:*:role/AppReader"},
    )

    # WHEN
    denied = server_error(client, attach_request([protected]))
    call(client, attach_request([free]))
    unpassable = server_error(client, attach_request([protected], "AppWriter"))

    # THEN
    assert_error(denied, "Forbidden.RAM", 403)
    assert_error(unpassable, "Forbidden.RAM", 403)  # the Deny is checked before the role
    assert cloud.ecs(REGION).instances[protected].role is None
    assert cloud.ecs(REGION).instances[free].role == ROLE
    assert describe(client)["TotalCount"] == 2


def test_a_policy_without_pass_role(
    cloud: FakeCloud, server: FakeCloudServer, instances: list[str]
) -> None:
    client = policy_client(
        server,
        {
            "Effect": "Allow",
            "Action": "ecs:AttachInstanceRamRole",
            "Resource": [INSTANCES, "acs:ram:*:*:role/*"],
        },
    )

    error = server_error(client, attach_request(instances[:1]))

    assert_error(error, "InvalidUser.PassRoleForbidden", 403)


@pytest.mark.parametrize("action", ["AttachInstanceRamRole", "DetachInstanceRamRole"])
def test_attach_and_detach_are_authorised_on_the_role_too(
    server: FakeCloudServer, instances: list[str], action: str
) -> None:
    # GIVEN a policy granting the action on every instance, on one role only, and PassRole
    client = policy_client(
        server,
        {
            "Effect": "Allow",
            "Action": [f"ecs:{action}", "ram:PassRole"],
            "Resource": [INSTANCES, "acs:ram:*:*:role/AppReader"],
        },
    )
    request = attach_request(instances[:1]) if action.startswith("Attach") else None
    if request is None:
        request = DetachInstanceRamRoleRequest()
        request.set_InstanceIds(json.dumps(instances[:1]))
    # WHEN it names another role, THEN RAM refuses (the role is a resource of both actions)
    request.set_RamRoleName("AppWriter")
    assert_error(server_error(client, request), "Forbidden.RAM", 403)


def test_a_policy_limits_ram_by_role_resource(
    server: FakeCloudServer, instances: list[str]
) -> None:
    client = policy_client(
        server,
        {"Effect": "Allow", "Action": "ram:GetRole", "Resource": "acs:ram:*:*:role/AppReader"},
    )

    body = call(client, get_role(ROLE))
    error = server_error(client, get_role("AppWriter"))

    assert body["Role"]["RoleName"] == ROLE
    assert_error(error, "NoPermission", 403)


def test_statements_with_conditions_never_match(
    server: FakeCloudServer, instances: list[str]
) -> None:
    client = policy_client(
        server,
        {
            "Effect": "Allow",
            "Action": "ecs:StopInstance",
            "Resource": "*",
            "Condition": {"IpAddress": {"acs:SourceIp": "127.0.0.1"}},
        },
    )
    request = StopInstanceRequest()
    request.set_InstanceId(instances[0])

    error = server_error(client, request)

    assert_error(error, "Forbidden.RAM", 403)


def test_a_refused_write_is_recorded_but_changes_nothing(
    cloud: FakeCloud, server: FakeCloudServer, instances: list[str]
) -> None:
    # GIVEN a read-only key and the events so far
    client = restricted_client(server, allowed_actions=["ecs:DescribeInstances"])
    before = len(cloud.events.since(0))

    # WHEN it tries to write
    server_error(client, attach_request(instances[:1]))

    # THEN only the ActionTrail record of the refused call, and no change
    [(_, event)] = cloud.events.since(0)[before:]
    assert event["data"]["eventName"] == "AttachInstanceRamRole"
    assert event["data"]["errorCode"] == "Forbidden.RAM"
    assert cloud.ecs(REGION).instances[instances[0]].role is None
