"""A hub binds roles in its member accounts, through the real SDKs against the fake: events
routed from members, sweeps across accounts, a broken member failing alone, credentials assumed
once per account and renewed when they expire, the fan-out to one invocation per account."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from fakecloud import FakeCloud, apply_seed
from rolebinder.domain import reasons
from rolebinder.entrypoints import invocation
from rolebinder.service.accounts import CredentialCache
from tests.functional.conftest import REGION, Run, event_bytes, state_event, timer_event, vm
from tests.functional.hub import (
    HUB,
    MEMBER_A,
    MEMBER_B,
    MEMBER_ROLE,
    NO_ROLE,
    RECONCILE,
    UNLISTED,
    UNTRUSTING,
    calls_in,
    member_state,
    routed,
    seed_org,
)

A1, A2, B1 = "i-bp1membera0001", "i-bp1membera0002", "i-bp1memberb0001"
BROKEN1, UNTRUSTED1 = "i-bp1noroles0001", "i-bp1untrust0001"
PAYMENTS = {"team": "payments", "env": "prod"}


@pytest.fixture
def org(cloud: FakeCloud) -> FakeCloud:
    return seed_org(
        cloud,
        {
            MEMBER_A: [vm(A1, PAYMENTS), vm(A2, {"ram-role": "AppReader"})],
            MEMBER_B: [vm(B1, PAYMENTS)],
            NO_ROLE: [vm(BROKEN1, PAYMENTS)],
            UNTRUSTING: [vm(UNTRUSTED1, PAYMENTS)],
        },
    )


def assumed(cloud: FakeCloud, account: str | None = None) -> int:
    """AssumeRole calls the hub made (for `account`'s member role, when given)."""
    return sum(
        1
        for c in cloud.calls.all()
        if c.action == "AssumeRole" and c.ok and (account is None or account in c.params["RoleArn"])
    )


# -- events from members --------------------------------------------------------------------------


@pytest.mark.usefixtures("hub")
def test_an_instance_in_a_member_gets_its_role_from_the_hub(org: FakeCloud, invoke) -> None:
    # WHEN the member's Running event reaches the hub's bus, routed by member.yml's rule
    run = invoke("instance_events", routed(state_event(A1, account=MEMBER_A)))

    # THEN the member's instance has the mapped role, bound with the member role's credentials
    assert run.error is None
    line = run.outcome(A1)
    assert (line["outcome"], line["role"], line["account_id"]) == ("attached", "Payments", MEMBER_A)
    assert member_state(org, MEMBER_A)[A1] == "Payments"
    assert assumed(org, MEMBER_A) == 1
    attach = [c for c in org.calls.all() if c.action == "AttachInstanceRamRole"]
    assert [c.account_id for c in attach] == [MEMBER_A]
    assert attach[0].access_key_id.startswith("STS.")  # the member role's session, not the hub's
    # AND the hub's own account saw no ECS call
    assert calls_in(org, HUB, "DescribeInstances") == 0


@pytest.mark.usefixtures("hub")
def test_an_unlisted_accounts_event_is_ignored_with_zero_calls(org: FakeCloud, invoke) -> None:
    before = len(org.calls.all())
    run = invoke("instance_events", routed(state_event(A1, account=UNLISTED)))

    [line] = run.outcomes
    assert (line["outcome"], line["reason"]) == ("ignored", reasons.FOREIGN_ACCOUNT)
    assert "and 2 member account(s)" in line["detail"]
    assert len(org.calls.all()) == before
    assert run.summary["calls"] == 0


@pytest.mark.usefixtures("hub")
def test_the_mapping_can_scope_rules_to_accounts(org: FakeCloud, invoke, use_mapping) -> None:
    # GIVEN a rule that gives Payments only in member B
    rule = {
        "name": "payments-in-b",
        "when": {"tags": {"team": "payments"}, "account_ids": [MEMBER_B]},
        "role": "Payments",
    }
    use_mapping({"version": 1, "roles": ["Payments"], "rules": [rule]})
    # WHEN both members' payments instances start
    events = [routed(state_event(A1, account=MEMBER_A)), routed(state_event(B1, account=MEMBER_B))]
    run = invoke("instance_events", events)
    # THEN only B's is bound; A's is out of the rule's scope
    assert run.outcome(B1)["outcome"] == "attached"
    assert (run.outcome(A1)["outcome"], run.outcome(A1)["reason"]) == (
        "skipped",
        reasons.NO_MATCHING_RULE,
    )
    assert member_state(org, MEMBER_A)[A1] is None


# -- sweeps ---------------------------------------------------------------------------------------


def by_account(run: Run) -> dict[str | None, dict[str, str]]:
    found: dict[str | None, dict[str, str]] = {}
    for line in run.outcomes:
        found.setdefault(line.get("account_id"), {})[line["instance_id"]] = line["reason"]
    return found


def test_a_sweep_converges_every_member_and_a_broken_member_fails_alone(
    org: FakeCloud, hub: Callable[[str], None], invoke
) -> None:
    hub(f"{MEMBER_A},{NO_ROLE},{MEMBER_B},{UNTRUSTING}")

    run = invoke("reconcile", timer_event())

    # THEN both working members converge
    assert member_state(org, MEMBER_A) == {A1: "Payments", A2: "AppReader"}
    assert member_state(org, MEMBER_B) == {B1: "Payments"}
    # AND each broken member has one failed line, assume-role-denied, with STS's code
    lines = {line.get("account_id"): line for line in run.outcomes if line["outcome"] == "failed"}
    assert set(lines) == {NO_ROLE, UNTRUSTING}
    assert {a: (f["reason"], f["error_code"], f["retryable"]) for a, f in lines.items()} == {
        NO_ROLE: (reasons.ASSUME_ROLE_DENIED, "EntityNotExist.Role", False),
        UNTRUSTING: (reasons.ASSUME_ROLE_DENIED, "NoPermission", False),
    }
    assert MEMBER_ROLE in lines[NO_ROLE]["detail"]
    # AND nothing was written in the broken members; the handler returned (nothing to retry)
    assert member_state(org, NO_ROLE) == {BROKEN1: None}
    assert run.error is None
    # AND the hub's own (empty) account was swept too, with its own credentials
    empty = [
        w.get("account_id") for w in run.warnings if w["warning"] == reasons.WARNING_EMPTY_SWEEP
    ]
    assert empty == [HUB]


def test_rd_lists_the_members_from_resource_directory(
    org: FakeCloud, hub: Callable[[str], None], invoke
) -> None:
    hub("rd")
    run = invoke("reconcile", timer_event())
    assert org.calls.count("ListAccounts") == 1
    assert member_state(org, MEMBER_A) == {A1: "Payments", A2: "AppReader"}
    assert {line.get("account_id") for line in run.outcomes} >= {MEMBER_A, MEMBER_B, NO_ROLE}
    # AND an event for a member is served without listing again (the list is cached)
    invoke("instance_events", routed(state_event(B1, account=MEMBER_B)))
    assert org.calls.count("ListAccounts") == 1


@pytest.mark.usefixtures("hub")
def test_assume_role_at_most_once_per_account_while_credentials_are_valid(
    org: FakeCloud, invoke
) -> None:
    # WHEN a warm container serves two sweeps and events for both members
    invoke("reconcile", timer_event())
    invoke("reconcile", timer_event())
    invoke("instance_events", [routed(state_event(i, account=MEMBER_A)) for i in (A1, A2)])
    invoke("instance_events", routed(state_event(B1, account=MEMBER_B)))
    # THEN each member's role was assumed exactly once
    assert (assumed(org, MEMBER_A), assumed(org, MEMBER_B)) == (1, 1)


@pytest.mark.usefixtures("hub")
def test_credentials_are_renewed_before_they_expire(org: FakeCloud, invoke) -> None:
    invoke("reconcile", timer_event())
    runtime = invocation.container_runtime()
    # GIVEN a cache on a hand-driven clock that starts where the cloud's is
    clock = [org.clock.now()]
    runtime.member_credentials = CredentialCache(
        MEMBER_ROLE, runtime.member_credentials.session, clock=lambda: clock[0]
    )
    invoke("reconcile", timer_event())  # a fresh cache: one more AssumeRole per member
    assert assumed(org) == 4
    # WHEN its clock nears Expiration (3600 s), the credentials serve until 900 s before it
    clock[0] += 3600 - 900 - 1
    invoke("reconcile", timer_event())
    assert assumed(org) == 4
    clock[0] += 1
    invoke("reconcile", timer_event())
    assert assumed(org) == 6


@pytest.mark.usefixtures("hub")
def test_credentials_the_cloud_calls_expired_are_dropped_and_retried(
    org: FakeCloud, invoke
) -> None:
    # GIVEN member credentials cached by a warm container
    invoke("reconcile", timer_event())
    assert assumed(org, MEMBER_A) == 1
    # WHEN the cloud's clock passes their Expiration (the container's does not: skew)
    org.advance(3601)
    event = routed(state_event(A1, account=MEMBER_A, event_id="late"))
    org.ecs(REGION, MEMBER_A).instances[A1].role = None
    first = invoke("instance_events", event)
    # THEN the event fails retryably, so FC delivers it again
    assert first.outcome(A1)["error_code"] == "InvalidSecurityToken.Expired"
    assert first.outcome(A1)["retryable"] is True
    assert first.error is not None
    # AND the redelivery assumes the role again and binds
    second = invoke("instance_events", event)
    assert second.outcome(A1)["outcome"] == "attached"
    assert assumed(org, MEMBER_A) == 2


# -- the fan-out ----------------------------------------------------------------------------------


def test_a_hub_fans_its_sweep_out_one_invocation_per_account(
    org: FakeCloud, hub: Callable[[str], None], handler_env: pytest.MonkeyPatch, invoke
) -> None:
    # GIVEN the reconcile function registered in the hub's account (what FC would run)
    bodies: list[bytes] = []
    org.functions.register(HUB, REGION, RECONCILE, bodies.append)
    handler_env.setenv("ROLEBINDER_RECONCILE_FUNCTION", RECONCILE)
    hub(f"{MEMBER_A},{MEMBER_B},{NO_ROLE}")

    # WHEN the timer fires
    run = invoke("reconcile", timer_event())
    org.functions.wait(timeout=5)

    # THEN nothing was swept here: one async invocation per account, the hub's own included
    assert run.outcomes == []
    assert run.summary["fanned_out"] == 4
    assert run.summary["calls"] == 4  # the four InvokeFunction requests, nothing else here
    payloads = [json.loads(json.loads(body)["payload"]) for body in bodies]
    assert sorted(p["accounts"][0] for p in payloads) == sorted([HUB, MEMBER_A, MEMBER_B, NO_ROLE])
    assert all(p["regions"] == [REGION] for p in payloads)
    assert assumed(org) == 0  # credentials are assumed where each account is swept

    # WHEN each invocation runs (as FC would, in the same container here)
    shards = [invoke("reconcile", json.loads(body)) for body in list(bodies)]

    # THEN every account converged, none fanned out again, the broken member failed alone
    assert member_state(org, MEMBER_A) == {A1: "Payments", A2: "AppReader"}
    assert member_state(org, MEMBER_B) == {B1: "Payments"}
    assert all("fanned_out" not in s.summary for s in shards)
    assert len(org.functions.invocations) == 4
    failed = [o for s in shards for o in s.outcomes if o["outcome"] == "failed"]
    assert [(o["account_id"], o["reason"]) for o in failed] == [
        (NO_ROLE, reasons.ASSUME_ROLE_DENIED)
    ]


def test_a_timer_payload_cannot_widen_the_accounts(
    org: FakeCloud, hub: Callable[[str], None], invoke
) -> None:
    payload = {"triggerTime": "2026-12-04T10:00:00Z", "triggerName": "x"}
    payload["payload"] = json.dumps({"accounts": [MEMBER_A, UNLISTED]})
    run = invoke("reconcile", payload)
    assert run.error is None
    assert {line["account_id"] for line in run.outcomes} == {MEMBER_A}
    [warning] = [w for w in run.warnings if w["warning"] == reasons.WARNING_ACCOUNT_REFUSED]
    assert warning["accounts"] == [UNLISTED]
    assert calls_in(org, UNLISTED) == 0
    assert assumed(org, UNLISTED) == 0


def test_a_fan_out_that_fc_refuses_is_reported_per_account(
    org: FakeCloud, hub: Callable[[str], None], handler_env: pytest.MonkeyPatch, invoke
) -> None:
    # GIVEN no function registered: FC answers FunctionNotFound
    handler_env.setenv("ROLEBINDER_RECONCILE_FUNCTION", RECONCILE)
    hub(f"{MEMBER_A},{MEMBER_B}")
    run = invoke("reconcile", timer_event())
    assert sorted(e.get("account_id") for e in run.errors) == sorted([HUB, MEMBER_A, MEMBER_B])
    assert {e["error"] for e in run.errors} == {reasons.ERROR_FANOUT_FAILED}
    assert {e["error_code"] for e in run.errors} == {"FunctionNotFound"}
    assert run.summary["fanned_out"] == 0


def test_a_hub_without_its_own_account_id_refuses_to_run(
    org: FakeCloud, hub: Callable[[str], None], handler_env: pytest.MonkeyPatch, invoke: Any
) -> None:
    handler_env.delenv("ROLEBINDER_ACCOUNT_ID")
    invocation.container_runtime.cache_clear()
    run = invoke(
        "instance_events",
        routed(state_event(A1, account=MEMBER_A)),
    )
    assert run.error is not None and "needs its own account id" in str(run.error)
    assert member_state(org, MEMBER_A)[A1] is None


# -- the operator's CLI across accounts ----------------------------------------------------------


@pytest.mark.usefixtures("hub")
def test_plan_across_accounts_shows_each_members_instances_and_writes_nothing(
    org: FakeCloud, cli
) -> None:
    done = cli(
        "plan", "--accounts", f"{MEMBER_A},{MEMBER_B},{NO_ROLE}", "--region", REGION, "--json"
    )
    lines = done.lines
    assert done.code == 1  # the member without its role failed
    outcomes = [line for line in lines if line["kind"] == "outcome"]
    assert {(o["account_id"], o["instance_id"]) for o in outcomes if o["instance_id"]} == {
        (MEMBER_A, A1),
        (MEMBER_A, A2),
        (MEMBER_B, B1),
    }
    [broken] = [o for o in outcomes if o["outcome"] == "failed"]
    assert (broken["account_id"], broken["reason"]) == (NO_ROLE, reasons.ASSUME_ROLE_DENIED)
    assert lines[-1]["shards"] == 3
    assert org.calls.writes() == []


@pytest.mark.usefixtures("hub")
def test_apply_across_rd_converges_and_the_table_names_the_account(org: FakeCloud, cli) -> None:
    done = cli("apply", "--accounts", "rd", "--region", REGION)
    assert member_state(org, MEMBER_A) == {A1: "Payments", A2: "AppReader"}
    assert member_state(org, MEMBER_B) == {B1: "Payments"}
    rows = {line.split()[3]: line.split()[1] for line in done.out.splitlines() if "i-bp1" in line}
    assert rows == {A1: MEMBER_A, A2: MEMBER_A, B1: MEMBER_B}
    assert "5 line(s), 2 for an account or region not read: 3 attached, 2 failed" in done.out


@pytest.mark.usefixtures("hub")
def test_explain_finds_the_instance_in_its_account(org: FakeCloud, cli) -> None:
    done = cli("explain", B1, "--accounts", f"{MEMBER_A},{MEMBER_B}", "--region", REGION)
    assert done.code == 0
    assert f"{B1} in {REGION} of account {MEMBER_B}" in done.out
    assert "decision: attach Payments" in done.out
    assert org.calls.writes() == []


@pytest.mark.usefixtures("hub")
def test_adopt_across_accounts_names_each_account(org: FakeCloud, cli) -> None:
    org.ecs(REGION, MEMBER_B).instances[B1].role = "Payments"  # bound by hand
    done = cli(
        "adopt", "--accounts", f"{MEMBER_A},{MEMBER_B},{NO_ROLE}", "--region", REGION, "--json"
    )
    records = done.lines
    assert {
        "account_id": MEMBER_B,
        "instance_id": B1,
        "role": "Payments",
        "marker": "-",
        "result": "marked",
    } in records
    assert any(r["account_id"] == NO_ROLE and r["result"].startswith("failed") for r in records)
    assert done.code == 1
    assert org.ecs(REGION, MEMBER_B).instances[B1].tags["rolebinder:role"] == "Payments"


@pytest.mark.parametrize(
    ("accounts", "message"),
    [("acme", "'acme' is not an account id"), ("rd,1", "'rd' is not an account id")],
)
@pytest.mark.usefixtures("hub")
def test_bad_accounts_exit_2_before_any_call(
    org: FakeCloud, cli, accounts: str, message: str
) -> None:
    before = len(org.calls.all())
    done = cli("plan", "--accounts", accounts, "--region", REGION)
    assert done.code == 2 and message in done.err
    assert len(org.calls.all()) == before


@pytest.mark.usefixtures("hub")
def test_accounts_need_the_operators_own_account_id(
    org: FakeCloud, cli, handler_env: pytest.MonkeyPatch
) -> None:
    handler_env.delenv("ROLEBINDER_ACCOUNT_ID")
    done = cli("plan", "--accounts", MEMBER_A, "--region", REGION)
    assert done.code == 2 and "ROLEBINDER_ACCOUNT_ID" in done.err
    assert org.calls.all() == []


@pytest.mark.usefixtures("hub")
def test_the_routed_sample_event_is_served_by_a_hub(org: FakeCloud, invoke) -> None:
    # GIVEN the member instance the sample names, in member A
    member = {"regions": {REGION: {"instances": [vm("i-bp1member000000001", PAYMENTS)]}}}
    apply_seed(org, {"accounts": {MEMBER_A: member}})
    # WHEN the sample (aliyunaccountid rewritten to the hub) arrives
    run = invoke(
        "instance_events",
        event_bytes("eventbridge-ecs-instance-statechange-routed-from-member.json"),
    )
    # THEN the hub binds it in the member
    line = run.outcome("i-bp1member000000001")
    assert (line["outcome"], line["account_id"]) == ("attached", MEMBER_A)
    assert member_state(org, MEMBER_A)["i-bp1member000000001"] == "Payments"
