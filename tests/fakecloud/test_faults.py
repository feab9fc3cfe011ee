"""Fault injection: errors, latency, dropped connections, rate limits, batch items, consistency."""

from __future__ import annotations

import time

import pytest
from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkram.request.v20150501.ListRolesRequest import ListRolesRequest

from fakecloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, FakeCloud, FakeCloudServer
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

# The client gives up after TIMEOUT seconds; injected latency is longer.
TIMEOUT, LATENCY = 1, 1.5


def impatient_client(server: FakeCloudServer) -> AcsClient:
    """Like tests.support.make_client, with a one-second read timeout."""
    client = AcsClient(
        DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, REGION, auto_retry=False, timeout=TIMEOUT
    )
    client.add_endpoint(REGION, "Ecs", server.url)
    return client


def http_error(client: AcsClient, request) -> ClientException:
    with pytest.raises(ClientException) as caught:
        client.do_action_with_exception(request)
    return caught.value


def instances(cloud: FakeCloud) -> list[str]:
    return list(cloud.ecs(REGION).instances)


@pytest.fixture
def vpc(cloud: FakeCloud) -> str:
    return seed_vpc(cloud)


# -- fail ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [
        ("Throttling", 400, "Request was denied due to request throttling."),
        ("Throttling.User", 400, "Request was denied due to user flow control."),
        ("Throttling.Api", 400, "Request was denied due to api flow control."),
        ("InternalError", 500, "The request processing has failed due to some unknown error."),
        ("UnknownError", 400, "The request processing has failed due to some unknown error."),
        (
            "ServiceUnavailable",
            503,
            "The request has failed due to a temporary failure of the server.",
        ),
    ],
)
def test_fail_answers_the_code_with_its_status(
    cloud: FakeCloud, client, vpc: str, code: str, status: int, message: str
) -> None:
    # GIVEN RunInstances fails once
    cloud.faults.fail("RunInstances", code)

    # WHEN it is called twice
    error = server_error(client, run_request())
    ids = run(client)

    # THEN the first call failed without effect, the second worked
    assert_error(error, code, status)
    assert error.get_error_msg() == message
    assert instances(cloud) == ids


def test_fail_n_times_then_succeed(cloud: FakeCloud, client) -> None:
    cloud.faults.fail("DescribeInstances", "Throttling", times=3)

    codes = []
    for _ in range(4):
        try:
            call(client, DescribeInstancesRequest())
            codes.append("ok")
        except ServerException as error:
            codes.append(error.get_error_code())

    assert codes == ["Throttling", "Throttling", "Throttling", "ok"]


def test_fail_until_cleared_with_its_own_status_and_message(cloud: FakeCloud, client) -> None:
    # GIVEN every action fails with a custom answer, for ever
    cloud.faults.fail("*", "OperationConflict", status=409, message="Busy.", times=None)

    # WHEN an ECS and a RAM action are called, then faults are cleared
    ecs = server_error(client, DescribeInstancesRequest())
    ram = server_error(client, ListRolesRequest())
    cloud.faults.clear()

    # THEN
    assert_error(ecs, "OperationConflict", 409)
    assert (ram.get_error_code(), ram.get_error_msg()) == ("OperationConflict", "Busy.")
    assert call(client, DescribeInstancesRequest())["TotalCount"] == 0


def test_a_fault_for_one_action_leaves_the_others_alone(cloud: FakeCloud, client, vpc: str) -> None:
    cloud.faults.fail("AttachInstanceRamRole", "InternalError")

    assert run(client)
    assert describe(client)["TotalCount"] == 1


def test_authentication_comes_before_faults(cloud: FakeCloud, server: FakeCloudServer) -> None:
    # GIVEN a fault and a caller with a bad key
    cloud.faults.fail("DescribeInstances", "InternalError")
    stranger = make_client(server, access_key_id="LTAI5tStranger")

    # WHEN the stranger calls, then the real key
    refused = server_error(stranger, DescribeInstancesRequest())
    faulted = server_error(make_client(server), DescribeInstancesRequest())

    # THEN the stranger did not use up the fault
    assert refused.get_error_code() == "InvalidAccessKeyId.NotFound"
    assert faulted.get_error_code() == "InternalError"


# -- delay and drop ------------------------------------------------------------------------


def test_delay_before_times_the_client_out(cloud: FakeCloud, server: FakeCloudServer) -> None:
    cloud.faults.delay("DescribeInstances", LATENCY, times=1)

    error = http_error(impatient_client(server), DescribeInstancesRequest())

    assert error.get_error_code() == "SDK.HttpError"
    assert "timed out" in error.get_error_msg().lower()


def test_delay_after_the_write_happened(
    cloud: FakeCloud, server: FakeCloudServer, vpc: str
) -> None:
    # GIVEN RunInstances answers late
    cloud.faults.delay("RunInstances", LATENCY, times=1, after=True)

    # WHEN the client gives up waiting
    error = http_error(impatient_client(server), run_request())

    # THEN it saw an HTTP error, but the instance exists
    assert error.get_error_code() == "SDK.HttpError"
    assert len(instances(cloud)) == 1


def test_a_short_delay_still_answers(cloud: FakeCloud, server: FakeCloudServer) -> None:
    cloud.faults.delay("DescribeInstances", 0.1, times=1)

    assert call(impatient_client(server), DescribeInstancesRequest())["TotalCount"] == 0


def test_drop_before_the_write(cloud: FakeCloud, client, vpc: str) -> None:
    cloud.faults.drop("RunInstances")

    error = http_error(client, run_request())

    assert error.get_error_code() == "SDK.HttpError"
    assert instances(cloud) == []
    last = cloud.calls.all()[-1]
    assert (last.status, last.code) == (0, "ConnectionDropped")


def test_drop_after_the_write(cloud: FakeCloud, client, vpc: str) -> None:
    cloud.faults.drop("RunInstances", after=True)

    error = http_error(client, run_request())

    assert error.get_error_code() == "SDK.HttpError"
    assert len(instances(cloud)) == 1


def test_the_client_recovers_after_a_drop(cloud: FakeCloud, client) -> None:
    cloud.faults.drop("DescribeInstances", times=1)

    http_error(client, DescribeInstancesRequest())

    assert call(client, DescribeInstancesRequest())["TotalCount"] == 0


# -- rate limits ---------------------------------------------------------------------------


def test_rate_limit_throttles_a_burst_and_recovers(cloud: FakeCloud, client) -> None:
    # GIVEN one call a second, with a burst of two
    cloud.faults.rate_limit("DescribeInstances", per_second=1, burst=2)

    # WHEN three calls come at once, then one after the bucket refilled
    first = [call(client, DescribeInstancesRequest())["TotalCount"] for _ in range(2)]
    throttled = server_error(client, DescribeInstancesRequest())
    time.sleep(1.05)
    later = call(client, DescribeInstancesRequest())

    # THEN
    assert first == [0, 0]
    assert_error(throttled, "Throttling", 400)
    assert later["TotalCount"] == 0


def test_rate_limit_with_another_code_and_only_its_action(cloud: FakeCloud, client) -> None:
    cloud.faults.rate_limit("ListRoles", per_second=0.01, burst=1, code="Throttling.User")

    call(client, ListRolesRequest())
    throttled = server_error(client, ListRolesRequest())

    assert_error(throttled, "Throttling.User", 400)
    assert call(client, DescribeInstancesRequest())["TotalCount"] == 0


def test_a_rate_limit_per_account_and_region_gives_each_its_own_bucket(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN one DescribeInstances a minute, per account and region (as ECS throttles)
    cloud.faults.rate_limit("DescribeInstances", per_second=1 / 60, per_account_region=True)
    cloud.add_key("LTAIother", "other-secret", account_id="2000000000000001")
    here, there = make_client(server), make_client(server, region="cn-shanghai")
    other = make_client(server, access_key_id="LTAIother", access_key_secret="other-secret")

    # WHEN each (account, region) calls once, then the first calls again
    answers = [call(c, DescribeInstancesRequest())["TotalCount"] for c in (here, there, other)]
    throttled = server_error(here, DescribeInstancesRequest())

    # THEN only the repeat is refused: a bucket is not shared across accounts or regions
    assert answers == [0, 0, 0]
    assert_error(throttled, "Throttling", 400)
    assert cloud.faults.describe()["rate_limits"]["DescribeInstances"]["per_account_region"]


# -- per-instance batch failures -----------------------------------------------------------


def test_fail_instances_inside_an_attach_batch(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN three instances, one of which will fail inside the batch
    seed_role(cloud)
    ids = run(client, 3)
    cloud.faults.fail_instances("AttachInstanceRamRole", [ids[1]], "InternalError", "Try again.")

    # WHEN the three are attached
    body = call(client, attach_request(ids))

    # THEN the call answered 200 with one failed item; the others were attached
    assert (body["TotalCount"], body["FailCount"]) == (3, 1)
    items = {
        r["InstanceId"]: r
        for r in body["AttachInstanceRamRoleResults"]["AttachInstanceRamRoleResult"]
    }
    assert (items[ids[1]]["Code"], items[ids[1]]["Message"]) == ("InternalError", "Try again.")
    assert items[ids[1]]["Success"] is False
    roles = {i: cloud.ecs(REGION).instances[i].role for i in ids}
    assert roles == {ids[0]: ROLE, ids[1]: None, ids[2]: ROLE}

    # AND the failure was used up: a retry of the failed instance works
    retry = call(client, attach_request([ids[1]]))
    assert retry["FailCount"] == 0


def test_fail_instances_for_a_whole_batch_still_answers_items(
    cloud: FakeCloud, client, vpc: str
) -> None:
    seed_role(cloud)
    ids = run(client, 2)
    cloud.faults.fail_instances("*", ids, "Throttling")

    body = call(client, attach_request(ids))

    assert body["FailCount"] == 2
    assert all(cloud.ecs(REGION).instances[i].role is None for i in ids)


# -- eventual consistency ------------------------------------------------------------------


def test_invisible_for_the_next_lookups(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN new instances stay invisible for their next two lookups
    seed_role(cloud)
    cloud.faults.invisible_after_create(calls=2)
    [instance_id] = run(client)

    # WHEN it is described, attached, then described again
    first = describe(client)
    attach = server_error(client, attach_request([instance_id]))
    later = describe(client)

    # THEN it appeared only on the third lookup
    assert first["TotalCount"] == 0
    assert_error(attach, "InvalidInstanceId.NotFound", 404)
    assert instance_ids(later) == [instance_id]


def test_invisible_for_some_seconds(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN new instances stay invisible for 5 s of clock time
    seed_role(cloud)
    cloud.faults.invisible_after_create(seconds=5)
    [instance_id] = run(client)

    # WHEN it is looked up before and after
    before = describe(client, InstanceIds=[instance_id])
    attach = server_error(client, attach_request([instance_id]))
    cloud.advance(4.9)
    still = describe(client)
    cloud.advance(0.1)
    after = describe(client)

    # THEN
    assert (before["TotalCount"], still["TotalCount"]) == (0, 0)
    assert_error(attach, "InvalidInstanceId.NotFound", 404)
    assert instance_ids(after) == [instance_id]


def test_invisibility_applies_only_to_instances_created_after_it(
    cloud: FakeCloud, client, vpc: str
) -> None:
    [older] = run(client)
    cloud.faults.invisible_after_create(seconds=60)
    run(client)

    assert instance_ids(describe(client)) == [older]


def test_fault_plan_describes_itself(cloud: FakeCloud) -> None:
    cloud.faults.fail("RunInstances", "Throttling", times=2)
    cloud.faults.rate_limit("*", per_second=5)
    cloud.faults.fail_instances("AttachInstanceRamRole", ["i-b", "i-a"], "InternalError")
    cloud.faults.invisible_after_create(seconds=3)

    described = cloud.faults.describe()

    assert described["rules"][0]["code"] == "Throttling"
    assert described["rules"][0]["times"] == 2
    assert described["rate_limits"] == {"*": {"per_second": 5, "burst": 5, "code": "Throttling"}}
    assert described["item_failures"][0]["instance_ids"] == ["i-a", "i-b"]
    assert described["invisible_after_create"] == {"seconds": 3, "calls": 0}
