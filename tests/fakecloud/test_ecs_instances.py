"""ECS instances: RunInstances, DescribeInstances (shapes, filters, paging) and the lifecycle."""

from __future__ import annotations

import json
import re

import pytest
from aliyunsdkecs.request.v20140526.DeleteInstanceRequest import DeleteInstanceRequest
from aliyunsdkecs.request.v20140526.DescribeInstanceRamRoleRequest import (
    DescribeInstanceRamRoleRequest,
)
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkecs.request.v20140526.RunInstancesRequest import RunInstancesRequest
from aliyunsdkecs.request.v20140526.StartInstanceRequest import StartInstanceRequest
from aliyunsdkecs.request.v20140526.StopInstanceRequest import StopInstanceRequest

from fakecloud import FakeCloud, FakeCloudServer
from tests.fakecloud.builders import (
    ROLE,
    VPC_ID,
    VSWITCH_ID,
    ZONE_ID,
    assert_error,
    describe,
    instance_ids,
    run,
    run_request,
    run_running,
    seed_role,
    seed_vpc,
    server_error,
)
from tests.support import REGION, call, make_client


def status_of(client, instance_id: str) -> str:
    [instance] = describe(client, InstanceIds=[instance_id])["Instances"]["Instance"]
    return str(instance["Status"])


def start(instance_id: str) -> StartInstanceRequest:
    request = StartInstanceRequest()
    request.set_InstanceId(instance_id)
    return request


def stop(instance_id: str) -> StopInstanceRequest:
    request = StopInstanceRequest()
    request.set_InstanceId(instance_id)
    return request


def delete(instance_id: str, force: bool = False) -> DeleteInstanceRequest:
    request = DeleteInstanceRequest()
    request.set_InstanceId(instance_id)
    if force:
        request.set_Force(True)
    return request


def stopped(cloud: FakeCloud, client) -> str:
    """A VPC instance in the Stopped state."""
    [instance_id] = run_running(cloud, client)
    call(client, stop(instance_id))
    cloud.advance(1)
    return instance_id


@pytest.fixture
def vpc(cloud: FakeCloud) -> str:
    return seed_vpc(cloud)


# -- RunInstances ---------------------------------------------------------------------------


def test_run_instances_answers_the_documented_shape(client, vpc: str) -> None:
    body = call(client, run_request(2))

    assert set(body) == {"RequestId", "InstanceIdSets", "OrderId", "TradePrice"}
    ids = body["InstanceIdSets"]["InstanceIdSet"]
    assert len(set(ids)) == 2
    assert all(re.fullmatch(r"i-bp1[a-z0-9]{17}", i) for i in ids)


def test_a_vpc_instance_takes_its_network_from_the_vswitch(client, vpc: str) -> None:
    [instance_id] = run(client)

    [instance] = describe(client, InstanceIds=[instance_id])["Instances"]["Instance"]

    assert instance["InstanceNetworkType"] == "vpc"
    assert instance["ZoneId"] == ZONE_ID
    attributes = instance["VpcAttributes"]
    assert (attributes["VpcId"], attributes["VSwitchId"]) == (VPC_ID, VSWITCH_ID)
    [address] = attributes["PrivateIpAddress"]["IpAddress"]
    assert address.startswith("172.16.1.")
    assert instance["InnerIpAddress"] == {"IpAddress": []}


def test_an_instance_without_vswitch_is_classic(client) -> None:
    [instance_id] = run(client, vswitch_id=None)

    [instance] = describe(client, InstanceIds=[instance_id])["Instances"]["Instance"]

    assert instance["InstanceNetworkType"] == "classic"
    assert instance["VpcAttributes"]["VpcId"] == ""
    assert instance["VpcAttributes"]["PrivateIpAddress"] == {"IpAddress": []}
    assert len(instance["InnerIpAddress"]["IpAddress"]) == 1


def test_amount_creates_that_many_instances(client, vpc: str) -> None:
    ids = run(client, 5)

    body = describe(client, PageSize=100)

    assert len(set(ids)) == 5
    assert sorted(instance_ids(body)) == sorted(ids)


@pytest.mark.parametrize(
    ("amount", "name", "expected"),
    [
        (1, "web-1", ["web-1"]),
        (3, "web", ["web", "web", "web"]),  # UniqueSuffix defaults to false
    ],
)
def test_instance_names(client, vpc: str, amount: int, name: str, expected: list[str]) -> None:
    ids = run(client, amount, name=name)

    body = describe(client, InstanceIds=ids)

    assert [i["InstanceName"] for i in body["Instances"]["Instance"]] == expected


def test_unique_suffix_numbers_the_names(client, vpc: str) -> None:
    request = run_request(3, name="web")
    request.set_UniqueSuffix(True)
    ids = call(client, request)["InstanceIdSets"]["InstanceIdSet"]

    body = describe(client, InstanceIds=ids)

    assert [i["InstanceName"] for i in body["Instances"]["Instance"]] == [
        "web001",
        "web002",
        "web003",
    ]


def test_an_unnamed_instance_is_named_after_its_id(client, vpc: str) -> None:
    [instance_id] = run(client)

    [instance] = describe(client, InstanceIds=[instance_id])["Instances"]["Instance"]

    assert instance["InstanceName"] == instance_id


def test_tags_and_resource_group_given_at_creation(client, vpc: str) -> None:
    [instance_id] = run(client, tags={"team": "payments", "env": "prod"}, resource_group_id="rg-a")

    [instance] = describe(client, InstanceIds=[instance_id])["Instances"]["Instance"]

    assert instance["Tags"] == {
        "Tag": [
            {"TagKey": "team", "TagValue": "payments"},
            {"TagKey": "env", "TagValue": "prod"},
        ]
    }
    assert instance["ResourceGroupId"] == "rg-a"


def test_a_ram_role_given_at_creation_is_bound(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN an instance RAM role
    seed_role(cloud)

    # WHEN an instance is created with it
    [instance_id] = run(client, role=ROLE.lower())

    # THEN DescribeInstanceRamRole reports it (canonical name), DescribeInstances has no role field
    request = DescribeInstanceRamRoleRequest()
    request.set_InstanceIds(json.dumps([instance_id]))
    roles = call(client, request)["InstanceRamRoleSets"]["InstanceRamRoleSet"]
    assert roles == [{"InstanceId": instance_id, "RamRoleName": ROLE}]
    [instance] = describe(client, InstanceIds=[instance_id])["Instances"]["Instance"]
    assert not [field for field in instance if "role" in field.lower()]


@pytest.mark.parametrize(
    ("role", "trusts", "vswitch", "code", "status"),
    [
        ("Nobody", ("ecs.aliyuncs.com",), VSWITCH_ID, "InvalidRamRole.NotFound", 404),
        (ROLE, ("fc.aliyuncs.com",), VSWITCH_ID, "InvalidRamRole.NotEcsRole", 401),
        (ROLE, ("ecs.aliyuncs.com",), None, "InvalidNetworkType.MismatchRamRole", 403),
    ],
)
def test_role_errors_at_creation(
    cloud: FakeCloud,
    client,
    vpc: str,
    role: str,
    trusts: tuple[str, ...],
    vswitch: str | None,
    code: str,
    status: int,
) -> None:
    # GIVEN a role named AppReader trusting `trusts`
    seed_role(cloud, ROLE, trusts)

    # WHEN
    error = server_error(client, run_request(vswitch_id=vswitch, role=role))

    # THEN the call failed and created nothing
    assert_error(error, code, status)
    assert cloud.ecs(REGION).instances == {}


def test_a_key_that_may_not_pass_the_role_cannot_create_with_it(
    cloud: FakeCloud, server: FakeCloudServer, vpc: str
) -> None:
    # GIVEN a key that may pass only another role
    seed_role(cloud)
    cloud.add_key("LTAI5tNoPass", "no-pass-secret", passable_roles=["SomethingElse"])
    client = make_client(server, access_key_id="LTAI5tNoPass", access_key_secret="no-pass-secret")

    # WHEN
    error = server_error(client, run_request(role=ROLE))

    # THEN
    assert_error(error, "InvalidUser.PassRoleForbidden", 403)
    assert cloud.ecs(REGION).instances == {}


@pytest.mark.parametrize("missing", ["ImageId", "InstanceType"])
def test_image_and_instance_type_are_required(client, vpc: str, missing: str) -> None:
    request = RunInstancesRequest()
    request.set_VSwitchId(VSWITCH_ID)
    if missing != "ImageId":
        request.set_ImageId("aliyun_3_x64_20G_alibase_20240819.vhd")
    if missing != "InstanceType":
        request.set_InstanceType("ecs.g7.large")

    error = server_error(client, request)

    assert_error(error, "MissingParameter", 400)
    assert error.get_error_msg() == (
        f"The input parameter {missing} that is mandatory for processing this request "
        "is not supplied."
    )


def test_an_unknown_vswitch_is_not_found(cloud: FakeCloud, client) -> None:
    error = server_error(client, run_request(vswitch_id="vsw-bp1nothere"))

    assert_error(error, "InvalidVSwitchId.NotFound", 404)
    assert error.get_error_msg() == "Specified virtual switch does not exist."
    assert cloud.ecs(REGION).instances == {}


@pytest.mark.parametrize("amount", [0, 101, -1, "two"])
def test_amount_outside_one_to_a_hundred(client, vpc: str, amount: object) -> None:
    request = run_request()
    request.set_Amount(amount)

    error = server_error(client, request)

    assert_error(error, "InvalidParam.Amount", 403)


def test_a_hundred_instances_in_one_call(client, vpc: str) -> None:
    ids = run(client, 100)

    assert len(set(ids)) == 100


# -- DescribeInstances: shapes -------------------------------------------------------------


def test_describe_instances_answers_the_documented_shape(
    cloud: FakeCloud, client, vpc: str
) -> None:
    # GIVEN a running tagged instance
    [instance_id] = run_running(cloud, client, tags={"team": "a"}, name="web-1")

    # WHEN
    body = describe(client)

    # THEN
    assert {"RequestId", "TotalCount", "PageNumber", "PageSize", "Instances"} <= set(body)
    assert (body["TotalCount"], body["PageNumber"], body["PageSize"]) == (1, 1, 10)
    [instance] = body["Instances"]["Instance"]
    assert instance["InstanceId"] == instance_id
    assert instance["InstanceName"] == "web-1"
    assert instance["RegionId"] == REGION
    assert instance["Status"] == "Running"
    assert instance["InstanceType"] == "ecs.g7.large"
    assert instance["ImageId"] == "aliyun_3_x64_20G_alibase_20240819.vhd"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", instance["CreationTime"])
    assert instance["Tags"] == {"Tag": [{"TagKey": "team", "TagValue": "a"}]}
    for listed in ("SecurityGroupIds", "PublicIpAddress", "InnerIpAddress", "OperationLocks"):
        assert isinstance(instance[listed], dict)
    assert set(instance["VpcAttributes"]) == {
        "VpcId",
        "VSwitchId",
        "NatIpAddress",
        "PrivateIpAddress",
    }


def test_an_instance_without_tags_has_no_tags_field(client, vpc: str) -> None:
    [instance_id] = run(client)

    [instance] = describe(client, InstanceIds=[instance_id])["Instances"]["Instance"]

    assert "Tags" not in instance


# -- DescribeInstances: filters ------------------------------------------------------------


def test_instance_ids_filter(client, vpc: str) -> None:
    ids = run(client, 4)

    body = describe(client, InstanceIds=[ids[2], ids[0], "i-bp1doesnotexist"])

    assert sorted(instance_ids(body)) == sorted([ids[0], ids[2]])
    assert body["TotalCount"] == 2


def test_an_empty_instance_ids_filter_returns_nothing(client, vpc: str) -> None:
    run(client, 2)

    body = describe(client, InstanceIds=[])

    assert (body["TotalCount"], instance_ids(body)) == (0, [])


def test_a_hundred_instance_ids_are_accepted(client, vpc: str) -> None:
    ids = run(client, 100)

    body = describe(client, InstanceIds=ids, PageSize=100)

    assert sorted(instance_ids(body)) == sorted(ids)


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps([f"i-bp1{n:017d}" for n in range(101)]),  # more than 100
        "i-bp1notjson",
        '["not-an-instance-id"]',
        "[1, 2]",
    ],
)
def test_bad_instance_ids_are_malformed(client, raw: str) -> None:
    request = DescribeInstancesRequest()
    request.set_InstanceIds(raw)

    error = server_error(client, request)

    assert_error(error, "InvalidInstanceIds.Malformed", 400)


def test_tag_filters_match_key_and_value_and_are_anded(client, vpc: str) -> None:
    # GIVEN instances with various tags
    [prod_a] = run(client, tags={"env": "prod", "team": "a"})
    [prod_b] = run(client, tags={"env": "prod", "team": "b"})
    [dev_a] = run(client, tags={"env": "dev", "team": "a"})
    run(client)

    def tagged(*tags: dict[str, str]) -> list[str]:
        return sorted(instance_ids(describe(client, Tags=list(tags))))

    # THEN
    assert tagged({"Key": "env", "Value": "prod"}) == sorted([prod_a, prod_b])
    assert tagged({"Key": "team"}) == sorted([prod_a, prod_b, dev_a])
    assert tagged({"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "a"}) == [prod_a]
    assert tagged({"Key": "env", "Value": "staging"}) == []


def test_more_than_twenty_tag_filters(client) -> None:
    error = server_error(
        client,
        _describe_request(Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(21)]),
    )

    assert_error(error, "InvalidTagCount", 400)
    assert error.get_error_msg() == "The specified tags are beyond the permitted range."


def test_a_tag_value_without_its_key(client, vpc: str) -> None:
    describe_error = server_error(client, _describe_request(Tags=[{"Value": "prod"}]))
    request = run_request()
    request.set_Tags([{"Value": "prod"}])
    run_error = server_error(client, request)

    assert_error(describe_error, "InvalidTag.Mismatch", 400)
    assert_error(run_error, "InvalidTag.Mismatch", 400)


def _describe_request(**setters: object) -> DescribeInstancesRequest:
    request = DescribeInstancesRequest()
    for name, value in setters.items():
        getattr(request, f"set_{name}")(value)
    return request


def test_network_type_and_vpc_filters(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN a VPC instance, a classic one and one in another VPC
    [in_vpc] = run(client)
    [classic] = run(client, vswitch_id=None)
    cloud.ecs(REGION).add_vswitch("vsw-bp1other", "vpc-bp1other", ZONE_ID, "10.1.0.0/24")
    [elsewhere] = run(client, vswitch_id="vsw-bp1other")

    # THEN
    assert instance_ids(describe(client, InstanceNetworkType="classic")) == [classic]
    assert sorted(instance_ids(describe(client, InstanceNetworkType="vpc"))) == sorted(
        [in_vpc, elsewhere]
    )
    assert instance_ids(describe(client, VpcId=VPC_ID)) == [in_vpc]
    assert instance_ids(describe(client, VSwitchId="vsw-bp1other")) == [elsewhere]


def test_resource_group_filter(client, vpc: str) -> None:
    [in_group] = run(client, resource_group_id="rg-payments")
    run(client, resource_group_id="rg-other")

    assert instance_ids(describe(client, ResourceGroupId="rg-payments")) == [in_group]


def test_status_filter(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN one running and one pending instance
    [running] = run_running(cloud, client)
    [pending] = run(client)

    # THEN
    assert instance_ids(describe(client, Status="Running")) == [running]
    assert instance_ids(describe(client, Status="Pending")) == [pending]
    assert instance_ids(describe(client, Status="Stopped")) == []


@pytest.mark.parametrize(
    ("setter", "value", "code"),
    [
        ("Status", "Sleeping", "InvalidStatus.NotFound"),
        ("InstanceNetworkType", "vlan", "InvalidNetworkType.NotFound"),
    ],
)
def test_unknown_filter_values_are_not_found(client, setter: str, value: str, code: str) -> None:
    error = server_error(client, _describe_request(**{setter: value}))

    assert_error(error, code, 404)


# -- DescribeInstances: paging -------------------------------------------------------------


def test_page_number_paging(client, vpc: str) -> None:
    # GIVEN 25 instances
    ids = run(client, 25)

    # WHEN they are read 10 at a time
    pages = [describe(client, PageNumber=n, PageSize=10) for n in (1, 2, 3, 4)]

    # THEN every page tells the total, and the pages cover every instance once in creation order
    assert [p["TotalCount"] for p in pages] == [25, 25, 25, 25]
    assert [p["PageNumber"] for p in pages] == [1, 2, 3, 4]
    assert [len(instance_ids(p)) for p in pages] == [10, 10, 5, 0]
    assert [i for p in pages for i in instance_ids(p)] == ids


@pytest.mark.parametrize(
    ("setter", "value"), [("PageSize", 101), ("PageSize", 0), ("PageNumber", 0)]
)
def test_page_parameters_out_of_range(client, setter: str, value: int) -> None:
    error = server_error(client, _describe_request(**{setter: value}))

    assert_error(error, f"InvalidParameter.{setter}", 400)


def read_by_token(client, max_results: int, **filters: object) -> list[dict]:
    """Every page of a NextToken walk."""
    pages, token = [], None
    while True:
        setters = {"MaxResults": max_results, **filters}
        if token:
            setters["NextToken"] = token
        page = describe(client, **setters)
        pages.append(page)
        token = page["NextToken"]
        if not token:
            return pages


def test_next_token_paging_returns_every_instance_once(client, vpc: str) -> None:
    # GIVEN 250 instances
    ids = run(client, 100) + run(client, 100) + run(client, 50)

    # WHEN they are walked with NextToken, 100 at a time
    pages = read_by_token(client, 100)

    # THEN
    assert [len(instance_ids(p)) for p in pages] == [100, 100, 50]
    assert [i for p in pages for i in instance_ids(p)] == ids


def test_next_token_paging_applies_filters(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN 30 instances, a third of them tagged
    tagged = []
    for n in range(30):
        ids = run(client, tags={"team": "a" if n % 3 == 0 else "b"})
        tagged += ids if n % 3 == 0 else []

    # WHEN the tagged ones are walked 10 at a time
    pages = read_by_token(client, 10, Tags=[{"Key": "team", "Value": "a"}])

    # THEN
    assert [i for p in pages for i in instance_ids(p)] == tagged


@pytest.mark.parametrize(("asked", "served"), [(1, 10), (5, 10), (100, 100), (500, 100)])
def test_max_results_is_clamped_to_ten_to_a_hundred(
    client, vpc: str, asked: int, served: int
) -> None:
    run(client, 100)
    run(client, 20)

    page = describe(client, MaxResults=asked)

    assert len(instance_ids(page)) == served
    assert page["NextToken"]


@pytest.mark.parametrize("token", ["not-a-token", "zz", "-1"])
def test_a_bad_next_token(client, token: str) -> None:
    error = server_error(client, _describe_request(NextToken=token))

    assert_error(error, "Invalid.NextToken", 403)


# -- lifecycle -----------------------------------------------------------------------------


def test_run_instances_goes_pending_starting_running(cloud: FakeCloud, client, vpc: str) -> None:
    [instance_id] = run(client)
    seen = [status_of(client, instance_id)]

    for _ in range(3):
        cloud.advance(1)
        seen.append(status_of(client, instance_id))

    assert seen == ["Pending", "Starting", "Running", "Running"]


def test_stop_then_start(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN a running instance
    [instance_id] = run_running(cloud, client)

    # WHEN it is stopped, then started
    call(client, stop(instance_id))
    seen = [status_of(client, instance_id)]
    cloud.advance(1)
    seen.append(status_of(client, instance_id))
    body = call(client, start(instance_id))
    seen.append(status_of(client, instance_id))
    cloud.advance(1)
    seen.append(status_of(client, instance_id))

    # THEN
    assert seen == ["Stopping", "Stopped", "Starting", "Running"]
    assert set(body) == {"RequestId"}


def test_delete_a_stopped_instance(cloud: FakeCloud, client, vpc: str) -> None:
    instance_id = stopped(cloud, client)

    body = call(client, delete(instance_id))

    assert set(body) == {"RequestId"}
    assert describe(client, InstanceIds=[instance_id])["TotalCount"] == 0


@pytest.mark.parametrize("boot_seconds", [0, 1, 2])  # Pending, Starting, Running
def test_force_deletes_in_any_state(cloud: FakeCloud, client, vpc: str, boot_seconds: int) -> None:
    [instance_id] = run(client)
    cloud.advance(boot_seconds)

    call(client, delete(instance_id, force=True))

    assert cloud.ecs(REGION).instances == {}


@pytest.mark.parametrize(
    ("operation", "state"),
    [
        ("start", "Running"),
        ("start", "Pending"),
        ("stop", "Stopped"),
        ("stop", "Pending"),
        ("stop", "Starting"),
        ("delete", "Running"),
        ("delete", "Pending"),
    ],
)
def test_incorrect_instance_status(
    cloud: FakeCloud, client, vpc: str, operation: str, state: str
) -> None:
    # GIVEN an instance in `state`
    if state == "Stopped":
        instance_id = stopped(cloud, client)
    else:
        [instance_id] = run(client)
        cloud.advance({"Pending": 0, "Starting": 1, "Running": 2}[state])
    request = {"start": start, "stop": stop, "delete": delete}[operation](instance_id)

    # WHEN
    error = server_error(client, request)

    # THEN nothing changed
    assert_error(error, "IncorrectInstanceStatus", 403)
    assert error.get_error_msg() == (
        "The current status of the resource does not support this operation."
    )
    assert status_of(client, instance_id) == state


@pytest.mark.parametrize("make", [start, stop, delete])
def test_unknown_instances_are_not_found(client, make) -> None:
    error = server_error(client, make("i-bp1doesnotexist0000"))

    assert_error(error, "InvalidInstanceId.NotFound", 404)


def test_instance_id_is_required(client) -> None:
    error = server_error(client, StopInstanceRequest())

    assert_error(error, "MissingParameter.InstanceId", 400)


def test_a_slower_lifecycle(server: FakeCloudServer) -> None:
    # GIVEN a cloud whose instances stay Pending for 30 s
    from fakecloud import Lifecycle, ManualClock  # noqa: PLC0415

    cloud = FakeCloud(clock=ManualClock(), lifecycle=Lifecycle(pending=30))
    seed_vpc(cloud)
    with FakeCloudServer(cloud) as own:
        client = make_client(own)
        [instance_id] = run(client)

        # WHEN 29 s pass, then one more
        cloud.advance(29)
        before = status_of(client, instance_id)
        cloud.advance(1)

        # THEN
        assert (before, status_of(client, instance_id)) == ("Pending", "Starting")
