"""API economy: documented batch sizes, one role check per role, and the container's role cache."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

from aliyunsdkcore.client import AcsClient

from fakecloud import FakeCloud, ManualClock
from rolebinder.entrypoints import config, invocation
from rolebinder.intake.events import InstanceCheck
from rolebinder.service.engine import Engine
from rolebinder.service.roles import RoleCache
from tests.functional.conftest import (
    ecs_state,
    run_instances,
    seed_world,
    state_event,
    trail_events,
    vm,
)
from tests.support import REGION

PAYMENTS_TAGS = {"team": "payments", "env": "prod"}
READER_TAGS = {"ram-role": "AppReader"}


def attach_batches(cloud: FakeCloud) -> list[tuple[str, list[str]]]:
    return [
        (c.params["RamRoleName"], json.loads(c.params["InstanceIds"]))
        for c in cloud.calls.all()
        if c.action == "AttachInstanceRamRole"
    ]


def test_a_run_instances_record_of_100_costs_seven_calls(
    cloud: FakeCloud, client: AcsClient, handler_env, invoke
) -> None:
    # GIVEN 100 payments instances launched by one RunInstances call, and the ActionTrail
    # record the fake published for it
    seed_world(cloud, [])
    ids = run_instances(client, 100, PAYMENTS_TAGS)
    [record] = trail_events(cloud, "RunInstances")
    cloud.calls.clear()

    # WHEN the record reaches the instance handler
    run = invoke("instance_events", record)

    # THEN every instance is attached with the fewest calls the batch limits allow
    assert run.error is None
    assert Counter(line["outcome"] for line in run.outcomes) == {"attached": 100}
    assert dict(cloud.calls.counts()) == {
        "DescribeInstances": 1,  # up to 100 ids
        "DescribeInstanceRamRole": 2,  # up to 50 ids
        "GetRole": 1,
        "TagResources": 2,  # the ownership marker, up to 50 ids
        "AttachInstanceRamRole": 1,  # up to 100 ids
    }
    assert attach_batches(cloud) == [("Payments", ids)]
    assert set(ecs_state(cloud).values()) == {"Payments"}


def test_250_instances_of_two_roles_attach_in_batches_of_100(
    cloud: FakeCloud, engine_for: Callable[[], Engine]
) -> None:
    # GIVEN 250 instances, alternately for Payments and for AppReader, named by one check
    instances = [vm(f"i-batch{n:05d}", PAYMENTS_TAGS if n % 2 else READER_TAGS) for n in range(250)]
    seed_world(cloud, instances)
    ids = tuple(spec["instance_id"] for spec in instances)

    # WHEN the engine settles them
    outcomes = engine_for().check(
        InstanceCheck(ids, REGION, None, "evt-250", "api-call", "RunInstances"), REGION
    )

    # THEN each role is attached in calls of at most 100 instances, each instance once
    assert Counter(o.outcome for o in outcomes) == {"attached": 250}
    batches = attach_batches(cloud)
    assert sorted((role, len(batch)) for role, batch in batches) == [
        ("AppReader", 25),
        ("AppReader", 100),
        ("Payments", 25),
        ("Payments", 100),
    ]
    attached = [i for _, batch in batches for i in batch]
    assert sorted(attached) == sorted(ids)
    counts = cloud.calls.counts()
    assert (counts["DescribeInstances"], counts["DescribeInstanceRamRole"]) == (3, 5)
    assert counts["GetRole"] == 2
    assert Counter(ecs_state(cloud).values()) == {"Payments": 125, "AppReader": 125}


def test_role_checks_are_cached_by_the_warm_container(
    cloud: FakeCloud, handler_env, invoke
) -> None:
    # GIVEN three payments instances
    seed_world(cloud, [vm(f"i-cache0000{n}", PAYMENTS_TAGS) for n in range(3)])

    # WHEN creation events arrive one by one: the first two in one container, the third cold
    costs = []
    for n, cold in ((0, False), (1, False), (2, True)):
        cloud.calls.clear()
        run = invoke("instance_events", state_event(f"i-cache0000{n}", "Created"), cold=cold)
        assert run.outcomes[0]["outcome"] == "attached"
        costs.append(dict(cloud.calls.counts()))

    # THEN a cold container pays one GetRole; a warm one does not
    warm_cost = {
        "DescribeInstances": 1,
        "DescribeInstanceRamRole": 1,
        "TagResources": 1,
        "AttachInstanceRamRole": 1,
    }
    cold_cost = {**warm_cost, "GetRole": 1}
    assert costs == [cold_cost, warm_cost, cold_cost]


def test_role_cache_expires_after_the_configured_seconds(
    cloud: FakeCloud, handler_env, invoke
) -> None:
    # GIVEN a container whose role cache keeps answers for ROLEBINDER_ROLE_CACHE_SECONDS=30,
    # on a hand-driven clock
    seed_world(cloud, [vm(f"i-ttl00000{n}", PAYMENTS_TAGS) for n in range(3)])
    handler_env.setenv(config.ROLE_CACHE_SECONDS, "30")
    runtime = invocation.container_runtime()
    assert runtime.roles.ttl == 30.0
    clock = ManualClock(start=0.0)
    runtime.roles = RoleCache(runtime.settings.role_cache_seconds, clock=clock.now)

    # WHEN events arrive at t=0, t=29 and t=31
    get_roles = []
    for n, advance in enumerate((0.0, 29.0, 2.0)):
        clock.advance(advance)
        run = invoke("instance_events", state_event(f"i-ttl00000{n}"))
        assert run.outcomes[0]["outcome"] == "attached"
        get_roles.append(cloud.calls.count("GetRole"))

    # THEN RAM is asked at t=0, not at t=29, and again once the answer is 31 s old
    assert get_roles == [1, 1, 2]


def test_a_zero_second_role_cache_asks_ram_every_time(
    cloud: FakeCloud, handler_env, invoke
) -> None:
    seed_world(cloud, [vm(f"i-nocache00{n}", PAYMENTS_TAGS) for n in range(2)])
    handler_env.setenv(config.ROLE_CACHE_SECONDS, "0")

    for n in range(2):
        invoke("instance_events", state_event(f"i-nocache00{n}"))

    assert cloud.calls.count("GetRole") == 2
    assert set(ecs_state(cloud).values()) == {"Payments"}
