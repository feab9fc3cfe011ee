"""The documented alternatives the fake emits (fakecloud/shapes.py): every one of them shows up,
each is one the docs show, and the same seed gives the same events.

These tests build their own clouds: the `cloud` fixture of this folder pins one shape.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aliyunsdkecs.request.v20140526.TagResourcesRequest import TagResourcesRequest

from fakecloud import FakeCloud, FakeCloudServer, ManualClock
from fakecloud.shapes import OPTIONS, Shapes
from tests.fakecloud.builders import attach_request, run, seed_role, seed_vpc
from tests.support import call, make_client

CREATION = ("Created", "Pending")
TIMES = {
    "Z": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
    "+08:00": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00",
    "millis": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
}


@contextmanager
def scripted_cloud(seed: int | str) -> Iterator[FakeCloud]:
    """A cloud of `seed` after a fixed script: 12 launches, tags, one attach of all of them."""
    cloud = FakeCloud(seed=seed, clock=ManualClock(start=1_700_000_000.0))
    seed_vpc(cloud)
    seed_role(cloud, "AppReader")
    with FakeCloudServer(cloud) as server:
        client = make_client(server)
        ids = run(client, 12, tags={"team": "payments"})
        cloud.advance(3)
        tag = TagResourcesRequest()
        tag.set_ResourceType("instance")
        tag.set_ResourceIds(ids)
        tag.set_Tags([{"Key": "env", "Value": "prod"}])
        call(client, tag)
        call(client, attach_request(ids, "AppReader"))
        yield cloud


def events(cloud: FakeCloud) -> list[dict[str, Any]]:
    return [event for _, event in cloud.events.since(0)]


def seen_shapes(cloud: FakeCloud) -> dict[str, set[Any]]:
    """Per facet, the options the script's events and answers showed."""
    seen: dict[str, set[Any]] = defaultdict(set)
    launches: dict[str, list[str]] = defaultdict(list)
    for event in events(cloud):
        seen["event-time"] |= {k for k, rx in TIMES.items() if re.fullmatch(rx, event["time"])}
        seen["content-type"].add("datacontenttype" in event)
        seen["original-account"].add("aliyunoriginalaccountid" in event)
        data = event["data"]
        if event["type"] == "ecs:Instance:StateChange" and data["state"] in CREATION:
            launches[data["resourceId"]].append(data["state"])
        if "eventName" in data:
            record_shapes(data, seen)
    seen["creation-events"] = {tuple(states) for states in launches.values()}
    return seen


def record_shapes(record: dict[str, Any], seen: dict[str, set[Any]]) -> None:
    regional = record["eventSource"] == f"ecs.{record['acsRegion']}.aliyuncs.com"
    assert regional or record["eventSource"] == "ecs.aliyuncs.com", record["eventSource"]
    seen["trail-source"].add("regional" if regional else "product")
    seen["trail-version"].add(record["eventVersion"])
    seen["trail-extras"].add("additionalEventData" in record)
    if record["eventName"] == "RunInstances":
        seen["trail-numbers"].add(isinstance(record["requestParameters"]["Amount"], int))
    if record["eventName"] == "AttachInstanceRamRole":
        results = record["responseElements"]["AttachInstanceRamRoleResults"]
        seen["bind-code"] |= {item["Code"] for item in results["AttachInstanceRamRoleResult"]}


def test_every_documented_shape_shows_up() -> None:
    # GIVEN the script run on a few seeds; THEN together they show every option of every facet
    seen: dict[str, set[Any]] = defaultdict(set)
    for seed in range(8):
        with scripted_cloud(seed) as cloud:
            for facet, options in seen_shapes(cloud).items():
                seen[facet] |= options
    for facet, options in OPTIONS.items():
        assert seen[facet] == set(options), facet


def test_the_same_seed_gives_the_same_events_and_another_seed_does_not() -> None:
    with scripted_cloud(7) as first:
        a = json.dumps(events(first), sort_keys=True)
    with scripted_cloud(7) as second:
        b = json.dumps(events(second), sort_keys=True)
    with scripted_cloud(8) as other:
        c = json.dumps(events(other), sort_keys=True)
    assert a == b
    assert a != c


def test_every_launch_emits_documented_creation_events_then_starting_and_running() -> None:
    with scripted_cloud(3) as cloud:
        per_instance: dict[str, list[str]] = defaultdict(list)
        for event in events(cloud):
            if event["type"] == "ecs:Instance:StateChange":
                per_instance[event["data"]["resourceId"]].append(event["data"]["state"])
    assert len(per_instance) == 12
    for states in per_instance.values():
        assert tuple(states[:-2]) in OPTIONS["creation-events"], states
        assert states[-2:] == ["Starting", "Running"], states


def test_the_uniform_shapes_are_the_first_options() -> None:
    uniform = Shapes.uniform()
    assert {facet: uniform.pick(facet, "any") for facet in OPTIONS} == {
        facet: options[0] for facet, options in OPTIONS.items()
    }
    with pytest.raises(ValueError, match="unknown shape facets: nope"):
        Shapes(fixed={"nope": 1})
