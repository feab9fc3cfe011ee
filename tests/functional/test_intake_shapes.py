"""The intake and the handlers on every shape the fake emits (fakecloud/shapes.py): the
documented alternatives of the envelope (time forms, optional fields), of ActionTrail records
(eventSource, eventVersion, extra objects, integer parameters) and of a launch's creation events
(Created, Pending, or both), over several seeds. Each event is routed by template.yml's
EventBridge rules, as local mode routes it, and every instance must end with its role.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aliyunsdkecs.request.v20140526.TagResourcesRequest import TagResourcesRequest

from fakecloud import FakeCloud, FakeCloudServer, ManualClock
from fakecloud.eventbridge import Bus
from rolebinder.intake.events import InstanceCheck, parse_delivery
from rolebinder.local.bus import rules_from_template
from tests.functional.conftest import ecs_state, run_instances, seed_world
from tests.support import ROOT, call, make_client

BUS = Bus(rules_from_template(ROOT / "template.yml"))
PAYMENTS = {"team": "payments", "env": "prod"}
SEEDS = range(6)


@pytest.fixture(params=SEEDS, ids=[f"seed-{seed}" for seed in SEEDS])
def cloud(request: pytest.FixtureRequest) -> FakeCloud:
    """A fake with its default, varied shapes, for one seed."""
    return FakeCloud(seed=request.param, clock=ManualClock())


def launch_and_tag(cloud: FakeCloud, server: FakeCloudServer) -> tuple[list[str], list[str]]:
    """Six Payments launches, four untagged ones retagged ram-role=AppReader once Running."""
    seed_world(cloud, [])
    client = make_client(server)
    payments = run_instances(client, 6, PAYMENTS)
    readers = run_instances(client, 4, {})
    cloud.advance(3)
    request = TagResourcesRequest()
    request.set_ResourceType("instance")
    request.set_ResourceIds(readers)
    request.set_Tags([{"Key": "ram-role", "Value": "AppReader"}])
    call(client, request)
    return payments, readers


def named(event: dict[str, Any]) -> set[str]:
    """The instances the intake reads for an event."""
    return {
        i for t in parse_delivery(event) if isinstance(t, InstanceCheck) for i in t.instance_ids
    }


def test_every_emitted_shape_reaches_its_instances(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN the events of launches and a retag, in this seed's shapes
    _, readers = launch_and_tag(cloud, server)
    emitted = [event for _, event in cloud.events.since(0)]
    # THEN each creation and tag event names its instance, as an object and as bytes
    for event in emitted:
        data = event["data"]
        expected: set[str] = set()
        if event["type"] == "ecs:Instance:StateChange":
            expected = {data["resourceId"]}
        elif data.get("eventName") == "RunInstances":
            expected = set(data["responseElements"]["InstanceIdSets"]["InstanceIdSet"])
        elif event["source"] == "acs.tag" or data.get("eventName") == "TagResources":
            expected = set(readers) & set(json.dumps(data).split('"'))
        if expected:
            assert named(event) == expected, event
            assert named(json.dumps(event).encode()) == expected, event


def test_the_handlers_bind_every_instance_whatever_the_shapes(
    cloud: FakeCloud, server: FakeCloudServer, invoke
) -> None:
    payments, readers = launch_and_tag(cloud, server)
    emitted = [event for _, event in cloud.events.since(0)]
    # WHEN every event goes where template.yml's rules send it
    runs = [invoke(target, event) for event in emitted for target in BUS.targets(event)]
    # THEN no delivery was refused as malformed, and every instance has its role
    assert runs, "no event was routed to a handler"
    assert [run.errors for run in runs if run.errors] == []
    assert [run.error for run in runs if run.error is not None] == []
    malformed = [o for run in runs for o in run.outcomes if o["reason"] == "malformed-event"]
    assert malformed == []
    state = ecs_state(cloud)
    assert {i: state[i] for i in payments} == dict.fromkeys(payments, "Payments")
    assert {i: state[i] for i in readers} == dict.fromkeys(readers, "AppReader")
