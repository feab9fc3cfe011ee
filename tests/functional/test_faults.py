"""Faults injected in the fake: retries, lost answers, partial batches, eventual consistency,
deadlines and rollback. The invariant throughout: converge, and never repeat a write blindly.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from aliyunsdkcore.client import AcsClient

from fakecloud import FakeCloud, RealClock
from rolebinder.entrypoints.invocation import RetryLaterError
from rolebinder.intake.events import InstanceCheck
from tests.functional.conftest import (
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
ONE = "i-fault0000001"
MAPPING_REPLACE = {
    "version": 1,
    "roles": ["AppReader", "Payments"],
    "rules": [{"name": "payments-prod", "when": {"tags": PAYMENTS_TAGS}, "role": "Payments"}],
    "on_existing_role": "replace",
}


def wait_for(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    """Poll `condition` until it holds or `seconds` pass; its last value."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def key_fields(line: dict[str, Any]) -> tuple[Any, ...]:
    return (line["outcome"], line["reason"], line["role"], line.get("error_code"))


@pytest.fixture
def one_payments(cloud: FakeCloud) -> FakeCloud:
    return seed_world(cloud, [vm(ONE, PAYMENTS_TAGS)])


# -- retried errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["Throttling", "Throttling.User", "Throttling.Api"])
@pytest.mark.parametrize(
    "action", ["DescribeInstances", "DescribeInstanceRamRole", "AttachInstanceRamRole"]
)
def test_throttling_is_retried_until_it_passes(
    one_payments: FakeCloud, invoke, action: str, code: str
) -> None:
    # GIVEN the action is throttled twice, then served
    cloud = one_payments
    cloud.faults.fail(action, code, times=2)

    # WHEN an event names the instance
    run = invoke("instance_events", state_event(ONE))

    # THEN the instance is attached; the throttled call was sent three times; the write
    # happened exactly once
    assert run.error is None
    assert key_fields(run.outcome(ONE)) == ("attached", "rule-matched", "Payments", None)
    assert [c.code for c in cloud.calls.all() if c.action == action] == [code, code, ""]
    assert attached_once(cloud) == {ONE: 1}
    assert len(cloud.calls.role_writes()) == 1
    assert ecs_state(cloud) == {ONE: "Payments"}


@pytest.mark.parametrize(("code", "status"), [("InternalError", 500), ("ServiceUnavailable", 503)])
@pytest.mark.parametrize("action", ["DescribeInstances", "DescribeInstanceRamRole", "GetRole"])
def test_server_errors_on_reads_are_retried(
    one_payments: FakeCloud, invoke, action: str, code: str, status: int
) -> None:
    cloud = one_payments
    cloud.faults.fail(action, code, times=2)

    run = invoke("instance_events", state_event(ONE))

    assert run.error is None
    assert key_fields(run.outcome(ONE)) == ("attached", "rule-matched", "Payments", None)
    assert [c.status for c in cloud.calls.all() if c.action == action] == [status, status, 200]
    assert attached_once(cloud) == {ONE: 1}


def test_a_server_error_on_attach_is_read_back_not_repeated(
    one_payments: FakeCloud, invoke
) -> None:
    # GIVEN Attach answers 500 once, without having written (the fault fires before the action)
    cloud = one_payments
    cloud.faults.fail("AttachInstanceRamRole", "InternalError", times=1)

    # WHEN the event is handled
    run = invoke("instance_events", state_event(ONE))

    # THEN the write is not repeated: the binding is read back, found absent, and the event is
    # handed back to Function Compute as retryable
    assert isinstance(run.error, RetryLaterError)
    line = run.outcome(ONE)
    assert key_fields(line) == ("failed", "api-error", "Payments", "InternalError")
    assert line["retryable"] is True
    attach = [c for c in cloud.calls.all() if c.action == "AttachInstanceRamRole"]
    assert [c.status for c in attach] == [500]
    assert line["request_id"] == attach[0].request_id
    assert cloud.calls.actions()[-1] == "DescribeInstanceRamRole"  # the read-back

    # AND the redelivery completes the job with one write
    again = invoke("instance_events", state_event(ONE))
    assert again.error is None
    assert again.outcome(ONE)["outcome"] == "attached"
    assert attached_once(cloud) == {ONE: 1}


# -- lost answers -----------------------------------------------------------------------------


def test_an_attach_whose_answer_is_lost_is_confirmed_by_reading_back(
    one_payments: FakeCloud, invoke
) -> None:
    # GIVEN Attach runs, then the connection drops before the answer
    cloud = one_payments
    cloud.faults.drop("AttachInstanceRamRole", after=True)

    # WHEN the event is handled
    run = invoke("instance_events", state_event(ONE))

    # THEN it is attached: one Attach was sent (and the fake applied it once), and the outcome
    # comes from reading the binding back, not from a second Attach
    assert run.error is None
    assert key_fields(run.outcome(ONE)) == ("attached", "rule-matched", "Payments", None)
    assert cloud.calls.count("AttachInstanceRamRole") == 1
    assert attached_once(cloud) == {ONE: 1}
    assert cloud.calls.actions()[-2:] == ["AttachInstanceRamRole", "DescribeInstanceRamRole"]
    assert ecs_state(cloud) == {ONE: "Payments"}


def test_an_attach_answer_later_than_the_client_timeout_is_confirmed_by_reading_back(
    one_payments: FakeCloud, handler_env, invoke
) -> None:
    # GIVEN a one-second call timeout, and an Attach that writes, then answers 1.5 s later
    cloud = one_payments
    handler_env.setenv("ROLEBINDER_API_TIMEOUT", "1")
    cloud.faults.delay("AttachInstanceRamRole", 1.5, times=1, after=True)

    run = invoke("instance_events", state_event(ONE))

    # THEN the read-back confirms the write; Attach was applied once and never sent again
    assert run.error is None
    assert key_fields(run.outcome(ONE)) == ("attached", "rule-matched", "Payments", None)
    assert attached_once(cloud) == {ONE: 1}
    assert ecs_state(cloud) == {ONE: "Payments"}
    # The fake logs a call when it answers, which for the late one is after the handler ends.
    assert wait_for(lambda: cloud.calls.count("AttachInstanceRamRole") == 1)
    assert cloud.calls.count("AttachInstanceRamRole") == 1


def test_a_dropped_attach_that_did_not_write_is_retryable(one_payments: FakeCloud, invoke) -> None:
    # GIVEN the connection drops before Attach runs
    cloud = one_payments
    cloud.faults.drop("AttachInstanceRamRole", after=False)

    run = invoke("instance_events", state_event(ONE))

    # THEN the read-back finds no role: failed, retryable, and the event goes back to FC
    assert isinstance(run.error, RetryLaterError)
    line = run.outcome(ONE)
    assert key_fields(line) == ("failed", "api-error", "Payments", "SDK.HttpError")
    assert line["retryable"] is True
    assert attached_once(cloud) == {}
    assert ecs_state(cloud) == {ONE: None}


# -- partial batches --------------------------------------------------------------------------

BATCH = [f"i-part000000{n}" for n in range(4)]


def batch_record(ids: list[str]) -> dict[str, Any]:
    """An ActionTrail RunInstances record naming `ids`."""
    return {
        "eventId": "evt-partial-batch",
        "eventVersion": "1",
        "eventType": "ApiCall",
        "eventName": "RunInstances",
        "acsRegion": "cn-hangzhou",
        "recipientAccountId": "1234567890123456",
        "requestParameters": {"RegionId": "cn-hangzhou", "Amount": str(len(ids))},
        "responseElements": {"InstanceIdSets": {"InstanceIdSet": ids}},
    }


def test_a_permanent_per_instance_failure_fails_only_that_instance(
    cloud: FakeCloud, invoke
) -> None:
    # GIVEN four instances attached in one batch, of which the fake refuses two
    seed_world(cloud, [vm(i, PAYMENTS_TAGS) for i in BATCH])
    refused = BATCH[1:3]
    cloud.faults.fail_instances("AttachInstanceRamRole", refused, "Forbidden.RiskControl")

    # WHEN the event is handled
    run = invoke("instance_events", batch_record(BATCH))

    # THEN the others are attached; the two fail with the code and the Attach's request id;
    # the failure is permanent, so the handler returns normally
    assert run.error is None
    lines = run.by_instance()
    attach = [c for c in cloud.calls.all() if c.action == "AttachInstanceRamRole"]
    assert len(attach) == 1
    for instance in BATCH:
        line = lines[instance]
        if instance in refused:
            assert key_fields(line) == ("failed", "api-error", "Payments", "Forbidden.RiskControl")
            assert (line["retryable"], line["request_id"]) == (False, attach[0].request_id)
        else:
            assert key_fields(line) == ("attached", "rule-matched", "Payments", None)
    assert run.summary["outcomes"] == {"attached": 2, "failed": 2}
    assert run.summary["retryable_failures"] == 0
    assert ecs_state(cloud) == {i: (None if i in refused else "Payments") for i in BATCH}


def test_a_transient_per_instance_failure_is_finished_by_the_redelivery(
    cloud: FakeCloud, invoke
) -> None:
    # GIVEN a batch in which the fake throttles one instance's item
    seed_world(cloud, [vm(i, PAYMENTS_TAGS) for i in BATCH])
    cloud.faults.fail_instances("AttachInstanceRamRole", [BATCH[2]], "Throttling")

    # WHEN the event is handled
    first = invoke("instance_events", batch_record(BATCH))

    # THEN the others are attached, that one is failed and retryable, and the handler raises
    # so Function Compute delivers the event again
    assert isinstance(first.error, RetryLaterError)
    line = first.outcome(BATCH[2])
    assert key_fields(line) == ("failed", "api-error", "Payments", "Throttling")
    assert line["retryable"] is True
    assert first.summary["retryable_failures"] == 1

    # WHEN Function Compute delivers the same event again
    cloud.calls.clear()
    second = invoke("instance_events", batch_record(BATCH))

    # THEN it finishes the job: one Attach, for that instance alone; nobody was attached twice
    assert second.error is None
    assert {i: line["outcome"] for i, line in second.by_instance().items()} == {
        BATCH[0]: "unchanged",
        BATCH[1]: "unchanged",
        BATCH[2]: "attached",
        BATCH[3]: "unchanged",
    }
    assert [json.loads(c.params["InstanceIds"]) for c in cloud.calls.role_writes()] == [[BATCH[2]]]
    assert attached_once(cloud) == dict.fromkeys(BATCH, 1)


# -- eventual consistency ---------------------------------------------------------------------


def test_an_instance_invisible_for_a_few_calls_is_waited_for(
    cloud: FakeCloud, client: AcsClient, handler_env, invoke
) -> None:
    # GIVEN a new instance the API does not show for its first two lookups
    seed_world(cloud, [])
    handler_env.setenv("ROLEBINDER_VISIBILITY_WAIT", "5")
    cloud.faults.invisible_after_create(calls=2)
    [new] = run_instances(client, 1, PAYMENTS_TAGS)
    [record] = trail_events(cloud, "RunInstances")
    cloud.calls.clear()

    # WHEN its RunInstances record arrives at once
    run = invoke("instance_events", record)

    # THEN the handler looks again until it shows, and attaches it
    assert run.error is None
    assert key_fields(run.outcome(new)) == ("attached", "rule-matched", "Payments", None)
    assert cloud.calls.count("DescribeInstances") == 3
    assert ecs_state(cloud) == {new: "Payments"}


@pytest.mark.parametrize("clock", [RealClock()], ids=["real-clock"])
def test_an_instance_invisible_for_a_moment_is_waited_for(
    cloud: FakeCloud, client: AcsClient, handler_env, invoke
) -> None:
    # GIVEN (on real time) a new instance the API shows only 0.5 s after RunInstances
    seed_world(cloud, [])
    handler_env.setenv("ROLEBINDER_VISIBILITY_WAIT", "5")
    cloud.faults.invisible_after_create(seconds=0.5)
    [new] = run_instances(client, 1, PAYMENTS_TAGS)
    [record] = trail_events(cloud, "RunInstances")
    cloud.calls.clear()

    run = invoke("instance_events", record)

    assert run.error is None
    assert key_fields(run.outcome(new)) == ("attached", "rule-matched", "Payments", None)
    assert cloud.calls.count("DescribeInstances") >= 2
    assert ecs_state(cloud) == {new: "Payments"}


def test_a_new_instance_still_invisible_after_the_wait_is_retried_by_fc(
    cloud: FakeCloud, client: AcsClient, handler_env, invoke
) -> None:
    # GIVEN a new instance invisible for an hour, and ROLEBINDER_VISIBILITY_WAIT=0.5
    seed_world(cloud, [])
    handler_env.setenv("ROLEBINDER_VISIBILITY_WAIT", "0.5")
    cloud.faults.invisible_after_create(seconds=3600)
    [new] = run_instances(client, 1, PAYMENTS_TAGS)
    [record] = trail_events(cloud, "RunInstances")
    cloud.calls.clear()

    started = time.monotonic()
    run = invoke("instance_events", record)
    elapsed = time.monotonic() - started

    # THEN it gives up within the wait: failed and retryable (a new instance may still appear,
    # so FC should deliver the event again), nothing asked of RAM or written
    assert isinstance(run.error, RetryLaterError)
    line = run.outcome(new)
    assert (line["outcome"], line["reason"], line["retryable"]) == (
        "failed",
        "instance-not-found",
        True,
    )
    assert elapsed < 2.0
    assert set(cloud.calls.counts()) == {"DescribeInstances"}
    assert ecs_state(cloud) == {new: None}


# -- deadlines --------------------------------------------------------------------------------


def test_a_persistent_transient_error_ends_at_the_deadline_as_retryable(
    one_payments: FakeCloud, invoke
) -> None:
    # GIVEN DescribeInstances answers 503 forever, and a function timeout of 2 s
    cloud = one_payments
    cloud.faults.fail("DescribeInstances", "ServiceUnavailable", times=None)

    # WHEN the event is handled
    started = time.monotonic()
    run = invoke("instance_events", state_event(ONE), make_context(timeout=2))
    elapsed = time.monotonic() - started

    # THEN the handler gives up before the function timeout, logs the instance as failed and
    # retryable, and raises so the event is delivered again
    assert isinstance(run.error, RetryLaterError)
    assert elapsed < 2.0
    line = run.outcome(ONE)
    assert key_fields(line) == ("failed", "api-error", None, "ServiceUnavailable")
    assert line["retryable"] is True
    assert line["request_id"] == cloud.calls.all()[-1].request_id
    assert run.summary["retryable_failures"] == 1
    assert cloud.calls.count("DescribeInstances") >= 2
    assert set(cloud.calls.counts()) == {"DescribeInstances"}


def test_a_sweep_that_cannot_list_instances_is_retryable(seeded: FakeCloud, invoke) -> None:
    # GIVEN DescribeInstances answers 503 forever
    seeded.faults.fail("DescribeInstances", "ServiceUnavailable", times=None)

    # WHEN the timer fires with a 2 s function timeout
    run = invoke("reconcile", timer_event(["cn-hangzhou"]), make_context(timeout=2))

    # THEN the region's failure is logged as one retryable line, with a summary, and the
    # handler raises RetryLaterError
    assert isinstance(run.error, RetryLaterError)
    [line] = run.outcomes
    assert (line["outcome"], line["region"], line["instance_id"]) == (
        "failed",
        "cn-hangzhou",
        None,
    )
    assert (line["error_code"], line["retryable"]) == ("ServiceUnavailable", True)
    assert run.summary["retryable_failures"] == 1
    assert seeded.calls.writes() == []


# -- rollback ---------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 150])
def test_a_replace_whose_attach_is_refused_restores_the_previous_role(
    cloud: FakeCloud, handler_env, use_mapping, invoke, count: int
) -> None:
    # GIVEN payments instances bound to AppReader, on_existing_role: replace, and credentials
    # that may pass AppReader but not Payments
    ids = [f"i-rollback{n:04d}" for n in range(count)]
    seed_world(cloud, [vm(i, PAYMENTS_TAGS, role="AppReader", owned=True) for i in ids])
    use_mapping(MAPPING_REPLACE)
    cloud.add_key("LTAIrestrictedKey01", "restricted-secret", passable_roles=["AppReader"])
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIrestrictedKey01")
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "restricted-secret")

    # WHEN the sweep runs
    run = invoke("reconcile", timer_event())

    # THEN each instance fails with the permission error, and its previous role is back
    assert run.error is None  # permission-denied is permanent
    lines = run.by_instance()
    assert sorted(lines) == sorted(ids)
    for line in lines.values():
        assert key_fields(line) == (
            "failed",
            "permission-denied",
            "Payments",
            "InvalidUser.PassRoleForbidden",
        )
        assert line["previous_role"] == "AppReader"
        assert "previous role AppReader restored" in line["detail"]
    assert ecs_state(cloud) == dict.fromkeys(ids, "AppReader")
    # AND the calls were: detach AppReader, attach Payments (refused), attach AppReader again
    writes = cloud.calls.role_writes(ok_only=False)
    assert all(len(json.loads(c.params["InstanceIds"])) <= 100 for c in writes)
    assert Counter((c.action, c.params["RamRoleName"], c.ok) for c in writes) == Counter(
        {
            ("DetachInstanceRamRole", "AppReader", True): -(-count // 100),
            ("AttachInstanceRamRole", "Payments", False): -(-count // 100),
            ("AttachInstanceRamRole", "AppReader", True): -(-count // 100),
        }
    )


def test_rollback_of_more_than_100_instances_is_batched(
    cloud: FakeCloud, handler_env, use_mapping, engine_for
) -> None:
    # GIVEN 150 AppReader instances that one check asks to move to Payments, with credentials
    # that may not pass Payments
    ids = tuple(f"i-rollback{n:04d}" for n in range(150))
    seed_world(cloud, [vm(i, PAYMENTS_TAGS, role="AppReader", owned=True) for i in ids])
    use_mapping(MAPPING_REPLACE)
    cloud.add_key("LTAIrestrictedKey01", "restricted-secret", passable_roles=["AppReader"])
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIrestrictedKey01")
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "restricted-secret")

    # WHEN the engine settles them in one go
    check = InstanceCheck(ids, "cn-hangzhou", None, "evt-150", "api-call", "RunInstances")
    outcomes = engine_for().check(check, "cn-hangzhou")

    # THEN every instance has AppReader back, restored in Attach calls of at most 100
    assert {o.outcome for o in outcomes} == {"failed"}
    assert all("previous role AppReader restored" in o.detail for o in outcomes)
    assert ecs_state(cloud) == dict.fromkeys(ids, "AppReader")
    restores = [
        json.loads(c.params["InstanceIds"])
        for c in cloud.calls.all()
        if c.action == "AttachInstanceRamRole" and c.params["RamRoleName"] == "AppReader"
    ]
    assert sorted(len(batch) for batch in restores) == [50, 100]


# -- more read faults, role checks, call-level refusals -------------------------------------------


@pytest.mark.parametrize("action", ["DescribeInstances", "DescribeInstanceRamRole", "GetRole"])
def test_a_read_whose_connection_drops_is_retried(
    one_payments: FakeCloud, invoke, action: str
) -> None:
    cloud = one_payments
    cloud.faults.drop(action, times=1)

    run = invoke("instance_events", state_event(ONE))

    assert run.error is None
    assert key_fields(run.outcome(ONE)) == ("attached", "rule-matched", "Payments", None)
    assert [c.code for c in cloud.calls.all() if c.action == action] == ["ConnectionDropped", ""]
    assert attached_once(cloud) == {ONE: 1}


def test_a_read_slower_than_the_call_timeout_is_retried(
    one_payments: FakeCloud, handler_env, invoke
) -> None:
    # GIVEN a one-second call timeout and one DescribeInstances that takes 1.5 s
    cloud = one_payments
    handler_env.setenv("ROLEBINDER_API_TIMEOUT", "1")
    cloud.faults.delay("DescribeInstances", 1.5, times=1)

    run = invoke("instance_events", state_event(ONE))

    # THEN the client gives up on it and asks again
    assert run.error is None
    assert key_fields(run.outcome(ONE)) == ("attached", "rule-matched", "Payments", None)
    assert wait_for(lambda: cloud.calls.count("DescribeInstances") == 2)
    assert ecs_state(cloud) == {ONE: "Payments"}


def test_a_role_check_that_keeps_failing_is_retryable(one_payments: FakeCloud, invoke) -> None:
    # GIVEN GetRole answers 503 until the deadline
    cloud = one_payments
    cloud.faults.fail("GetRole", "ServiceUnavailable", times=None)

    run = invoke("instance_events", state_event(ONE), make_context(timeout=2))

    # THEN nothing is attached on an unchecked role; the line is failed and retryable
    assert isinstance(run.error, RetryLaterError)
    line = run.outcome(ONE)
    assert key_fields(line) == ("failed", "api-error", "Payments", "ServiceUnavailable")
    assert line["retryable"] is True
    assert cloud.calls.count("AttachInstanceRamRole") == 0


def test_a_role_check_refused_by_ram_is_permission_denied(
    one_payments: FakeCloud, handler_env, invoke
) -> None:
    # GIVEN credentials that may call ECS but not ram:GetRole
    cloud = one_payments
    cloud.add_key(
        "LTAIecsOnlyKey00001",
        "ecs-only-secret",
        allowed_actions=[
            "ecs:DescribeInstances",
            "ecs:DescribeInstanceRamRole",
            "ecs:AttachInstanceRamRole",
        ],
    )
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIecsOnlyKey00001")
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ecs-only-secret")

    run = invoke("instance_events", state_event(ONE))

    assert run.error is None
    line = run.outcome(ONE)
    assert key_fields(line) == ("failed", "permission-denied", "Payments", "NoPermission")
    assert line["retryable"] is False
    assert line["request_id"] == next(
        c.request_id for c in cloud.calls.all() if c.action == "GetRole"
    )
    assert cloud.calls.count("AttachInstanceRamRole") == 0


def test_an_attach_refused_for_the_whole_call_fails_every_instance_once(
    cloud: FakeCloud, handler_env, invoke
) -> None:
    # GIVEN four instances and credentials that may not pass Payments
    seed_world(cloud, [vm(i, PAYMENTS_TAGS) for i in BATCH])
    cloud.add_key("LTAInoPassRole00001", "no-pass-secret", passable_roles=[])
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAInoPassRole00001")
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "no-pass-secret")

    run = invoke("instance_events", batch_record(BATCH))

    # THEN one Attach, refused; each instance fails with the code (no read-back is needed:
    # the refusal concerns the role, not the instances)
    assert run.error is None
    for line in run.outcomes:
        assert key_fields(line) == (
            "failed",
            "permission-denied",
            "Payments",
            "InvalidUser.PassRoleForbidden",
        )
    assert [c.action for c in cloud.calls.all()] == [
        "DescribeInstances",
        "DescribeInstanceRamRole",
        "GetRole",
        "TagResources",  # the ownership marker comes first
        "AttachInstanceRamRole",
    ]
    assert set(ecs_state(cloud).values()) == {None}


def test_the_visibility_wait_never_outlasts_the_function(
    cloud: FakeCloud, client: AcsClient, handler_env, invoke
) -> None:
    # GIVEN a generous ROLEBINDER_VISIBILITY_WAIT but a 2 s function timeout, and an instance
    # that stays invisible
    seed_world(cloud, [])
    handler_env.setenv("ROLEBINDER_VISIBILITY_WAIT", "30")
    cloud.faults.invisible_after_create(seconds=3600)
    [new] = run_instances(client, 1, PAYMENTS_TAGS)
    [record] = trail_events(cloud, "RunInstances")

    started = time.monotonic()
    run = invoke("instance_events", record, make_context(timeout=2))

    # THEN the wait ends with the invocation's budget
    assert time.monotonic() - started < 2.0
    assert run.outcome(new)["reason"] == "instance-not-found"


# -- detach and replace under faults --------------------------------------------------------------


@pytest.fixture
def one_to_replace(cloud: FakeCloud, use_mapping) -> FakeCloud:
    """ONE is a payments instance bound to AppReader, under on_existing_role: replace."""
    use_mapping(MAPPING_REPLACE)
    return seed_world(cloud, [vm(ONE, PAYMENTS_TAGS, role="AppReader", owned=True)])


def test_a_replace_whose_detach_answer_is_lost_goes_on(one_to_replace: FakeCloud, invoke) -> None:
    cloud = one_to_replace
    cloud.faults.drop("DetachInstanceRamRole", after=True)

    run = invoke("instance_events", state_event(ONE))

    # THEN the read-back shows AppReader gone, so Payments is attached: no second Detach
    assert run.error is None
    assert key_fields(run.outcome(ONE)) == ("replaced", "rule-matched", "Payments", None)
    assert [c.action for c in cloud.calls.all() if c.action.endswith("RamRole")] == [
        "DescribeInstanceRamRole",
        "DetachInstanceRamRole",
        "DescribeInstanceRamRole",
        "AttachInstanceRamRole",
    ]
    assert ecs_state(cloud) == {ONE: "Payments"}


def test_a_replace_whose_attach_is_throttled_rolls_back_and_is_redelivered(
    one_to_replace: FakeCloud, invoke
) -> None:
    # GIVEN the new role's Attach throttles the instance's item once
    cloud = one_to_replace
    cloud.faults.fail_instances("AttachInstanceRamRole", [ONE], "Throttling")

    first = invoke("instance_events", state_event(ONE))

    # THEN AppReader is put back, the line says so, and the event is handed back to FC
    assert isinstance(first.error, RetryLaterError)
    line = first.outcome(ONE)
    assert key_fields(line) == ("failed", "api-error", "Payments", "Throttling")
    assert (line["previous_role"], line["retryable"]) == ("AppReader", True)
    assert "previous role AppReader restored" in line["detail"]
    assert ecs_state(cloud) == {ONE: "AppReader"}

    # AND the redelivery replaces it
    second = invoke("instance_events", state_event(ONE))
    assert second.error is None
    assert second.outcome(ONE)["outcome"] == "replaced"
    assert ecs_state(cloud) == {ONE: "Payments"}


def test_a_detach_refused_with_a_server_error_is_retryable(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN an instance to detach (no rule matches, on_no_match: detach) and a Detach that
    # answers 500 without running
    use_mapping({**MAPPING_REPLACE, "on_no_match": "detach"})
    seed_world(cloud, [vm(ONE, {"team": "search"}, role="AppReader", owned=True)])
    cloud.faults.fail("DetachInstanceRamRole", "InternalError", times=1)

    first = invoke("instance_events", state_event(ONE))

    # THEN the read-back finds AppReader still there: failed, retryable; not sent twice
    assert isinstance(first.error, RetryLaterError)
    line = first.outcome(ONE)
    assert (line["outcome"], line["error_code"], line["retryable"]) == (
        "failed",
        "InternalError",
        True,
    )
    assert cloud.calls.count("DetachInstanceRamRole") == 1
    assert ecs_state(cloud) == {ONE: "AppReader"}

    second = invoke("instance_events", state_event(ONE))
    assert second.outcome(ONE)["outcome"] == "detached"
    assert ecs_state(cloud) == {ONE: None}
