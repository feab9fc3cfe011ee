"""The client on both documented shapes of an Attach/Detach result's `Code`: "200" and 200.

The field table types `Code` as String and older samples show "200"; the current JSON sample
shows the number 200 (docs/research/api-facts.md 2.6). The fake is pinned to each in turn, and
the real SDK carries the answer to the ECS gateway and to the handler.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fakecloud import FakeCloud, FakeCloudServer, ManualClock
from fakecloud.shapes import BIND_CODE, Shapes
from rolebinder.aliyun.ecs import EcsGateway
from rolebinder.aliyun.retry import Deadline
from rolebinder.aliyun.transport import Transport
from tests.functional.conftest import seed_world, state_event, trail_events, vm
from tests.support import REGION, make_client

FREE, TAKEN = "i-bp1codeshape0000001", "i-bp1codeshape0000002"
PAYMENTS = {"team": "payments", "env": "prod"}


@pytest.fixture(params=["200", 200], ids=["string", "number"])
def code(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture
def cloud(code: Any) -> FakeCloud:
    """A fake whose per-instance success Code is always `code` (the other shapes still vary)."""
    return FakeCloud(clock=ManualClock(), shapes=Shapes(fixed={BIND_CODE: code}))


@pytest.fixture
def gateway(server: FakeCloudServer) -> Iterator[EcsGateway]:
    yield EcsGateway(Transport(make_client(server), Deadline(20)), REGION)


def served_codes(cloud: FakeCloud, action: str) -> list[Any]:
    """The Code values the fake put on the wire, from its own ActionTrail records."""
    return [
        item["Code"]
        for event in trail_events(cloud, action)
        for item in event["data"]["responseElements"][f"{action}Results"][f"{action}Result"]
    ]


def test_attach_reads_success_and_failure_in_either_shape(
    cloud: FakeCloud, gateway: EcsGateway, code: Any
) -> None:
    # GIVEN one instance without a role and one that has a role already
    seed_world(cloud, [vm(FREE, PAYMENTS), vm(TAKEN, PAYMENTS, role="AppReader")])
    # WHEN Payments is attached to both in one call
    results = gateway.attach_role("Payments", [FREE, TAKEN])
    # THEN the free one succeeded and the other failed, whatever type the success Code had
    assert served_codes(cloud, "AttachInstanceRamRole")[0] == code
    assert type(served_codes(cloud, "AttachInstanceRamRole")[0]) is type(code)
    assert (results[FREE].ok, results[FREE].code) == (True, "200")
    assert results[TAKEN].ok is False
    assert results[TAKEN].code not in ("", "200")


def test_detach_reads_success_in_either_shape(
    cloud: FakeCloud, gateway: EcsGateway, code: Any
) -> None:
    seed_world(cloud, [vm(TAKEN, PAYMENTS, role="AppReader")])
    results = gateway.detach_role("AppReader", [TAKEN])
    assert served_codes(cloud, "DetachInstanceRamRole") == [code]
    assert (results[TAKEN].ok, results[TAKEN].code) == (True, "200")
    assert cloud.ecs(REGION).instances[TAKEN].role is None


def test_the_handler_attaches_in_either_shape(cloud: FakeCloud, invoke, code: Any) -> None:
    seed_world(cloud, [vm(FREE, PAYMENTS)])
    run = invoke("instance_events", state_event(FREE))
    assert (run.outcome(FREE)["outcome"], run.outcome(FREE)["role"]) == ("attached", "Payments")
    assert served_codes(cloud, "AttachInstanceRamRole") == [code]
