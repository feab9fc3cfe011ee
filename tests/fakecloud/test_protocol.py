"""Routing and the wire format: how requests reach an action and how errors come back."""

from __future__ import annotations

import json

import pytest
from aliyunsdkcore.request import CommonRequest
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkram.request.v20150501.ListRolesRequest import ListRolesRequest

from fakecloud import FakeCloud, FakeCloudServer
from tests.fakecloud.builders import (
    assert_error,
    describe,
    instance_ids,
    run,
    seed_vpc,
    server_error,
)
from tests.fakecloud.wire import ECS, api, form_body, query_string, send, signed_params
from tests.support import REGION, call, make_client

INVALID_ACTION_OR_VERSION = 'The specified parameter "Action or Version" is not valid.'


def common_request(action: str, version: str = "2014-05-26", method: str = "POST") -> CommonRequest:
    request = CommonRequest(product="Ecs", version=version, action_name=action)
    request.set_method(method)
    request.add_query_param("RegionId", REGION)
    return request


def test_sdk_posts_every_parameter_in_the_query(cloud: FakeCloud, client) -> None:
    # GIVEN one instance
    seed_vpc(cloud)
    [instance_id] = run(client)

    # WHEN the SDK's default request (POST, parameters in the query) asks for it
    body = describe(client, InstanceIds=[instance_id])

    # THEN the action ran and its answer carries the call's request id
    assert instance_ids(body) == [instance_id]
    assert body["RequestId"] == cloud.calls.all()[-1].request_id


def test_get_requests_are_routed_like_post(cloud: FakeCloud, client) -> None:
    # GIVEN one instance
    seed_vpc(cloud)
    [instance_id] = run(client)
    request = DescribeInstancesRequest()
    request.set_method("GET")

    # WHEN it is asked for with GET
    body = call(client, request)

    # THEN
    assert instance_ids(body) == [instance_id]


def test_form_body_parameters_are_read_and_signed(cloud: FakeCloud, client) -> None:
    # GIVEN a CommonRequest whose action parameters travel in a form body
    seed_vpc(cloud)
    request = common_request("RunInstances")
    for name, value in {
        "ImageId": "aliyun_3_x64_20G_alibase_20240819.vhd",
        "InstanceType": "ecs.g7.large",
        "VSwitchId": "vsw-bp1acceptance",
        "InstanceName": "from-the-body",
    }.items():
        request.add_body_params(name, value)

    # WHEN
    body = call(client, request)

    # THEN the instance was created with the body's values
    [instance_id] = body["InstanceIdSets"]["InstanceIdSet"]
    assert cloud.ecs(REGION).instances[instance_id].name == "from-the-body"


def test_a_raw_form_post_with_action_in_the_body(cloud: FakeCloud, server: FakeCloudServer) -> None:
    # GIVEN a signed request whose Action and Version are only in the body
    signed = signed_params({**ECS, "Action": "DescribeInstances"}, method="POST")
    in_query = {k: signed.pop(k) for k in ("Signature", "SignatureNonce", "AccessKeyId")}

    # WHEN
    status, body = send(
        server,
        "POST",
        "/?" + query_string(in_query),
        form_body(signed),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )

    # THEN
    assert status == 200
    assert body["Instances"] == {"Instance": []}
    assert cloud.calls.actions() == ["DescribeInstances"]


@pytest.mark.parametrize(
    ("action", "version"),
    [
        ("DescribeNothing", "2014-05-26"),  # unknown action
        ("DescribeInstances", "2099-01-01"),  # unknown version
        ("CreateRole", "2014-05-26"),  # a RAM action under the ECS version
        ("DescribeInstances", "2015-05-01"),  # an ECS action under the RAM version
    ],
)
def test_unknown_action_or_version_is_invalid_parameter(client, action: str, version: str) -> None:
    error = server_error(client, common_request(action, version))

    assert_error(error, "InvalidParameter", 400)
    assert error.get_error_msg() == INVALID_ACTION_OR_VERSION


@pytest.mark.parametrize("missing", ["Action", "Version"])
def test_missing_action_or_version_is_missing_parameter(
    server: FakeCloudServer, missing: str
) -> None:
    params = {**ECS, "Action": "DescribeInstances"}
    del params[missing]

    status, body = api(server, "GET", params)

    assert (status, body["Code"]) == (400, "MissingParameter")
    assert f'"{missing}"' in body["Message"]


def test_error_body_has_every_documented_field(server: FakeCloudServer) -> None:
    status, body = api(server, "GET", {**ECS, "Action": "DescribeNothing"})

    assert status == 400
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert body["Code"] == "InvalidParameter"
    assert body["Message"] == INVALID_ACTION_OR_VERSION
    # The product endpoint, as the documented error bodies show it, never the Host header
    assert body["HostId"] == "ecs.aliyuncs.com"
    assert "q=InvalidParameter" in body["Recommend"]
    assert "product=Ecs" in body["Recommend"]
    assert len(body["RequestId"]) == 36


def test_a_ram_error_names_the_ram_endpoint(server: FakeCloudServer) -> None:
    params = {"Version": "2015-05-01", "Action": "GetRole", "RoleName": "NoSuchRole"}

    status, body = api(server, "GET", params)

    assert (status, body["Code"]) == (404, "EntityNotExist.Role")
    assert body["HostId"] == "ram.aliyuncs.com"


def test_ram_errors_recommend_the_ram_product(server: FakeCloudServer) -> None:
    status, body = api(server, "GET", {"Version": "2015-05-01", "Action": "GetRole"})

    assert (status, body["Code"]) == (400, "MissingParameter.RoleName")
    assert "product=Ram" in body["Recommend"]


def test_sdk_exception_carries_the_answers_request_id(cloud: FakeCloud, client) -> None:
    error = server_error(client, common_request("DescribeNothing"))

    assert error.get_request_id() == cloud.calls.all()[-1].request_id


def test_success_bodies_are_json_with_a_request_id(server: FakeCloudServer) -> None:
    status, body = api(server, "POST", {**ECS, "Action": "DescribeInstances"})

    assert status == 200
    assert body["RequestId"]
    assert body["TotalCount"] == 0


def test_unknown_region_is_not_found(server: FakeCloudServer) -> None:
    client = make_client(server, region="mars-north-1")

    error = server_error(client, DescribeInstancesRequest())

    assert_error(error, "InvalidRegionId.NotFound", 404)


def test_missing_region_id(server: FakeCloudServer) -> None:
    status, body = api(server, "GET", {"Version": "2014-05-26", "Action": "DescribeInstances"})

    assert (status, body["Code"]) == (400, "MissingParameter.RegionId")


def test_ram_is_global_across_client_regions(cloud: FakeCloud, server: FakeCloudServer) -> None:
    # GIVEN a role created through a cn-hangzhou client
    cloud.ram().create_role("Global", json.dumps({"Statement": [], "Version": "1"}))

    # WHEN a client of another region lists roles
    body = call(make_client(server, region="ap-southeast-1"), ListRolesRequest())

    # THEN it sees the same role
    assert [r["RoleName"] for r in body["Roles"]["Role"]] == ["Global"]


def test_regions_keep_separate_instances(cloud: FakeCloud, server: FakeCloudServer) -> None:
    # GIVEN an instance in cn-hangzhou
    seed_vpc(cloud)
    run(make_client(server))

    # WHEN cn-shanghai is described
    body = describe(make_client(server, region="cn-shanghai"))

    # THEN it has none
    assert body["TotalCount"] == 0
