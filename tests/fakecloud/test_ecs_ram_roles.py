"""Instance RAM roles: DescribeInstanceRamRole, AttachInstanceRamRole, DetachInstanceRamRole."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from aliyunsdkecs.request.v20140526.DescribeInstanceRamRoleRequest import (
    DescribeInstanceRamRoleRequest,
)
from aliyunsdkecs.request.v20140526.DetachInstanceRamRoleRequest import (
    DetachInstanceRamRoleRequest,
)

from fakecloud import FakeCloud, FakeCloudServer
from fakecloud.ecs import ROLE_ALREADY_ATTACHED
from tests.fakecloud.builders import (
    ROLE,
    assert_error,
    attach_request,
    run,
    seed_role,
    seed_vpc,
    server_error,
)
from tests.support import REGION, call, make_client

UNKNOWN = "i-bp1doesnotexist0000"


def describe_roles(
    ids: Sequence[str] | None = None,
    role: str | None = None,
    page: int | None = None,
    size: int | None = None,
) -> DescribeInstanceRamRoleRequest:
    request = DescribeInstanceRamRoleRequest()
    if ids is not None:
        request.set_InstanceIds(json.dumps(list(ids)))
    if role:
        request.set_RamRoleName(role)
    if page:
        request.set_PageNumber(page)
    if size:
        request.set_PageSize(size)
    return request


def detach_request(ids: Sequence[str], role: str | None = None) -> DetachInstanceRamRoleRequest:
    request = DetachInstanceRamRoleRequest()
    request.set_InstanceIds(json.dumps(list(ids)))
    if role:
        request.set_RamRoleName(role)
    return request


def role_sets(body: dict[str, Any]) -> list[dict[str, str]]:
    return list(body["InstanceRamRoleSets"]["InstanceRamRoleSet"])


def results(body: dict[str, Any], action: str = "AttachInstanceRamRole") -> dict[str, dict]:
    return {r["InstanceId"]: r for r in body[f"{action}Results"][f"{action}Result"]}


def role_of(cloud: FakeCloud, instance_id: str) -> str | None:
    return cloud.ecs(REGION).instances[instance_id].role


@pytest.fixture
def world(cloud: FakeCloud) -> FakeCloud:
    """A VPC, an instance RAM role `AppReader`, a second one and a role that does not trust ECS."""
    seed_vpc(cloud)
    seed_role(cloud)
    seed_role(cloud, "AppWriter")
    seed_role(cloud, "FcOnly", ("fc.aliyuncs.com",))
    return cloud


# -- DescribeInstanceRamRole ---------------------------------------------------------------


def test_describe_by_ids_lists_bound_roles(world: FakeCloud, client) -> None:
    # GIVEN two instances with roles and one without
    [reader] = run(client, role=ROLE)
    [writer] = run(client, role="AppWriter")
    [bare] = run(client)

    # WHEN
    body = call(client, describe_roles([reader, writer, bare]))

    # THEN the role-less one is omitted (the fake's default)
    assert body["RegionId"] == REGION
    assert body["TotalCount"] == 2
    assert role_sets(body) == [
        {"InstanceId": reader, "RamRoleName": ROLE},
        {"InstanceId": writer, "RamRoleName": "AppWriter"},
    ]
    # the documented fields only: PageNumber and PageSize are not echoed (api-facts 2.6)
    assert set(body) == {"RequestId", "RegionId", "TotalCount", "InstanceRamRoleSets"}


def test_role_less_instances_are_listed_when_switched_on(world: FakeCloud, client) -> None:
    # GIVEN the switch for the other documented behaviour
    world.list_roleless = True
    [reader] = run(client, role=ROLE)
    [bare] = run(client)

    # WHEN
    body = call(client, describe_roles([reader, bare]))

    # THEN
    assert role_sets(body) == [
        {"InstanceId": reader, "RamRoleName": ROLE},
        {"InstanceId": bare, "RamRoleName": ""},
    ]


def test_describe_by_role_name(world: FakeCloud, client) -> None:
    readers = run(client, 3, role=ROLE)
    run(client, 2, role="AppWriter")

    body = call(client, describe_roles(role=ROLE.upper()))

    assert [r["InstanceId"] for r in role_sets(body)] == readers


def test_describe_by_ids_and_role_name(world: FakeCloud, client) -> None:
    [reader] = run(client, role=ROLE)
    [writer] = run(client, role="AppWriter")

    body = call(client, describe_roles([reader, writer], role="AppWriter"))

    assert [r["InstanceId"] for r in role_sets(body)] == [writer]


def test_describe_pages(world: FakeCloud, client) -> None:
    # GIVEN 12 instances with the role
    ids = run(client, 12, role=ROLE)

    # WHEN read 5 at a time
    pages = [call(client, describe_roles(role=ROLE, page=n, size=5)) for n in (1, 2, 3)]

    # THEN
    assert [p["TotalCount"] for p in pages] == [12, 12, 12]
    assert [len(role_sets(p)) for p in pages] == [5, 5, 2]
    assert [r["InstanceId"] for p in pages for r in role_sets(p)] == ids


def test_describe_up_to_fifty_ids(world: FakeCloud, client) -> None:
    ids = run(client, 51, role=ROLE)

    body = call(client, describe_roles(ids[:50], size=50))
    error = server_error(client, describe_roles(ids))

    assert body["TotalCount"] == 50
    assert_error(error, "InvalidInstanceIds.Malformed", 400)


def test_describe_needs_ids_or_role_name(client) -> None:
    error = server_error(client, describe_roles())

    assert_error(error, "InvalidParameter.AllEmpty", 403)


def test_describe_a_classic_instance(world: FakeCloud, client) -> None:
    [bound] = run(client, role=ROLE)
    [classic] = run(client, vswitch_id=None)

    error = server_error(client, describe_roles([bound, classic]))

    assert_error(error, "InvalidNetworkType.MismatchRamRole", 403)


def test_describe_an_unknown_instance(world: FakeCloud, client) -> None:
    error = server_error(client, describe_roles([UNKNOWN]))

    assert_error(error, "InvalidInstanceId.NotFound", 404)


@pytest.mark.parametrize(("setter", "value"), [("PageSize", 51), ("PageNumber", 0)])
def test_describe_page_parameters_out_of_range(client, setter: str, value: int) -> None:
    request = describe_roles(role=ROLE)
    getattr(request, f"set_{setter}")(value)

    error = server_error(client, request)

    assert_error(error, f"InvalidParameter.{setter}", 400)


# -- AttachInstanceRamRole -----------------------------------------------------------------


def test_attach_answers_per_instance_results(world: FakeCloud, client) -> None:
    # GIVEN two instances without a role
    ids = run(client, 2)

    # WHEN
    body = call(client, attach_request(ids))

    # THEN
    assert (body["RamRoleName"], body["TotalCount"], body["FailCount"]) == (ROLE, 2, 0)
    assert results(body) == {
        i: {"InstanceId": i, "Code": "200", "Message": "success", "Success": True} for i in ids
    }
    assert [role_of(world, i) for i in ids] == [ROLE, ROLE]
    assert role_sets(call(client, describe_roles(ids))) == [
        {"InstanceId": i, "RamRoleName": ROLE} for i in ids
    ]


def test_attach_up_to_a_hundred_instances(world: FakeCloud, client) -> None:
    ids = run(client, 100)

    body = call(client, attach_request(ids))

    assert (body["TotalCount"], body["FailCount"]) == (100, 0)


def test_attach_more_than_a_hundred_instances(world: FakeCloud, client) -> None:
    ids = run(client, 100) + run(client)

    error = server_error(client, attach_request(ids))

    assert_error(error, "InvalidInstanceIds.Malformed", 400)
    assert role_of(world, ids[0]) is None


@pytest.mark.parametrize("raw", ["i-bp1notjson", "[]", '["vm-1"]', '"i-bp1abc"', "[1]"])
def test_attach_malformed_instance_ids(world: FakeCloud, client, raw: str) -> None:
    request = attach_request([])
    request.set_InstanceIds(raw)

    error = server_error(client, request)

    assert_error(error, "InvalidInstanceIds.Malformed", 400)


@pytest.mark.parametrize(
    ("leave_out", "code"),
    [
        ("InstanceIds", "MissingParameter.InstanceIds"),
        ("RamRoleName", "MissingParameter.RamRoleName"),
    ],
)
def test_attach_required_parameters(client, leave_out: str, code: str) -> None:
    request = attach_request(["i-bp1abc"])
    del request.get_query_params()[leave_out]

    error = server_error(client, request)

    assert_error(error, code, 400)


@pytest.mark.parametrize(
    ("role", "code", "status"),
    [
        ("Nobody", "InvalidRamRole.NotFound", 404),
        ("FcOnly", "InvalidRamRole.NotEcsRole", 404),
    ],
)
def test_attach_role_errors(world: FakeCloud, client, role: str, code: str, status: int) -> None:
    [instance_id] = run(client)

    error = server_error(client, attach_request([instance_id], role))

    assert_error(error, code, status)
    assert role_of(world, instance_id) is None


def test_attach_to_a_classic_instance(world: FakeCloud, client) -> None:
    [classic] = run(client, vswitch_id=None)

    error = server_error(client, attach_request([classic]))

    assert_error(error, "InvalidNetworkType.MismatchRamRole", 403)


def test_attach_to_an_unknown_instance(world: FakeCloud, client) -> None:
    error = server_error(client, attach_request([UNKNOWN]))

    assert_error(error, "InvalidInstanceId.NotFound", 404)


def test_attach_role_name_is_case_insensitive(world: FakeCloud, client) -> None:
    [instance_id] = run(client)

    call(client, attach_request([instance_id], "appreader"))

    assert role_of(world, instance_id) == ROLE


def test_an_already_attached_instance_fails_inside_a_mixed_batch(world: FakeCloud, client) -> None:
    # GIVEN one instance with a role and one without
    [bound] = run(client, role="AppWriter")
    [free] = run(client)

    # WHEN both get AppReader
    body = call(client, attach_request([bound, free]))

    # THEN one item failed, the other was attached
    assert (body["TotalCount"], body["FailCount"]) == (2, 1)
    failed = results(body)[bound]
    assert (failed["Code"], failed["Success"]) == (ROLE_ALREADY_ATTACHED, False)
    assert failed["Message"]
    assert results(body)[free]["Code"] == "200"
    assert (role_of(world, bound), role_of(world, free)) == ("AppWriter", ROLE)


def test_a_batch_that_fails_everywhere_the_same_way_fails_the_call(
    world: FakeCloud, client
) -> None:
    ids = run(client, 2, role=ROLE)  # attaching the same role again counts as "already"

    error = server_error(client, attach_request(ids))

    assert_error(error, ROLE_ALREADY_ATTACHED, 403)


def test_a_batch_failing_in_different_ways_answers_items(world: FakeCloud, client) -> None:
    [classic] = run(client, vswitch_id=None)

    body = call(client, attach_request([classic, UNKNOWN]))

    assert body["FailCount"] == 2
    assert {i: r["Code"] for i, r in results(body).items()} == {
        classic: "InvalidNetworkType.MismatchRamRole",
        UNKNOWN: "InvalidInstanceId.NotFound",
    }


def test_a_key_not_allowed_to_pass_the_role(world: FakeCloud, server: FakeCloudServer) -> None:
    # GIVEN a key that may pass AppWriter only
    world.add_key("LTAI5tWriterOnly", "writer-secret", passable_roles=["AppWriter"])
    client = make_client(
        server, access_key_id="LTAI5tWriterOnly", access_key_secret="writer-secret"
    )
    ids = run(client, 2)

    # WHEN it attaches AppReader, then AppWriter
    error = server_error(client, attach_request(ids[:1], ROLE))
    call(client, attach_request(ids[1:], "AppWriter"))

    # THEN
    assert_error(error, "InvalidUser.PassRoleForbidden", 403)
    assert [role_of(world, i) for i in ids] == [None, "AppWriter"]


def test_attach_with_a_policy(world: FakeCloud, client) -> None:
    [instance_id] = run(client)
    policy = json.dumps({"Statement": [{"Effect": "Deny", "Action": "oss:*"}], "Version": "1"})
    request = attach_request([instance_id])
    request.set_Policy(policy)

    call(client, request)

    assert world.ecs(REGION).instances[instance_id].role_policy == policy


def test_attach_with_an_overlong_policy(world: FakeCloud, client) -> None:
    [instance_id] = run(client)
    request = attach_request([instance_id])
    request.set_Policy("x" * 1025)

    error = server_error(client, request)

    assert_error(error, "InvalidParameter.Policy", 400)
    assert role_of(world, instance_id) is None


# -- DetachInstanceRamRole -----------------------------------------------------------------


def test_detach_answers_per_instance_results(world: FakeCloud, client) -> None:
    ids = run(client, 2, role=ROLE)

    body = call(client, detach_request(ids))

    assert (body["RamRoleName"], body["TotalCount"], body["FailCount"]) == ("", 2, 0)
    assert results(body, "DetachInstanceRamRole") == {
        i: {
            "InstanceId": i,
            "Code": "200",
            "Message": "Success",
            "Success": True,
            "InstanceRamRoleSets": {"InstanceRamRoleSet": [{"InstanceId": i, "RamRoleName": ROLE}]},
        }
        for i in ids
    }
    assert [role_of(world, i) for i in ids] == [None, None]


def test_detach_naming_the_role(world: FakeCloud, client) -> None:
    [reader] = run(client, role=ROLE)
    [writer] = run(client, role="AppWriter")

    body = call(client, detach_request([reader, writer], ROLE))

    assert body["RamRoleName"] == ROLE
    codes = {i: r["Code"] for i, r in results(body, "DetachInstanceRamRole").items()}
    assert codes == {reader: "200", writer: "InvalidRamRole.NotEqual"}
    assert (role_of(world, reader), role_of(world, writer)) == (None, "AppWriter")


@pytest.mark.parametrize(
    ("role", "setup", "code", "status"),
    [
        (None, "bare", "InvalidRamRole.NotAttached", 403),
        ("AppWriter", "reader", "InvalidRamRole.NotEqual", 403),
        ("Nobody", "reader", "InvalidRamRole.NotFound", 404),
        (None, "classic", "InvalidNetworkType.MismatchRamRole", 403),
        (None, "unknown", "InvalidInstanceId.NotFound", 404),
    ],
)
def test_detach_errors(
    world: FakeCloud, client, role: str | None, setup: str, code: str, status: int
) -> None:
    # GIVEN one instance as described by `setup`
    made = {
        "bare": lambda: run(client),
        "reader": lambda: run(client, role=ROLE),
        "classic": lambda: run(client, vswitch_id=None),
        "unknown": lambda: [UNKNOWN],
    }
    ids = made[setup]()

    # WHEN
    error = server_error(client, detach_request(ids, role))

    # THEN
    assert_error(error, code, status)
    if setup == "reader":
        assert role_of(world, ids[0]) == ROLE


def test_detach_more_than_a_hundred(client) -> None:
    error = server_error(client, detach_request([f"i-bp1{n:017d}" for n in range(101)]))

    assert_error(error, "InvalidInstanceIds.Malformed", 400)


def test_detach_then_attach_changes_the_role(world: FakeCloud, client) -> None:
    [instance_id] = run(client, role=ROLE)

    call(client, detach_request([instance_id]))
    call(client, attach_request([instance_id], "AppWriter"))

    assert role_of(world, instance_id) == "AppWriter"


def test_role_actions_work_in_any_state(world: FakeCloud, client) -> None:
    # GIVEN a Pending instance
    [instance_id] = run(client)

    # WHEN a role is attached and detached before it boots
    call(client, attach_request([instance_id]))
    attached = role_of(world, instance_id)
    call(client, detach_request([instance_id]))

    # THEN both worked
    assert (attached, role_of(world, instance_id)) == (ROLE, None)
