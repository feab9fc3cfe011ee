"""The call log: every answered call, without secrets, for tests and benchmarks."""

from __future__ import annotations

from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkram.request.v20150501.ListRolesRequest import ListRolesRequest

from fakecloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCOUNT_ID, FakeCloud, FakeCloudServer
from tests.fakecloud.builders import (
    attach_request,
    describe,
    run,
    run_request,
    seed_role,
    seed_vpc,
    server_error,
)
from tests.fakecloud.wire import ECS, api
from tests.support import REGION, call, make_client


def test_every_call_is_recorded(cloud: FakeCloud, client) -> None:
    # GIVEN a VPC
    seed_vpc(cloud)

    # WHEN an ECS and a RAM call are made
    ran = call(client, run_request(tags={"team": "a"}))
    listed = call(client, ListRolesRequest())

    # THEN both are in the log, in order, with what they were
    first, second = cloud.calls.all()
    assert (first.seq, second.seq) == (1, 2)
    assert (first.product, first.action, second.product, second.action) == (
        "ecs",
        "RunInstances",
        "ram",
        "ListRoles",
    )
    assert (first.access_key_id, first.account_id, first.region) == (
        DEFAULT_ACCESS_KEY_ID,
        DEFAULT_ACCOUNT_ID,
        REGION,
    )
    assert (first.status, first.code, first.ok) == (200, "", True)
    assert (first.request_id, second.request_id) == (ran["RequestId"], listed["RequestId"])
    assert first.params["Tag.1.Key"] == "team"
    assert first.params["InstanceType"] == "ecs.g7.large"
    assert "Signature" not in first.params
    assert first.duration_ms >= 0
    assert first.when <= second.when


def test_failed_calls_are_recorded_with_their_code(cloud: FakeCloud, client) -> None:
    error = server_error(client, run_request(vswitch_id="vsw-bp1nothere"))

    [logged] = cloud.calls.all()
    assert (logged.action, logged.status, logged.code, logged.ok) == (
        "RunInstances",
        404,
        "InvalidVSwitchId.NotFound",
        False,
    )
    assert logged.request_id == error.get_request_id()


def test_refused_credentials_are_recorded(cloud: FakeCloud, server: FakeCloudServer) -> None:
    server_error(make_client(server, access_key_secret="wrong"), DescribeInstancesRequest())

    [logged] = cloud.calls.all()
    assert (logged.action, logged.status, logged.code) == (
        "DescribeInstances",
        400,
        "SignatureDoesNotMatch",
    )
    assert logged.access_key_id == DEFAULT_ACCESS_KEY_ID
    assert logged.account_id == ""  # not authenticated


def test_unroutable_calls_are_recorded(cloud: FakeCloud, server: FakeCloudServer) -> None:
    api(server, "GET", {**ECS, "Action": "DescribeNothing"})

    [logged] = cloud.calls.all()
    assert (logged.action, logged.product, logged.code) == (
        "DescribeNothing",
        "",
        "InvalidParameter",
    )


def test_sts_tokens_are_never_recorded(cloud: FakeCloud, server: FakeCloudServer) -> None:
    cloud.add_key("STS.NUfake", "sts-secret", security_token="CAIS-secret-token")
    client = make_client(
        server,
        access_key_id="STS.NUfake",
        access_key_secret="sts-secret",
        security_token="CAIS-secret-token",
    )

    call(client, DescribeInstancesRequest())

    [logged] = cloud.calls.all()
    assert logged.access_key_id == "STS.NUfake"
    assert "SecurityToken" not in logged.params
    assert "CAIS-secret-token" not in str(cloud.calls.to_json())


def test_writes_are_the_state_changing_calls(cloud: FakeCloud, client) -> None:
    # GIVEN reads, a successful write and a failed write
    seed_vpc(cloud)
    seed_role(cloud)
    describe(client)
    [instance_id] = run(client)
    server_error(client, attach_request([instance_id], "Nobody"))
    call(client, ListRolesRequest())

    # THEN
    assert [c.action for c in cloud.calls.writes()] == ["RunInstances"]
    assert [c.action for c in cloud.calls.writes(ok_only=False)] == [
        "RunInstances",
        "AttachInstanceRamRole",
    ]


def test_counting_and_reading_from_a_point(cloud: FakeCloud, client) -> None:
    for _ in range(3):
        describe(client)
    server_error(client, attach_request(["i-bp1nothere"]))

    assert cloud.calls.count() == 4
    assert cloud.calls.count("DescribeInstances") == 3
    assert cloud.calls.count(ok=False) == 1
    assert cloud.calls.counts() == {"DescribeInstances": 3, "AttachInstanceRamRole": 1}
    assert cloud.calls.actions(since=2) == ["DescribeInstances", "AttachInstanceRamRole"]
    assert [c["seq"] for c in cloud.calls.to_json(since=3)] == [4]


def test_clear_empties_the_log(cloud: FakeCloud, client) -> None:
    describe(client)

    cloud.calls.clear()

    assert cloud.calls.all() == []
