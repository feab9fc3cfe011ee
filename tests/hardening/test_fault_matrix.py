"""The fault matrix: every fault kind the fake can inject x every action it can hit x three
deliveries (one new instance's creation event; a RunInstances record of 30 instances and two
roles; the timer's sweep over the same 30).

Each case follows what Function Compute and the timer would do: deliver the event; if the
handler raised RetryLaterError, deliver it once more after the faults have passed (FC's retry
delay); if the fleet has still not converged, run one sweep. Whatever the fault:
- every instance ends bound to its mapped role, attached exactly once (ActionTrail), never
  detached;
- nothing is swallowed: an instance a delivery left unbound has a `failed` line, and the
  handler raises exactly when a failure is retryable;
- a malformed answer from a read is a failed line with error_code MalformedResponse whose
  detail names the field; a malformed answer to a write is settled by reading the binding back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aliyunsdkcore.client import AcsClient

from fakecloud import FakeCloud
from fakecloud.faults import FaultPlan
from rolebinder.entrypoints.invocation import RetryLaterError
from tests.functional.conftest import (
    attached_once,
    run_instances,
    seed_world,
    state_event,
    timer_event,
    vm,
)
from tests.hardening.conftest import (
    FC_RETRY_DELAY,
    Figures,
    Run,
    assert_nothing_swallowed,
    check_bindings,
    tag_change_event,
    wait_for,
)

PAYMENTS_TAGS = {"team": "payments", "env": "prod"}
READER_TAGS = {"ram-role": "AppReader"}
DESCRIBE, ROLES, ATTACH, GET_ROLE = (
    "DescribeInstances",
    "DescribeInstanceRamRole",
    "AttachInstanceRamRole",
    "GetRole",
)
ACTIONS = (DESCRIBE, ROLES, GET_ROLE, ATTACH)
ATTACH_RESULTS = "AttachInstanceRamRoleResults.AttachInstanceRamRoleResult"
# Latency past the client timeout: ROLEBINDER_API_TIMEOUT=1 and an answer 1.5 s late.
API_TIMEOUT, LATE = "1", 1.5

Inject = Callable[[FakeCloud, list[str]], None]


@dataclass(frozen=True)
class Fault:
    """One fault kind aimed at one action, and what the first delivery must make of it."""

    name: str
    action: str
    inject: Inject
    raises: bool  # the first delivery hands the event back to FC (RetryLaterError)
    needs_sweep: bool = False  # a permanent failure: only the timer's sweep finishes the job
    early: bool = False  # injected before the instances exist (eventual consistency)
    malformed: str | None = None  # the field a MalformedResponse line's detail must name
    env: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.name}-{self.action}"


def _fail(code: str, status: int | None, times: int) -> Callable[[str], Inject]:
    return lambda action: lambda cloud, _: cloud.faults.fail(action, code, status, times=times)


def _delay(after: bool) -> Callable[[str], Inject]:
    return lambda action: lambda cloud, _: cloud.faults.delay(action, LATE, times=1, after=after)


def _drop(after: bool) -> Callable[[str], Inject]:
    return lambda action: lambda cloud, _: cloud.faults.drop(action, times=1, after=after)


def _corrupted(action: str, kind: str, path: str | None = None) -> Inject:
    def inject(cloud: FakeCloud, _: list[str]) -> None:
        # Role-less instances listed with an empty name give the item fields something to hit.
        cloud.list_roleless = action == ROLES
        cloud.faults.corrupt(action, kind, path, times=1)

    return inject


def _items(code: str) -> Inject:
    def inject(cloud: FakeCloud, ids: list[str]) -> None:
        # At most three instances, all of the first batch (one role): the rule is used once.
        cloud.faults.fail_instances(ATTACH, ids[:3], code, times=1)

    return inject


def _invisible(seconds: float = 0.0, calls: int = 0) -> Inject:
    return lambda cloud, _: cloud.faults.invisible_after_create(seconds=seconds, calls=calls)


def _per_action() -> list[Fault]:
    """Faults that every action can meet, with what a read and a write make of them."""
    kinds: list[tuple[str, Callable[[str], Inject], bool, dict[str, str]]] = [
        ("Throttling-burst", _fail("Throttling", None, 3), False, {}),
        ("Throttling.User-burst", _fail("Throttling.User", None, 3), False, {}),
        ("Throttling.Api-burst", _fail("Throttling.Api", None, 3), False, {}),
        ("InternalError-500", _fail("InternalError", 500, 2), True, {}),
        ("ServiceUnavailable-503", _fail("ServiceUnavailable", 503, 2), True, {}),
        ("late-before-write", _delay(after=False), True, {"ROLEBINDER_API_TIMEOUT": API_TIMEOUT}),
        ("late-after-write", _delay(after=True), False, {"ROLEBINDER_API_TIMEOUT": API_TIMEOUT}),
        ("dropped-before-write", _drop(after=False), True, {}),
        ("dropped-after-write", _drop(after=True), False, {}),
    ]
    faults = []
    for name, make, write_raises, env in kinds:
        for action in ACTIONS:
            # Reads are retried inside the invocation; a write is never repeated blindly: the
            # binding is read back, and a write that did not happen goes back to FC.
            raises = write_raises if action == ATTACH else False
            faults.append(Fault(name, action, make(action), raises, env=env))
    return faults


def _malformed() -> list[Fault]:
    faults = []
    for action in ACTIONS:
        for kind in ("not-json", "empty", "not-object"):
            # A body that is not a JSON object is retried like a 5xx (reads) or read back
            # (writes).
            faults.append(Fault(f"malformed-{kind}", action, _corrupted(action, kind), False))
    fields = [
        (DESCRIBE, "missing", "Instances.Instance.*.InstanceId"),
        (DESCRIBE, "wrong-type", "Instances.Instance.*.InstanceId"),
        (DESCRIBE, "missing", "Instances.Instance.*.InstanceNetworkType"),
        (DESCRIBE, "wrong-type", "Instances.Instance.*.Tags"),
        (DESCRIBE, "missing", "Instances.Instance"),
        (ROLES, "missing", "InstanceRamRoleSets.InstanceRamRoleSet.*.InstanceId"),
        (ROLES, "missing", "InstanceRamRoleSets.InstanceRamRoleSet.*.RamRoleName"),
        (ROLES, "wrong-type", "InstanceRamRoleSets.InstanceRamRoleSet.*.RamRoleName"),
        (ROLES, "missing", "InstanceRamRoleSets"),
        (GET_ROLE, "missing", "Role.RoleName"),
        (GET_ROLE, "missing", "Role.AssumeRolePolicyDocument"),
        (GET_ROLE, "wrong-type", "Role.AssumeRolePolicyDocument"),
        (ATTACH, "missing", "AttachInstanceRamRoleResults"),
        (ATTACH, "missing", f"{ATTACH_RESULTS}.*.InstanceId"),
        (ATTACH, "wrong-type", f"{ATTACH_RESULTS}.*.Success"),
    ]
    for action, kind, path in fields:
        name = f"malformed-{kind}-{path.replace('.*', '').rsplit('.', 1)[-1]}"
        if action == ATTACH:  # the write happened: reading the binding back confirms it
            faults.append(Fault(name, action, _corrupted(action, kind, path), False))
        else:
            hint = path.replace(".*", "").rsplit(".", 1)[-1]
            fault = Fault(name, action, _corrupted(action, kind, path), True, malformed=hint)
            faults.append(fault)
    return faults


def _eventual_consistency() -> list[Fault]:
    wait = {"ROLEBINDER_VISIBILITY_WAIT": "0.5"}
    return [
        Fault("invisible-2-calls", DESCRIBE, _invisible(calls=2), False, early=True),
        # Longer than the visibility wait: FC's retry, a minute later, finds it.
        Fault("invisible-30-s", DESCRIBE, _invisible(seconds=30), True, early=True, env=wait),
    ]


def _batch_items() -> list[Fault]:
    return [
        Fault("item-Throttling", ATTACH, _items("Throttling"), True),
        Fault("item-InternalError", ATTACH, _items("InternalError"), True),
        Fault("item-Forbidden.RiskControl", ATTACH, _items("Forbidden.RiskControl"), False, True),
        Fault("item-InvalidParameter", ATTACH, _items("InvalidParameter"), False, True),
    ]


FAULTS = [*_per_action(), *_malformed(), *_eventual_consistency(), *_batch_items()]


# -- deliveries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What the campaign delivers: the handler, the event, and every instance's mapped role."""

    handler: str
    event: Any
    expected: dict[str, str | None]


def one_new_instance(client: AcsClient) -> Delivery:
    [new] = run_instances(client, 1, PAYMENTS_TAGS)
    return Delivery("instance_events", state_event(new, "Created"), {new: "Payments"})


def run_instances_record(client: AcsClient) -> Delivery:
    payments = run_instances(client, 15, PAYMENTS_TAGS)
    readers = run_instances(client, 15, READER_TAGS)
    ids = payments + readers
    record = {
        "eventId": "evt-matrix-runinstances",
        "eventVersion": "1",
        "eventType": "ApiCall",
        "eventName": "RunInstances",
        "acsRegion": "cn-hangzhou",
        "recipientAccountId": "1234567890123456",
        "requestParameters": {"RegionId": "cn-hangzhou", "Amount": str(len(ids))},
        "responseElements": {"InstanceIdSets": {"InstanceIdSet": ids}},
    }
    expected = {**dict.fromkeys(payments, "Payments"), **dict.fromkeys(readers, "AppReader")}
    return Delivery("instance_events", record, expected)


def sweep_of_30(client: AcsClient) -> Delivery:
    """The timer's sweep over the same 30 instances (no event names them)."""
    return Delivery("reconcile", timer_event(), run_instances_record(client).expected)


DELIVERIES = {
    "one": one_new_instance,
    "runinstances-30": run_instances_record,
    "sweep-30": sweep_of_30,
}
# A sweep does not wait for instances the API does not show yet (no event announced them; the
# next sweep binds them): eventual consistency is a matter for the creation events.
CASES = [
    pytest.param(fault, shape, id=f"{fault.id}-{shape}")
    for fault in FAULTS
    for shape in DELIVERIES
    if not (fault.early and shape.startswith("sweep"))
]


# -- the campaign ---------------------------------------------------------------------------------


def pending(plan: FaultPlan) -> int:
    """Fault uses still to come: each is one call answered badly or one failed batch item."""
    rules = sum(rule.times or 0 for rule in plan.rules)
    items = sum((failure.times or 0) * len(failure.instance_ids) for failure in plan.item_failures)
    return rules + items


def settle(cloud: FakeCloud, fault: Fault) -> None:
    """Wait for a late call to land (FC's retry comes much later than 1.5 s)."""
    if fault.name.startswith("late-"):
        assert wait_for(
            lambda: any(
                c.action == fault.action and c.duration_ms >= LATE * 1000 * 0.9
                for c in cloud.calls.all()
            )
        )


def campaign(
    invoke: Callable[..., Run], cloud: FakeCloud, fault: Fault, delivery: Delivery
) -> tuple[list[tuple[str, Run]], int]:
    """Deliver, redeliver if the handler raised, sweep if still not converged.
    Returns the steps taken and the number of faults injected."""
    budget = pending(cloud.faults)
    first = invoke(delivery.handler, delivery.event)
    assert_nothing_swallowed(first, cloud, delivery.expected)
    settle(cloud, fault)
    injected = budget - pending(cloud.faults)
    if fault.early:
        injected += len(delivery.expected)  # every new instance was kept invisible
    steps = [("delivery", first)]
    if isinstance(first.error, RetryLaterError):
        cloud.faults.clear()
        cloud.advance(FC_RETRY_DELAY)
        again = invoke(delivery.handler, delivery.event)
        assert_nothing_swallowed(again, cloud, delivery.expected)
        steps.append(("redelivery", again))
    bound = {i.instance_id: i.role for i in cloud.ecs("cn-hangzhou").instances.values()}
    if any(bound.get(i) != role for i, role in delivery.expected.items()):
        cloud.faults.clear()
        sweep = invoke("reconcile", timer_event())
        assert_nothing_swallowed(sweep, cloud, delivery.expected)
        steps.append(("sweep", sweep))
    return steps, injected


@pytest.mark.parametrize(("fault", "shape"), CASES)
def test_fault_matrix(
    cloud: FakeCloud,
    client: AcsClient,
    handler_env: pytest.MonkeyPatch,
    invoke: Callable[..., Run],
    figures: Figures,
    fault: Fault,
    shape: str,
) -> None:
    # GIVEN new instances (created after an eventual-consistency fault is set, before others)
    seed_world(cloud, [])
    for name, value in fault.env.items():
        handler_env.setenv(name, value)
    if fault.early:
        fault.inject(cloud, [])
    delivery = DELIVERIES[shape](client)
    ids = list(delivery.expected)
    if not fault.early:
        fault.inject(cloud, ids)
    cloud.calls.clear()

    # WHEN the event is delivered, and delivered again or swept as FC and the timer would
    steps, injected = campaign(invoke, cloud, fault, delivery)
    figures.update(
        faults_injected=injected,
        deliveries=len(steps),
        redeliveries=sum(step == "redelivery" for step, _ in steps),
        sweeps=sum(step == "sweep" for step, _ in steps),
    )
    wrong = check_bindings(figures, cloud, delivery.expected, [run for _, run in steps])

    # THEN the fault really happened, and every instance ended bound to its mapped role
    assert injected >= 1, "the fault never fired: this case tests nothing"
    assert wrong == {}
    # AND each was attached exactly once, and nothing was ever detached
    assert attached_once(cloud) == dict.fromkeys(ids, 1)
    assert [c for c in cloud.calls.role_writes(ok_only=False) if c.action != ATTACH] == []
    # AND the only other writes were the ownership markers, each naming the mapped role
    markers = [c for c in cloud.calls.writes(ok_only=False) if c.action == "TagResources"]
    assert {c.params["Tag.1.Value"] for c in markers} <= set(delivery.expected.values())
    # AND the first delivery handed the event back to FC exactly when the fault was transient
    # and left work undone, and only permanent failures waited for the sweep
    first = steps[0][1]
    assert isinstance(first.error, RetryLaterError) == fault.raises, first.outcomes
    assert ("sweep" in dict(steps)) == fault.needs_sweep, [step for step, _ in steps]
    # AND a malformed answer to a read is a failed line naming the field, never a crash
    if fault.malformed is not None:
        malformed = [
            line for line in first.outcomes if line.get("error_code") == "MalformedResponse"
        ]
        assert malformed, first.outcomes
        for line in malformed:
            assert line["reason"] == "api-error"
            assert line["retryable"] is True
            assert fault.malformed in line["detail"], line["detail"]


# -- malformed answers that used to pass for facts ------------------------------------------------

MAPPING_REPLACE = {
    "version": 1,
    "roles": ["AppReader", "Payments"],
    "rules": [{"name": "payments-prod", "when": {"tags": PAYMENTS_TAGS}, "role": "Payments"}],
    "on_existing_role": "replace",
}


def test_an_instance_list_missing_from_the_answer_is_not_an_absent_instance(
    cloud: FakeCloud, invoke: Callable[..., Run], figures: Figures
) -> None:
    # GIVEN a payments instance, and a DescribeInstances answer without `Instances`
    seed_world(cloud, [vm("i-hard00list01", PAYMENTS_TAGS)])
    cloud.faults.corrupt(DESCRIBE, "missing", "Instances", times=1)
    figures["faults_injected"] += 1

    # WHEN its tag event is handled
    run = invoke("tag_events", tag_change_event("i-hard00list01"))

    # THEN it is a retryable MalformedResponse failure, so FC delivers the event again; read as
    # "no such instance" it would be skipped for good (a tag event is no creation to wait for)
    line = run.outcome("i-hard00list01")
    assert (line["outcome"], line["error_code"], line["retryable"]) == (
        "failed",
        "MalformedResponse",
        True,
    )
    assert "Instances.Instance" in line["detail"]
    assert isinstance(run.error, RetryLaterError)
    again = invoke("tag_events", tag_change_event("i-hard00list01"))
    assert again.outcome("i-hard00list01")["outcome"] == "attached"
    assert check_bindings(figures, cloud, {"i-hard00list01": "Payments"}, [run, again]) == {}


@pytest.mark.parametrize(
    "path",
    ["InstanceRamRoleSets.InstanceRamRoleSet.*.RamRoleName", "InstanceRamRoleSets"],
    ids=["item-without-RamRoleName", "no-InstanceRamRoleSets"],
)
def test_a_role_answer_missing_its_roles_is_not_an_instance_without_a_role(
    cloud: FakeCloud, use_mapping, invoke: Callable[..., Run], figures: Figures, path: str
) -> None:
    # GIVEN a payments instance bound to AppReader under on_existing_role: replace, and a
    # DescribeInstanceRamRole answer that does not say which role it has
    use_mapping(MAPPING_REPLACE)
    seed_world(cloud, [vm("i-hard00role01", PAYMENTS_TAGS, role="AppReader", owned=True)])
    cloud.faults.corrupt(ROLES, "missing", path, times=1)
    figures["faults_injected"] += 1

    # WHEN its event is handled
    run = invoke("instance_events", state_event("i-hard00role01"))

    # THEN nothing is decided on the broken answer: no write, a retryable MalformedResponse
    # line (read as "no role", it became an Attach on a bound instance, refused for good)
    line = run.outcome("i-hard00role01")
    assert (line["outcome"], line["error_code"], line["retryable"]) == (
        "failed",
        "MalformedResponse",
        True,
    )
    assert cloud.calls.writes(ok_only=False) == []
    assert isinstance(run.error, RetryLaterError)
    # AND FC's redelivery replaces the role
    again = invoke("instance_events", state_event("i-hard00role01"))
    assert again.outcome("i-hard00role01")["outcome"] == "replaced"
    assert check_bindings(figures, cloud, {"i-hard00role01": "Payments"}, [run, again]) == {}


def test_a_role_answer_without_its_trust_policy_is_not_cached_as_untrusted(
    cloud: FakeCloud, invoke: Callable[..., Run], figures: Figures
) -> None:
    # GIVEN a GetRole answer without AssumeRolePolicyDocument
    seed_world(cloud, [vm("i-hard00trust1", PAYMENTS_TAGS), vm("i-hard00trust2", PAYMENTS_TAGS)])
    cloud.faults.corrupt(GET_ROLE, "missing", "Role.AssumeRolePolicyDocument", times=1)
    figures["faults_injected"] += 1

    # WHEN one instance's event is handled, then (same warm container) the other's
    first = invoke("instance_events", state_event("i-hard00trust1"))
    second = invoke("instance_events", state_event("i-hard00trust2"))

    # THEN the first is a retryable MalformedResponse failure, not a permanent
    # role-not-trusted; and nothing was cached: the second asks RAM again and is attached
    line = first.outcome("i-hard00trust1")
    assert (line["reason"], line["error_code"], line["retryable"]) == (
        "api-error",
        "MalformedResponse",
        True,
    )
    assert "AssumeRolePolicyDocument" in line["detail"]
    assert second.outcome("i-hard00trust2")["outcome"] == "attached"
    assert cloud.calls.count(GET_ROLE) == 2
    expected = {"i-hard00trust1": None, "i-hard00trust2": "Payments"}
    assert check_bindings(figures, cloud, expected, [first, second]) == {}
