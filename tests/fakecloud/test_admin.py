"""The admin endpoint under /_fake/, over HTTP, and its separation from the API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest

from fakecloud import FakeCloud, FakeCloudServer, RealClock
from tests.fakecloud.builders import (
    ROLE,
    assert_error,
    attach_request,
    describe,
    run,
    seed_role,
    seed_vpc,
    server_error,
)
from tests.fakecloud.wire import ECS, query_string, send, signed_params
from tests.support import REGION, call


def admin(server: FakeCloudServer, method: str, route: str, payload: Any = None) -> tuple[int, Any]:
    """One admin call with urllib: (status, parsed JSON)."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"{server.url}/_fake/{route}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def admin_raw(server: FakeCloudServer, method: str, route: str, body: bytes) -> tuple[int, Any]:
    return send(server, method, f"/_fake/{route}", body)


def test_health(server: FakeCloudServer) -> None:
    assert admin(server, "GET", "health") == (200, {"ok": True})


def test_state_shows_roles_and_instances(cloud: FakeCloud, server: FakeCloudServer, client) -> None:
    # GIVEN a role bound to a tagged instance
    seed_vpc(cloud)
    seed_role(cloud)
    [instance_id] = run(client, tags={"team": "a"}, role=ROLE, name="web")

    # WHEN
    status, state = admin(server, "GET", "state")

    # THEN
    assert status == 200
    account = state["1234567890123456"]
    assert account["roles"] == {ROLE: {"trusts_ecs": True}}
    assert account["regions"][REGION]["instances"][instance_id] == {
        "name": "web",
        "status": "Pending",
        "network_type": "vpc",
        "vpc_id": "vpc-bp1acceptance",
        "resource_group_id": "",
        "tags": {"team": "a"},
        "role": ROLE,
    }


def test_calls_since(server: FakeCloudServer, client) -> None:
    for _ in range(3):
        describe(client)

    status, calls = admin(server, "GET", "calls?since=1")

    assert status == 200
    assert [c["seq"] for c in calls] == [2, 3]
    assert all(c["action"] == "DescribeInstances" for c in calls)
    assert all("Signature" not in c["params"] for c in calls)


def test_clear_calls(cloud: FakeCloud, server: FakeCloudServer, client) -> None:
    describe(client)

    assert admin(server, "DELETE", "calls") == (200, {"ok": True})
    assert cloud.calls.all() == []


def test_events_since(cloud: FakeCloud, server: FakeCloudServer, client) -> None:
    # GIVEN an instance that boots
    seed_vpc(cloud)
    [instance_id] = run(client)
    cloud.advance(2)

    # WHEN the events after the second are read
    status, events = admin(server, "GET", "events?since=2")

    # THEN
    assert status == 200
    assert [e["seq"] for e in events] == [3, 4]
    assert [e["event"]["data"]["state"] for e in events] == ["Starting", "Running"]
    assert events[0]["event"]["data"]["resourceId"] == instance_id


def test_faults_post_get_delete(cloud: FakeCloud, server: FakeCloudServer, client) -> None:
    # GIVEN faults configured over HTTP
    status, _ = admin(
        server,
        "POST",
        "faults",
        {
            "fail": [{"action": "DescribeInstances", "code": "Throttling", "times": 1}],
            "rate_limit": [{"action": "RunInstances", "per_second": 5}],
            "invisible_after_create": {"seconds": 2},
        },
    )

    # WHEN they are read back and used
    described = admin(server, "GET", "faults")[1]
    throttled = server_error(client, DescribeInstancesRequest())

    # THEN
    assert status == 200
    assert described["rules"][0]["code"] == "Throttling"
    assert described["rate_limits"]["RunInstances"]["per_second"] == 5
    assert described["invisible_after_create"] == {"seconds": 2, "calls": 0}
    assert_error(throttled, "Throttling", 400)

    # AND deleting them clears every kind
    assert admin(server, "DELETE", "faults") == (200, {"ok": True})
    cleared = admin(server, "GET", "faults")[1]
    assert cleared == {
        "rules": [],
        "rate_limits": {},
        "item_failures": [],
        "invisible_after_create": {"seconds": 0.0, "calls": 0},
    }


def test_fail_instances_over_http(cloud: FakeCloud, server: FakeCloudServer, client) -> None:
    seed_vpc(cloud)
    seed_role(cloud)
    ids = run(client, 2)
    admin(
        server,
        "POST",
        "faults",
        {
            "fail_instances": [
                {
                    "action": "AttachInstanceRamRole",
                    "instance_ids": ids[:1],
                    "code": "InternalError",
                }
            ]
        },
    )

    body = call(client, attach_request(ids))

    assert body["FailCount"] == 1


def test_clock_advance_drives_the_lifecycle(
    cloud: FakeCloud, server: FakeCloudServer, client
) -> None:
    seed_vpc(cloud)
    [instance_id] = run(client)
    before = cloud.clock.now()

    status, body = admin(server, "POST", "clock", {"advance": 2})

    assert status == 200
    assert body["now"] == pytest.approx(before + 2)
    assert (
        describe(client, InstanceIds=[instance_id])["Instances"]["Instance"][0]["Status"]
        == "Running"
    )


def test_clock_cannot_advance_real_time() -> None:
    cloud = FakeCloud(clock=RealClock())
    with FakeCloudServer(cloud) as server:
        status, body = admin(server, "POST", "clock", {"advance": 1})

    assert status == 409
    assert "ManualClock" in body["error"]


def test_lifecycle_sets_the_transition_times(
    cloud: FakeCloud, server: FakeCloudServer, client
) -> None:
    # GIVEN instances stay Pending for 10 s
    seed_vpc(cloud)
    run(client)  # a backend that exists before the change follows it too
    status, _ = admin(server, "POST", "lifecycle", {"pending": 10, "starting": 1, "stopping": 1})
    [instance_id] = run(client)

    # WHEN 9 s pass
    cloud.advance(9)

    # THEN it is still Pending
    assert status == 200
    assert (
        describe(client, InstanceIds=[instance_id])["Instances"]["Instance"][0]["Status"]
        == "Pending"
    )


def test_seed_over_http(cloud: FakeCloud, server: FakeCloudServer, client) -> None:
    status, _ = admin(server, "POST", "seed", {"roles": [{"name": ROLE}]})

    assert status == 200
    assert cloud.ram().find_role(ROLE) is not None


@pytest.mark.parametrize(
    ("method", "route", "payload"),
    [
        ("POST", "seed", {"roles": [{"nom": ROLE}]}),
        ("POST", "seed", {"roles": [{"name": "bad name"}]}),
        ("POST", "lifecycle", {"pending": 1, "booting": 2}),
        ("POST", "faults", {"fail": [{"action": "RunInstances"}]}),
        ("POST", "faults", [1, 2]),
        ("POST", "clock", {"advance": "soon"}),
        ("POST", "clock", {"advance": -1}),
        ("POST", "clock", {"forward": 1}),
        ("GET", "calls?since=abc", None),
        ("GET", "events?since=-", None),
    ],
)
def test_bad_admin_requests_are_400(
    server: FakeCloudServer, method: str, route: str, payload: Any
) -> None:
    status, body = admin(server, method, route, payload)

    assert status == 400
    assert body["error"]


def test_bad_json_is_400(server: FakeCloudServer) -> None:
    status, body = admin_raw(server, "POST", "faults", b"{not json")

    assert status == 400
    assert body["error"]


@pytest.mark.parametrize(
    ("method", "route"),
    [("GET", "nothing"), ("POST", "health"), ("DELETE", "state"), ("GET", "")],
)
def test_unknown_admin_routes_are_404(server: FakeCloudServer, method: str, route: str) -> None:
    status, body = admin(server, method, route)

    assert status == 404
    assert "no admin route" in body["error"]


def test_a_signed_api_call_to_the_admin_prefix_is_not_executed(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    query = query_string(signed_params({**ECS, "Action": "DescribeInstances"}))

    status, body = send(server, "GET", f"/_fake/?{query}")

    assert (status, "no admin route" in body["error"]) == (404, True)
    assert cloud.calls.all() == []


def test_admin_route_names_are_not_api_actions(server: FakeCloudServer) -> None:
    status, body = send(
        server, "GET", "/?" + query_string(signed_params({**ECS, "Action": "health"}))
    )

    assert (status, body["Code"]) == (400, "InvalidParameter")


def test_paths_outside_the_prefix_are_api_paths(cloud: FakeCloud, server: FakeCloudServer) -> None:
    status, body = send(server, "GET", "/_fake?x=1")

    assert (status, body["Code"]) == (400, "MissingParameter")
    assert len(cloud.calls.all()) == 1
