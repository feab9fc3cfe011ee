"""How the engine spends API calls and reports races: merged checks, sweep writes held for full
batches, no visibility wait for tag events, and refused-but-already-done writes.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

from fakecloud import FakeCloud
from functions.reconcile import index as reconcile
from tests.functional.conftest import (
    add_fleet,
    attached_once,
    ecs_state,
    make_context,
    run_instances,
    seed_world,
    state_event,
    timer_event,
    trail_events,
    vm,
)

PAYMENTS_TAGS = {"team": "payments", "env": "prod"}
READER_TAGS = {"ram-role": "AppReader"}


def test_a_sweep_holds_writes_until_a_batch_of_the_same_role_is_full(
    cloud: FakeCloud, invoke
) -> None:
    # GIVEN 1,000 instances whose roles alternate: every page holds both roles
    seed_world(cloud, [])
    specs = [(f"i-mix{n:06d}", PAYMENTS_TAGS if n % 2 else READER_TAGS, None) for n in range(1000)]
    add_fleet(cloud, specs)

    # WHEN the timer fires
    run = invoke("reconcile", timer_event())

    # THEN Attach is called once per role per 100 instances (the lower bound: 10),
    # not once per role per page (20)
    assert run.error is None
    assert cloud.calls.counts()["AttachInstanceRamRole"] == 10
    sizes = Counter(
        len(json.loads(c.params["InstanceIds"]))
        for c in cloud.calls.all()
        if c.action == "AttachInstanceRamRole"
    )
    assert sizes == {100: 10}
    assert Counter(ecs_state(cloud).values()) == {"Payments": 500, "AppReader": 500}
    assert len(run.outcomes) == 1000


def test_events_of_one_delivery_are_checked_together(cloud: FakeCloud, invoke) -> None:
    # GIVEN three events naming the same two instances, delivered as one batch
    seed_world(
        cloud,
        [vm("i-bp1merge00000000001", PAYMENTS_TAGS), vm("i-bp1merge00000000002", READER_TAGS)],
    )
    batch = [
        state_event("i-bp1merge00000000001", "Created", event_id="e1"),
        state_event("i-bp1merge00000000002", "Created", event_id="e2"),
        state_event("i-bp1merge00000000001", "Running", event_id="e3"),
    ]

    # WHEN the batch is handled
    run = invoke("instance_events", batch)

    # THEN one read of each kind, one Attach per role, one outcome per instance (first event)
    assert run.error is None
    counts = cloud.calls.counts()
    assert (counts["DescribeInstances"], counts["DescribeInstanceRamRole"]) == (1, 1)
    assert counts["AttachInstanceRamRole"] == 2
    assert [(o["instance_id"], o["event_id"], o["outcome"]) for o in run.outcomes] == [
        ("i-bp1merge00000000001", "e1", "attached"),
        ("i-bp1merge00000000002", "e2", "attached"),
    ]


def test_a_tag_event_for_an_unknown_instance_does_not_wait(
    cloud: FakeCloud, handler_env, invoke
) -> None:
    # GIVEN a long visibility wait, and a tag event naming an instance that does not exist
    seed_world(cloud, [])
    handler_env.setenv("ROLEBINDER_VISIBILITY_WAIT", "30")
    event = {
        "product": "tag",
        "name": "Tag:ChangeOnResource",
        "regionId": "cn-hangzhou",
        "content": {
            "product": "ecs",
            "resourceType": "instance",
            "resourceId": "i-bp1gone000000000001",
            "changedTagKeys": ["team"],
        },
    }

    # WHEN it is handled
    started = time.monotonic()
    run = invoke("tag_events", event)

    # THEN it is skipped at once (a tagged instance that the API does not show is gone)
    assert time.monotonic() - started < 2.0
    assert run.error is None
    assert (run.outcomes[0]["outcome"], run.outcomes[0]["reason"]) == (
        "skipped",
        "instance-not-found",
    )
    assert cloud.calls.counts() == {"DescribeInstances": 1}


def test_a_write_refused_because_another_invocation_made_it_is_unchanged(
    cloud: FakeCloud, client, invoke
) -> None:
    # GIVEN an instance to attach, and another actor attaching the same role while our
    # Attach is on its way (the fake holds our call back for 0.5 s before running it)
    from aliyunsdkecs.request.v20140526.AttachInstanceRamRoleRequest import (  # noqa: PLC0415
        AttachInstanceRamRoleRequest,
    )

    seed_world(cloud, [vm("i-bp1race00000000001", PAYMENTS_TAGS)])
    cloud.faults.delay("AttachInstanceRamRole", 0.5, times=1)
    other = AttachInstanceRamRoleRequest()
    other.set_RamRoleName("Payments")
    other.set_InstanceIds(json.dumps(["i-bp1race00000000001"]))
    racer = threading.Timer(0.2, lambda: client.do_action_with_exception(other))
    racer.start()

    # WHEN the creation event is handled
    run = invoke("instance_events", state_event("i-bp1race00000000001"))
    racer.join()

    # THEN our refused write is reported as already done by someone else, not as attached
    assert run.error is None
    line = run.outcomes[0]
    assert (line["outcome"], line["reason"], line["role"]) == (
        "unchanged",
        "already-bound",
        "Payments",
    )
    assert attached_once(cloud) == {"i-bp1race00000000001": 1}


def test_racing_sweeps_report_each_attach_once(cloud: FakeCloud, handler_env, capsys) -> None:
    # GIVEN 300 instances to attach and two sweeps at once in one container
    seed_world(cloud, [])
    ids = add_fleet(cloud, [(f"i-twice{n:06d}", PAYMENTS_TAGS, None) for n in range(300)])
    capsys.readouterr()
    start = threading.Barrier(2)

    def sweep() -> None:
        start.wait()
        reconcile.handler(timer_event(), make_context())

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # THEN across both journals each instance is "attached" exactly once
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    attached = Counter(
        line["instance_id"]
        for line in lines
        if line["kind"] == "outcome" and line["outcome"] == "attached"
    )
    assert attached == dict.fromkeys(ids, 1)
    assert attached_once(cloud) == dict.fromkeys(ids, 1)


def test_every_failed_line_says_whether_it_is_retried(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN a mapping whose role does not exist (a failure without an API error code)
    seed_world(cloud, [vm("i-bp1norole0000000001", {"team": "x"})])
    use_mapping(
        {
            "version": 1,
            "roles": ["Missing"],
            "rules": [{"name": "x", "when": {"tags": {"team": "x"}}, "role": "Missing"}],
        }
    )

    run = invoke("instance_events", state_event("i-bp1norole0000000001"))

    line = run.outcomes[0]
    assert (line["outcome"], line["reason"], line["retryable"]) == (
        "failed",
        "role-not-found",
        False,
    )
    assert "error_code" not in line


def test_the_running_echo_of_a_launch_just_bound_costs_no_call(
    cloud: FakeCloud, client, invoke
) -> None:
    # GIVEN a launch of three instances whose RunInstances record has been handled
    seed_world(cloud, [])
    ids = run_instances(client, 3, PAYMENTS_TAGS)
    [record] = trail_events(cloud, "RunInstances")
    first = invoke("instance_events", record)
    assert {o["outcome"] for o in first.outcomes} == {"attached"}
    cloud.calls.clear()

    # WHEN their Running state changes reach the same container
    echo = invoke("instance_events", [state_event(i, "Running") for i in ids])

    # THEN they are answered from what it just settled: no API call at all
    assert cloud.calls.counts() == {}
    assert [(o["outcome"], o["reason"], o["role"]) for o in echo.outcomes] == [
        ("unchanged", "already-bound", "Payments")
    ] * 3
    assert all("settled by this container" in o["detail"] for o in echo.outcomes)


def test_a_tag_change_is_never_answered_from_memory(cloud: FakeCloud, client, invoke) -> None:
    # GIVEN an instance this container has just bound
    seed_world(cloud, [vm("i-bp1tagged0000000001", PAYMENTS_TAGS)])
    invoke("instance_events", state_event("i-bp1tagged0000000001"))
    cloud.calls.clear()

    # WHEN a tag event names it
    tag_event = {
        "product": "tag",
        "name": "Tag:ChangeOnResource",
        "regionId": "cn-hangzhou",
        "content": {
            "product": "ecs",
            "resourceType": "instance",
            "resourceId": "i-bp1tagged0000000001",
            "changedTagKeys": ["env"],
        },
    }
    invoke("tag_events", tag_event)

    # THEN it is read again
    assert cloud.calls.counts()["DescribeInstances"] == 1


def test_the_memory_can_be_turned_off(cloud: FakeCloud, handler_env, invoke) -> None:
    seed_world(cloud, [vm("i-bp1forget0000000001", PAYMENTS_TAGS)])
    handler_env.setenv("ROLEBINDER_SETTLED_SECONDS", "0")
    invoke("instance_events", state_event("i-bp1forget0000000001"), cold=True)
    cloud.calls.clear()
    invoke("instance_events", state_event("i-bp1forget0000000001"))
    assert cloud.calls.counts()["DescribeInstances"] == 1


def test_a_sweep_that_sees_no_instance_says_so(cloud: FakeCloud, invoke) -> None:
    # GIVEN a region without instances (or a role that may not list them: the same answer)
    seed_world(cloud, [])

    run = invoke("reconcile", timer_event())

    assert run.error is None
    [warning] = [line for line in run.lines if line.get("kind") == "warning"]
    assert warning["warning"] == "empty-sweep"
    assert "ecs:DescribeInstances" in warning["message"]
