"""Delivery races: events delivered twice, late, out of order, concurrently, and in bursts.

EventBridge and Function Compute deliver at least once, in no guaranteed order, to as many
concurrent containers as they like. Whatever the order and the overlap:
- the binding follows the instance's CURRENT tags (events are only hints; tags are re-read);
- each instance is attached exactly once (ActionTrail), and with stable tags nothing is ever
  detached or put back (no flapping);
- one outcome line per instance reports the write (`attached` or `replaced`); every other line
  says `unchanged`.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.TagResourcesRequest import TagResourcesRequest

from fakecloud import FakeCloud, FakeCloudServer
from rolebinder.domain.ownership import MARKER_KEY
from rolebinder.entrypoints import invocation
from rolebinder.entrypoints.invocation import Invocation
from rolebinder.intake.events import API_CALLS
from rolebinder.local.bus import LocalBus, rules_from_template
from rolebinder.output.journal import Journal
from tests.functional.conftest import (
    ACCOUNT,
    ROLES,
    add_fleet,
    attached_once,
    make_context,
    run_instances,
    seed_world,
    state_event,
    timer_event,
    trail_events,
    vm,
)
from tests.hardening.conftest import Figures, Run, check_bindings, tag_change_event
from tests.support import PYTHONPATH, REGION, ROOT, call

PAYMENTS_TAGS = {"team": "payments", "env": "prod"}
READER_TAGS = {"ram-role": "AppReader"}
RULES = rules_from_template(ROOT / "template.yml")
ROLE_TAG_MAPPING = {
    "version": 1,
    "roles": ["AppReader", "Payments", "Reports"],
    "rules": [
        {
            "name": "by-role-tag",
            "when": {"tags": {"ram-role": "*"}},
            "role_from_tag": "ram-role",
            "allowed_roles": ["AppReader", "Payments", "Reports"],
        }
    ],
    "on_existing_role": "replace",
}
MAPPING_REPLACE = {
    "version": 1,
    "roles": ["AppReader", "Payments"],
    "rules": [
        {"name": "payments-prod", "when": {"tags": PAYMENTS_TAGS}, "role": "Payments"},
        {
            "name": "by-role-tag",
            "when": {"tags": {"ram-role": "*"}},
            "role_from_tag": "ram-role",
            "allowed_roles": ["AppReader", "Payments"],
        },
    ],
    "on_existing_role": "replace",
}


# The API calls each handler acts on, from the event-source registry.
INSTANCE_CALLS = frozenset(n for n, s in API_CALLS.items() if s.function == "instance_events")
TAG_CALLS = frozenset(n for n, s in API_CALLS.items() if s.function == "tag_events")


def route(event: dict[str, Any]) -> str | None:
    """The function an event is for, routed by template.yml today or not (the handlers take
    every creation state): instance events, tag events, or None (an Attach record...)."""
    if event["type"] == "ecs:Instance:StateChange":
        return "instance_events"
    if event["source"] == "acs.tag":
        return "tag_events"
    name = event["data"].get("eventName")
    return (
        "instance_events" if name in INSTANCE_CALLS else "tag_events" if name in TAG_CALLS else None
    )


def deliver(invoke: Callable[..., Run], event: dict[str, Any]) -> Run:
    return invoke(route(event), event)


def tag(client: AcsClient, ids: list[str], tags: dict[str, str]) -> None:
    """TagResources through the SDK: the fake emits a tag event per instance and a trail record."""
    request = TagResourcesRequest()
    request.set_ResourceType("instance")
    request.set_ResourceIds(ids)
    request.set_Tags([{"Key": key, "Value": value} for key, value in tags.items()])
    call(client, request)


def events_since(cloud: FakeCloud, seq: int) -> list[dict[str, Any]]:
    """Events the fake emitted after `seq` that are for a function."""
    return [event for _, event in cloud.events.since(seq) if route(event) is not None]


def last_seq(cloud: FakeCloud) -> int:
    emitted = cloud.events.since(0)
    return emitted[-1][0] if emitted else 0


def names(event: dict[str, Any], instance_id: str) -> bool:
    return instance_id in json.dumps(event)


def trail_items(cloud: FakeCloud, action: str) -> list[tuple[str, str, bool]]:
    """(instance, role, succeeded) for each instance of each `action` call ActionTrail recorded,
    failed calls and failed items included."""
    items = []
    for event in trail_events(cloud, action):
        data = event["data"]
        results = (data.get("responseElements") or {}).get(f"{action}Results", {})
        ok = {r["InstanceId"] for r in results.get(f"{action}Result", []) if r["Success"]}
        role = data["requestParameters"].get("RamRoleName", "")
        items += [(i, role, i in ok) for i in json.loads(data["requestParameters"]["InstanceIds"])]
    return items


def succeeded(cloud: FakeCloud, action: str) -> Counter[str]:
    return Counter(i for i, _, ok in trail_items(cloud, action) if ok)


# -- duplicates -----------------------------------------------------------------------------------


def trail_record(ids: list[str], event_id: str = "evt-delivery-runinstances") -> dict[str, Any]:
    return {
        "eventId": event_id,
        "eventVersion": "1",
        "eventType": "ApiCall",
        "eventName": "RunInstances",
        "acsRegion": REGION,
        "recipientAccountId": ACCOUNT,
        "requestParameters": {"RegionId": REGION, "Amount": str(len(ids))},
        "responseElements": {"InstanceIdSets": {"InstanceIdSet": ids}},
    }


@pytest.mark.parametrize("form", ["state-change", "runinstances-record", "tag-change", "batched"])
def test_an_event_delivered_three_times_writes_once(
    cloud: FakeCloud,
    client: AcsClient,
    invoke: Callable[..., Run],
    figures: Figures,
    form: str,
) -> None:
    # GIVEN ten new instances and the event FC will deliver more than once
    seed_world(cloud, [])
    mark = last_seq(cloud)
    ids = run_instances(client, 10, PAYMENTS_TAGS)
    if form == "tag-change":
        mark = last_seq(cloud)
        tag(client, ids, {"owner": "alice"})
    emitted = events_since(cloud, mark)
    forms: dict[str, Callable[[], Any]] = {
        "state-change": lambda: state_event(ids[0], "Created"),
        "runinstances-record": lambda: trail_record(ids),
        "tag-change": lambda: next(e for e in emitted if e["source"] == "acs.tag"),
        "batched": lambda: [state_event(i, "Created") for i in ids] * 3,  # each thrice in one
    }
    event = forms[form]()
    named = [i for i in ids if names(event, i)]
    handler = "tag_events" if form == "tag-change" else "instance_events"
    cloud.calls.clear()

    # WHEN it is delivered three times
    runs = [invoke(handler, event) for _ in range(3)]

    # THEN the first delivery writes (one Attach), the others find it done and write nothing
    assert [run.error for run in runs] == [None] * 3
    assert [
        Counter(line["outcome"] for line in run.outcomes if line["instance_id"] in named)
        for run in runs
    ] == [{"attached": len(named)}, {"unchanged": len(named)}, {"unchanged": len(named)}]
    assert len(cloud.calls.role_writes(ok_only=False)) == 1
    assert attached_once(cloud) == dict.fromkeys(named, 1)
    figures["deliveries"] += 3
    assert check_bindings(figures, cloud, dict.fromkeys(named, "Payments"), runs) == {}


# -- out of order ---------------------------------------------------------------------------------


def test_a_tag_change_delivered_before_the_creation_event(
    cloud: FakeCloud,
    client: AcsClient,
    use_mapping,
    invoke: Callable[..., Run],
    figures: Figures,
) -> None:
    # GIVEN an instance created as ram-role=AppReader, then retagged ram-role=Payments, whose
    # events (state change, RunInstances record, tag change, TagResources record) arrive in the
    # reverse order: the tag change first, the creation last
    use_mapping(ROLE_TAG_MAPPING)
    seed_world(cloud, [])
    mark = last_seq(cloud)
    [new] = run_instances(client, 1, READER_TAGS)
    tag(client, [new], {"ram-role": "Payments"})
    emitted = events_since(cloud, mark)
    assert len(emitted) == 4

    # WHEN they are delivered newest first
    runs = [deliver(invoke, event) for event in reversed(emitted)]

    # THEN the first one binds what the tags say now (Payments, never AppReader); the rest
    # change nothing
    assert [run.outcome(new)["outcome"] for run in runs] == ["attached"] + ["unchanged"] * 3
    assert [role for _, role, _ in trail_items(cloud, "AttachInstanceRamRole")] == ["Payments"]
    figures["deliveries"] += len(runs)
    assert check_bindings(figures, cloud, {new: "Payments"}, runs) == {}


def test_running_delivered_before_created(
    cloud: FakeCloud, client: AcsClient, invoke: Callable[..., Run], figures: Figures
) -> None:
    # GIVEN a new instance whose lifecycle events (Created and/or Pending, as the docs differ,
    # then Starting, Running) arrive reversed
    seed_world(cloud, [])
    mark = last_seq(cloud)
    [new] = run_instances(client, 1, PAYMENTS_TAGS)
    cloud.advance(3)
    states = [e for e in events_since(cloud, mark) if e["type"] == "ecs:Instance:StateChange"]
    created = [e["data"]["state"] for e in states][:-2]
    assert [e["data"]["state"] for e in states][-2:] == ["Starting", "Running"]
    assert created in (["Created"], ["Pending"], ["Pending", "Created"])

    runs = [deliver(invoke, event) for event in reversed(states)]

    outcomes = ["attached"] + ["unchanged"] * (len(states) - 1)
    assert [run.outcome(new)["outcome"] for run in runs] == outcomes
    assert attached_once(cloud) == {new: 1}
    figures["deliveries"] += len(runs)
    assert check_bindings(figures, cloud, {new: "Payments"}, runs) == {}


def test_stale_events_in_every_order_follow_the_current_tags(
    cloud: FakeCloud,
    client: AcsClient,
    use_mapping,
    invoke: Callable[..., Run],
    figures: Figures,
) -> None:
    # GIVEN 24 instances created with ram-role=AppReader and bound to it; then retagged
    # AppReader -> Payments -> Reports (replace: each retag asks for a replace)
    roles = [*ROLES, {"name": "Reports"}]
    seed_world(cloud, [], roles=roles)
    use_mapping(ROLE_TAG_MAPPING)
    ids = run_instances(client, 24, READER_TAGS)
    deliver(invoke, trail_events(cloud, "RunInstances")[0])
    mark = last_seq(cloud)
    tag(client, ids, {"ram-role": "Payments"})
    tag(client, ids, {"ram-role": "Reports"})
    cloud.advance(3)  # Starting, Running: late lifecycle events too
    stale = events_since(cloud, mark)

    # WHEN each instance's events (two tag changes, two state changes) arrive in a different
    # order, one of the 24 orders each; then the two TagResources records, last
    per_instance = [[e for e in stale if names(e, i) and "eventName" not in e["data"]] for i in ids]
    assert {len(events) for events in per_instance} == {4}
    orders = itertools.permutations(range(4))
    runs = [
        deliver(invoke, events[n])
        for events, order in zip(per_instance, orders, strict=True)
        for n in order
    ]
    runs += [deliver(invoke, e) for e in stale if "eventName" in e["data"]]

    # THEN every instance has Reports, what its tags say now: AppReader was replaced once, and
    # Payments, which a stale event names, was never attached
    assert {run.error for run in runs} == {None}
    assert Counter(i for i, _, _ in trail_items(cloud, "DetachInstanceRamRole")) == dict.fromkeys(
        ids, 1
    )
    assert succeeded(cloud, "AttachInstanceRamRole") == dict.fromkeys(ids, 2)
    assert {role for _, role, _ in trail_items(cloud, "AttachInstanceRamRole")} == {
        "AppReader",
        "Reports",
    }
    replaced = Counter(
        line["instance_id"]
        for run in runs
        for line in run.outcomes
        if line["outcome"] != "unchanged"
    )
    assert replaced == dict.fromkeys(ids, 1)
    figures["deliveries"] += len(runs) + 1
    assert check_bindings(figures, cloud, dict.fromkeys(ids, "Reports"), runs) == {}


def test_under_keep_the_first_decision_sticks(
    cloud: FakeCloud,
    client: AcsClient,
    use_mapping,
    invoke: Callable[..., Run],
    figures: Figures,
) -> None:
    # A design property, not a bug (docs/RELIABILITY.md): with on_existing_role: keep, the role
    # an instance ends with depends on WHEN its creation event was handled, not only on its tags.
    # GIVEN two instances with the same history: created as AppReader, retagged as Payments
    use_mapping({**ROLE_TAG_MAPPING, "on_existing_role": "keep"})
    seed_world(cloud, [], roles=[*ROLES, {"name": "Reports"}])
    early, late = run_instances(client, 2, READER_TAGS)

    # WHEN one's creation event is handled before the retag, the other's after it
    first = invoke("instance_events", state_event(early, "Created"))
    tag(client, [early, late], {"ram-role": "Payments"})
    second = invoke("instance_events", state_event(late, "Created"))
    retag = [invoke("tag_events", e) for e in events_since(cloud, 0) if e["source"] == "acs.tag"]
    sweep = invoke("reconcile", timer_event())

    # THEN the same tags leave them with different roles, and neither a tag event nor a sweep
    # ever reconciles the first one
    assert first.outcome(early)["outcome"] == "attached"
    assert second.outcome(late)["outcome"] == "attached"
    later = [
        line
        for run in [*retag, sweep]
        for line in run.outcomes
        if line["instance_id"] == early and line["reason"] != "marker-only"  # its own marker
    ]
    assert {line["reason"] for line in later} == {"existing-role-kept"}
    assert len(later) == 2
    expected = {early: "AppReader", late: "Payments"}
    figures["deliveries"] += 3 + len(retag)
    assert check_bindings(figures, cloud, expected, [first, second, *retag, sweep]) == {}


# -- concurrency ----------------------------------------------------------------------------------

FLEET = 200


def fleet(cloud: FakeCloud, swapped: bool) -> tuple[dict[str, str], dict[str, str | None]]:
    """200 instances: even ones payments-tagged, odd ones ram-role=AppReader. Returns each one's
    mapped role, and the role it starts with: none, or (`swapped`) the other one of the two."""
    seed_world(cloud, [])
    ids = [f"i-race{n:06d}" for n in range(FLEET)]
    mapped = {i: "Payments" if n % 2 == 0 else "AppReader" for n, i in enumerate(ids)}
    other = {"Payments": "AppReader", "AppReader": "Payments"}
    start = {i: other[role] if swapped else None for i, role in mapped.items()}
    tags = {"Payments": PAYMENTS_TAGS, "AppReader": READER_TAGS}
    # A swapped instance's role was bound by rolebinder (its marker names it): replace may act.
    marked = {i: {MARKER_KEY: start[i]} if start[i] else {} for i in ids}
    add_fleet(cloud, [(i, {**tags[mapped[i]], **marked[i]}, start[i]) for i in ids])
    return mapped, start


def workload(ids: list[str], worker: int, workers: int) -> list[tuple[str, Any]]:
    """A worker's invocations: a RunInstances record naming 75 instances (each instance is named
    by three workers), then state and tag events for ten of them; the last worker also sweeps."""
    start = worker * FLEET // workers
    share = [ids[(start + n) % FLEET] for n in range(75)]
    jobs: list[tuple[str, Any]] = [("instance_events", trail_record(share, f"evt-race-{worker}"))]
    jobs += [("instance_events", state_event(i, "Running")) for i in share[-10:]]
    jobs += [("tag_events", tag_change_event(i)) for i in share[30:40]]
    if worker == workers - 1:
        jobs.append(("reconcile", timer_event()))
    return jobs


def run_quietly(function: str, event: Any) -> Run:
    """The handler path of one invocation (rolebinder.entrypoints.invocation) with its lines kept
    apart, so
    threads can run it at once as FC runs concurrent invocations in one instance."""
    stream = io.StringIO()
    journal = Journal(stream=stream, function=function, invocation_id=str(uuid.uuid4()))
    runtime = invocation.container_runtime()
    try:
        result = Invocation(runtime, make_context(), function, os.environ, journal).run(event)
        error = None
    except Exception as exc:  # recorded; the test asserts there is none
        result, error = None, exc
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return Run(result, error, lines, "")


def race_threads(ids: list[str], workers: int = 8) -> list[Run]:
    """`workers` threads start together, each running its workload; every run, in no order."""
    invocation.container_runtime()  # one warm container, loaded before the race
    start = threading.Barrier(workers)
    runs: list[Run] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        start.wait()
        for function, event in workload(ids, worker, workers):
            run = run_quietly(function, event)
            with lock:
                runs.append(run)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return runs


def assert_converged_without_flapping(
    cloud: FakeCloud,
    runs: list[Run],
    expected: dict[str, str],
    start: dict[str, str | None],
    figures: Figures,
) -> None:
    """One write per instance (Detach + Attach for a replace), reported by one line; no role
    but the mapped one was ever attached (so none was put back); no failure, no retry."""
    assert [run.error for run in runs if run.error is not None] == []
    assert [line for run in runs for line in run.outcomes if line["outcome"] == "failed"] == []
    replacing = any(start.values())
    ids = list(expected)
    assert succeeded(cloud, "AttachInstanceRamRole") == dict.fromkeys(ids, 1)
    attempted = {(i, role) for i, role, _ in trail_items(cloud, "AttachInstanceRamRole")}
    assert attempted == set(expected.items())
    detached = succeeded(cloud, "DetachInstanceRamRole")
    assert detached == (dict.fromkeys(ids, 1) if replacing else {})
    assert {(i, role) for i, role, _ in trail_items(cloud, "DetachInstanceRamRole")} == {
        (i, role) for i, role in start.items() if role
    }
    # One line reports the write: `replaced`, or `attached` when another invocation read the
    # instance between this replace's Detach and its Attach, and attached first (the replace's
    # own line then says `unchanged`: attached by another invocation first).
    writes = ("attached", "replaced") if replacing else ("attached",)
    reported = Counter(
        line["instance_id"] for run in runs for line in run.outcomes if line["outcome"] in writes
    )
    assert reported == dict.fromkeys(ids, 1)
    for run in runs:
        for line in run.outcomes:
            assert line["outcome"] in (*writes, "unchanged"), line
            assert "restore" not in line.get("detail", ""), line
    figures["deliveries"] += len(runs)
    assert check_bindings(figures, cloud, expected, runs) == {}


@pytest.mark.parametrize("swapped", [False, True], ids=["unbound", "replace"])
def test_eight_threads_on_overlapping_instances_converge_once(
    cloud: FakeCloud, use_mapping, figures: Figures, swapped: bool
) -> None:
    # GIVEN 200 instances, unbound, or each bound to the other role, under on_existing_role:
    # replace
    use_mapping(MAPPING_REPLACE)
    expected, start = fleet(cloud, swapped)

    # WHEN 8 threads (concurrent invocations in one warm container) handle overlapping events
    runs = race_threads(list(expected))

    # THEN each instance got its role with one write (a replace: one Detach and one Attach),
    # reported by one line; every other line is `unchanged`
    assert_converged_without_flapping(cloud, runs, expected, start, figures)


def test_a_replace_beaten_by_another_invocation_puts_no_old_role_back(
    cloud: FakeCloud, use_mapping, invoke: Callable[..., Run], figures: Figures
) -> None:
    # GIVEN a payments instance bound to AppReader (replace), and another invocation that
    # attaches Payments right after our Detach, before our Attach
    use_mapping(MAPPING_REPLACE)
    seed_world(cloud, [vm("i-race00beaten", PAYMENTS_TAGS, role="AppReader", owned=True)])
    instance = cloud.ecs(REGION).instances["i-race00beaten"]

    def other_invocation(event: dict[str, Any]) -> None:
        if event["type"].endswith("ActionTrail:ApiCall") and (
            event["data"]["eventName"] == "DetachInstanceRamRole"
        ):
            instance.role = "Payments"

    cloud.events.subscribe(other_invocation)

    # WHEN our replace runs: its Attach is refused, the instance having Payments already
    run = invoke("instance_events", state_event("i-race00beaten"))

    # THEN the line says Payments was attached by another invocation, and AppReader is not put
    # back (nor tried: an Attach of the old role would undo the winner where it succeeds)
    line = run.outcome("i-race00beaten")
    assert (line["outcome"], line["reason"], line["role"]) == (
        "unchanged",
        "already-bound",
        "Payments",
    )
    assert "restore" not in line["detail"]
    assert [role for _, role, _ in trail_items(cloud, "AttachInstanceRamRole")] == ["Payments"]
    figures["deliveries"] += 1
    assert check_bindings(figures, cloud, {"i-race00beaten": "Payments"}, [run]) == {}


CHILD = """
import json, sys
from rolebinder.local.fc_context import FunctionMeta, LocalContext
from rolebinder.entrypoints.invocation import handle

jobs = json.loads(sys.stdin.readline())
print("ready", flush=True)
sys.stdin.readline()  # go
for function, event in jobs:
    context = LocalContext("cn-hangzhou", function=FunctionMeta(function, timeout=30))
    try:
        handle(event, context, function)
    except Exception as error:
        print(json.dumps({"kind": "raised", "error": repr(error)}), flush=True)
"""


def race_processes(server: FakeCloudServer, ids: list[str], workers: int = 3) -> list[Run]:
    """`workers` processes (separate containers) start together on their workloads."""
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(workers)
    ]
    for worker, child in enumerate(children):
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(workload(ids, worker, workers)) + "\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "ready"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    runs = []
    for child in children:
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        lines = [json.loads(line) for line in out.splitlines()]
        raised = [line for line in lines if line["kind"] == "raised"]
        runs.append(Run(None, RuntimeError(raised) if raised else None, lines, ""))
    return runs


@pytest.mark.parametrize("swapped", [False, True], ids=["unbound", "replace"])
def test_three_processes_on_overlapping_instances_converge_once(
    cloud: FakeCloud, server: FakeCloudServer, use_mapping, figures: Figures, swapped: bool
) -> None:
    # GIVEN the same 200 instances
    use_mapping(MAPPING_REPLACE)
    expected, start = fleet(cloud, swapped)

    # WHEN three processes, each its own container and SDK client, handle overlapping events
    runs = race_processes(server, list(expected))

    # THEN the same: one write each, reported once, nothing undone
    assert_converged_without_flapping(cloud, runs, expected, start, figures)


# -- burst ----------------------------------------------------------------------------------------

BURST = 500
RATE = 50.0  # calls a second, per action
RATE_BURST = 10.0  # tokens in the bucket: the 8 workers' first calls already overflow it
RATE_LIMITED = ("DescribeInstances", "DescribeInstanceRamRole", "GetRole", "AttachInstanceRamRole")


@pytest.mark.slow
def test_a_burst_of_500_launches_under_a_rate_limit_loses_nothing(
    cloud: FakeCloud,
    client: AcsClient,
    handler_env,
    figures: Figures,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the local event bus (template.yml's rules, FC's async retries) subscribed to the
    # fake, and every action the handlers call limited to 50 calls a second (bursts of 10)
    seed_world(cloud, [])
    bus = LocalBus(RULES, REGION, ACCOUNT, workers=8, timeout=60).start()
    late: list[dict[str, Any]] = []

    def publish(event: dict[str, Any]) -> None:
        # The RunInstances records come late (as a delayed ActionTrail delivery would), so each
        # instance's Running state change is its first signal: the burst is 500 invocations.
        if event["type"].endswith(":ActionTrail:ApiCall"):
            late.append(event)
        else:
            bus.publish(event)

    cloud.events.subscribe(publish)
    for action in RATE_LIMITED:
        cloud.faults.rate_limit(action, per_second=RATE, burst=RATE_BURST)

    # WHEN 500 instances are launched at once and start (500 Running events), and the five
    # RunInstances records (100 instances each) arrive after them
    try:
        ids = [
            i
            for n in range(BURST // 100)
            for i in run_instances(client, 100, [PAYMENTS_TAGS, READER_TAGS][n % 2])
        ]
        cloud.advance(3)  # Pending -> Starting -> Running
        assert bus.wait_idle(settle=1.0, timeout=90)
        for event in late:
            bus.publish(event)
        assert bus.wait_idle(settle=0.5, timeout=30)
    finally:
        bus.stop()
    expected = {i: "Payments" if n // 100 % 2 == 0 else "AppReader" for n, i in enumerate(ids)}
    bound = {i.instance_id: i.role for i in cloud.ecs(REGION).instances.values()}
    swept = any(bound[i] != role for i, role in expected.items())
    if swept:  # what FC's retries did not finish, the timer's sweep does
        cloud.faults.clear()
        run_quietly("reconcile", timer_event())

    # THEN nothing was lost: every instance has its role, attached exactly once
    throttled = sum(1 for c in cloud.calls.all() if c.code == "Throttling")
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    print(
        f"burst: {bus.stats.delivered} invocations returned, {bus.stats.retried} raised and were "
        f"retried by FC, {len(bus.stats.dead_letters)} dead letters, {throttled} calls throttled, "
        f"sweep needed: {swept}"
    )
    figures.update(
        faults_injected=throttled,
        deliveries=bus.stats.delivered + bus.stats.retried + swept,
        redeliveries=bus.stats.retried,
        sweeps=int(swept),
    )
    assert throttled > 0, "the rate limit never bit: this case tests nothing"
    assert check_bindings(figures, cloud, expected, lines) == {}
    assert attached_once(cloud) == dict.fromkeys(ids, 1)
    # AND every failure a delivery met was retryable (so FC delivered it again)
    failed = [line for line in lines if line.get("outcome") == "failed"]
    assert all(line["retryable"] for line in failed), failed
