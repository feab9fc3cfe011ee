"""The reconcile handler: a fleet swept a page at a time at the batching lower bound, the regions
it covers, and two sweeps racing on the same fleet.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from typing import Any

import pytest

from fakecloud import FakeCloud
from functions.reconcile import index as reconcile
from rolebinder.entrypoints.invocation import Invocation, runtime_from
from rolebinder.local.fc_context import FunctionMeta, LocalContext
from rolebinder.output.journal import Journal
from tests.functional.conftest import (
    add_fleet,
    attached_once,
    ecs_state,
    make_context,
    seed_world,
    timer_event,
)
from tests.support import REGION

PAYMENTS_TAGS = {"team": "payments", "env": "prod"}
READER_TAGS = {"ram-role": "AppReader"}


def fleet_of_1000() -> list[tuple[str, dict[str, str], str | None]]:
    """500 to attach Payments, 300 to attach AppReader, 100 without a rule, 100 already bound."""
    specs: list[tuple[str, dict[str, str], str | None]] = []
    for n in range(1000):
        if n < 500:
            tags, role = PAYMENTS_TAGS, None
        elif n < 800:
            tags, role = READER_TAGS, None
        elif n < 900:
            tags, role = {"team": "search"}, None
        else:
            tags, role = PAYMENTS_TAGS, "Payments"
        specs.append((f"i-fleet{n:06d}", tags, role))
    return specs


def test_a_sweep_of_1000_instances_costs_the_batching_lower_bound(cloud: FakeCloud, invoke) -> None:
    # GIVEN 1,000 instances
    seed_world(cloud, [])
    specs = fleet_of_1000()
    add_fleet(cloud, specs)

    # WHEN the timer fires
    run = invoke("reconcile", timer_event())

    # THEN every instance ends in its mapped state ...
    assert run.error is None
    expected = {i: role or _mapped(tags) for i, tags, role in specs}
    assert ecs_state(cloud) == expected
    assert run.summary["outcomes"] == {"attached": 800, "skipped": 100, "unchanged": 100}
    assert len(run.outcomes) == 1000
    # ... with pages of 100 instances, role reads of 50 and one Attach per role per 100
    assert dict(cloud.calls.counts()) == {
        "DescribeInstances": 10,
        "DescribeInstanceRamRole": 20,
        "GetRole": 2,
        "TagResources": 2 * (5 + 3),  # each batch's ownership markers, 50 ids a call
        "AttachInstanceRamRole": 5 + 3,
    }
    sizes = Counter(
        (c.params["RamRoleName"], len(json.loads(c.params["InstanceIds"])))
        for c in cloud.calls.all()
        if c.action == "AttachInstanceRamRole"
    )
    assert sizes == {("Payments", 100): 5, ("AppReader", 100): 3}
    assert attached_once(cloud) == dict.fromkeys((i for i, _, r in specs[:800]), 1)


def _mapped(tags: dict[str, str]) -> str | None:
    if tags == PAYMENTS_TAGS:
        return "Payments"
    return tags.get("ram-role")


# -- regions ------------------------------------------------------------------------------------

HANGZHOU, SHANGHAI, BEIJING = "i-hangzhou00001", "i-shanghai00001", "i-beijing000001"


@pytest.fixture
def three_regions(cloud: FakeCloud, use_mapping) -> FakeCloud:
    """One payments instance in each of three regions; a mapping for payments anywhere."""
    use_mapping(
        {
            "version": 1,
            "roles": ["Payments"],
            "rules": [{"name": "payments", "when": {"tags": PAYMENTS_TAGS}, "role": "Payments"}],
        }
    )
    seed_world(cloud, [])
    for region in ("cn-shanghai", "cn-beijing"):
        seed_world(cloud, [], region=region, roles=[])
    add_fleet(cloud, [(HANGZHOU, PAYMENTS_TAGS, None)])
    add_fleet(cloud, [(SHANGHAI, PAYMENTS_TAGS, None)], region="cn-shanghai")
    add_fleet(cloud, [(BEIJING, PAYMENTS_TAGS, None)], region="cn-beijing")
    return cloud


def bound(cloud: FakeCloud) -> dict[str, str | None]:
    return {
        **ecs_state(cloud, "cn-hangzhou"),
        **ecs_state(cloud, "cn-shanghai"),
        **ecs_state(cloud, "cn-beijing"),
    }


@pytest.mark.parametrize(
    ("configured", "payload", "swept"),
    [
        (None, None, {"cn-hangzhou"}),
        ("cn-shanghai,cn-beijing", None, {"cn-shanghai", "cn-beijing"}),
        ("cn-shanghai,cn-beijing", ["cn-beijing"], {"cn-beijing"}),
        ("cn-shanghai,cn-beijing", ["cn-hangzhou"], set()),
        (None, ["cn-beijing", "cn-shanghai"], set()),
        (None, ["cn-beijing", "cn-hangzhou"], {"cn-hangzhou"}),
    ],
    ids=[
        "function-region",
        "configured-regions",
        "payload-narrows",
        "payload-cannot-widen",
        "payload-cannot-leave-home",
        "payload-partly-outside",
    ],
)
def test_the_sweep_covers_the_regions_it_is_given(
    three_regions: FakeCloud,
    handler_env,
    invoke,
    configured: str | None,
    payload: list[str] | None,
    swept: set[str],
) -> None:
    # GIVEN one payments instance in each of three regions, and ROLEBINDER_REGIONS
    cloud = three_regions
    if configured:
        handler_env.setenv("ROLEBINDER_REGIONS", configured)

    # WHEN the timer fires, its payload naming regions or not
    run = invoke("reconcile", timer_event(payload))

    # THEN exactly the configured regions (ROLEBINDER_REGIONS, else the function's own), as
    # far as the payload narrows them, were read and written; a payload never widens them
    assert run.error is None
    assert {line["region"] for line in run.outcomes} == swept
    refused = [w for w in run.warnings if w["warning"] == "region-refused"]
    assert bool(refused) == bool(payload and set(payload) - swept)
    assert {c.region for c in cloud.calls.all() if c.product == "ecs"} == swept
    by_region = {HANGZHOU: "cn-hangzhou", SHANGHAI: "cn-shanghai", BEIJING: "cn-beijing"}
    assert bound(cloud) == {i: "Payments" if r in swept else None for i, r in by_region.items()}


def test_a_failing_region_does_not_stop_the_others(
    three_regions: FakeCloud, handler_env, invoke
) -> None:
    # GIVEN credentials refused in cn-shanghai only (DescribeInstances answers an empty list
    # to a caller without rights, so a region is refused through its role reads)
    cloud = three_regions
    cloud.add_key(
        "LTAIhangzhouOnly001",
        "hangzhou-secret",
        policy={
            "Version": "1",
            "Statement": [
                {"Effect": "Allow", "Action": ["ecs:*", "ram:*"], "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Action": "ecs:DescribeInstanceRamRole",
                    "Resource": "acs:ecs:cn-shanghai:*",
                },
            ],
        },
    )
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIhangzhouOnly001")
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "hangzhou-secret")
    handler_env.setenv("ROLEBINDER_REGIONS", "cn-shanghai,cn-hangzhou")

    run = invoke("reconcile", timer_event(["cn-shanghai", "cn-hangzhou"]))

    assert run.error is None  # Forbidden is permanent
    assert {(line["region"], line["outcome"]) for line in run.outcomes} == {
        ("cn-shanghai", "failed"),
        ("cn-hangzhou", "attached"),
    }
    assert bound(cloud) == {HANGZHOU: "Payments", SHANGHAI: None, BEIJING: None}


# -- concurrency --------------------------------------------------------------------------------


def fleet_of_300(cloud: FakeCloud) -> list[str]:
    seed_world(cloud, [])
    return add_fleet(
        cloud,
        [(f"i-race{n:06d}", PAYMENTS_TAGS if n % 3 else READER_TAGS, None) for n in range(300)],
    )


def race(*sweeps: Any) -> list[BaseException | None]:
    """Start the sweeps together in threads; what each raised."""
    start = threading.Barrier(len(sweeps))
    raised: list[BaseException | None] = [None] * len(sweeps)

    def run(index: int) -> None:
        start.wait()
        try:
            sweeps[index]()
        except BaseException as error:  # reported to the test
            raised[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sweeps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return raised


def test_two_sweeps_in_one_container_converge(
    cloud: FakeCloud, handler_env, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN 300 instances to attach, and two timer invocations at once in one container
    ids = fleet_of_300(cloud)
    capsys.readouterr()

    raised = race(
        lambda: reconcile.handler(timer_event(), make_context()),
        lambda: reconcile.handler(timer_event(), make_context()),
    )

    # THEN both succeed, every instance has its role, and each was attached exactly once
    assert raised == [None, None]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    outcomes = [line for line in lines if line["kind"] == "outcome"]
    assert len(outcomes) == 600
    assert {line["outcome"] for line in outcomes} <= {"attached", "unchanged"}
    assert set(ecs_state(cloud).values()) == {"Payments", "AppReader"}
    assert attached_once(cloud) == dict.fromkeys(ids, 1)


def test_two_sweeps_in_two_containers_converge(cloud: FakeCloud, handler_env) -> None:
    # GIVEN two containers (own caches and clients) sweeping the same 300 instances at once
    ids = fleet_of_300(cloud)
    journals = [Journal(stream=_Sink()) for _ in range(2)]

    def sweep(journal: Journal) -> Any:
        context = LocalContext(region=REGION, function=FunctionMeta("reconcile", timeout=20))
        runtime = runtime_from(os.environ)
        return Invocation(runtime, context, "reconcile", os.environ, journal).run(timer_event())

    raised = race(*(lambda journal=journal: sweep(journal) for journal in journals))

    assert raised == [None, None]
    for journal in journals:
        assert journal.failed == 0
        assert sum(journal.outcomes.values()) == 300
    assert attached_once(cloud) == dict.fromkeys(ids, 1)
    assert Counter(ecs_state(cloud).values()) == {"Payments": 200, "AppReader": 100}


class _Sink:
    """A text stream that keeps nothing."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        """Nothing buffered."""
