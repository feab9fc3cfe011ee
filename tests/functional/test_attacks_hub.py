"""Attacks on the hub (README "Many accounts (hub)"), replayed against the fake cloud through
the real SDKs: a member that forges events, a caller of the hub's functions, a careless operator
and races. Each test states the promise and shows where it held or broke when written.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from fakecloud import FakeCloud
from rolebinder.domain import reasons
from tests.functional.hub import HUB, MEMBER_A, MEMBER_B, UNLISTED, member_state, routed
from tests.functional.hub_attack_support import (
    A1,
    B1,
    MEMBER_ROLE_ARN,
    assume_role_arns,
    forged_state,
    forged_tag,
    org,
    writes_in,
)
from tests.hardening.conftest import tag_change_event

__all__ = ["org"]  # a fixture


# -- 1. a member claims to be another account ----------------------------------------------------


@pytest.mark.usefixtures("hub")
def test_a_forged_origin_cannot_bind_a_role_the_mapping_gives_only_elsewhere(
    org: FakeCloud, invoke, use_mapping
) -> None:
    # GIVEN a rule that gives Payments only in member B, and a payments instance in member A
    rule = {
        "name": "payments-in-b",
        "when": {"tags": {"team": "payments"}, "account_ids": [MEMBER_B]},
        "role": "Payments",
    }
    use_mapping({"version": 1, "roles": ["Payments"], "rules": [rule]})
    # WHEN A sends events naming its own instance but claiming to come from B, or from the hub
    run = invoke("tag_events", [forged_tag(A1, MEMBER_A, MEMBER_B), forged_tag(A1, MEMBER_A, HUB)])
    # THEN the instance is looked for where the claim says, with that account's credentials,
    # is not there, and nothing is written anywhere: the scope reads the account the
    # instance was read from, never the event
    lines = [(o["account_id"], o["reason"]) for o in run.outcomes]
    assert lines == [(MEMBER_B, reasons.INSTANCE_NOT_FOUND), (HUB, reasons.INSTANCE_NOT_FOUND)]
    assert member_state(org, MEMBER_A) == {A1: None}
    assert org.calls.writes() == []


@pytest.mark.usefixtures("hub")
def test_a_forged_origin_steers_the_hub_into_another_member_only_to_that_members_truth(
    org: FakeCloud, invoke
) -> None:
    # GIVEN B's instance, tagged by B for Payments. WHEN A forges a tag event from "B"
    run = invoke("tag_events", forged_tag(B1, MEMBER_A, MEMBER_B))
    # THEN (residual risk, README: events carry no authority) the hub acts in B at A's word,
    # but only with B's member role and only as B's own tags and the mapping say: the same
    # write B's own event or the next sweep makes
    line = run.outcome(B1)
    assert (line["account_id"], line["outcome"], line["role"]) == (MEMBER_B, "attached", "Payments")
    assert all(MEMBER_ROLE_ARN.fullmatch(arn) for arn in assume_role_arns(org))
    assert writes_in(org, MEMBER_A) == []
    # AND a second forged event finds nothing more to do
    again = invoke("tag_events", forged_tag(B1, MEMBER_A, MEMBER_B))
    assert again.outcome(B1)["outcome"] == "unchanged"
    assert writes_in(org, MEMBER_B) == ["TagResources", "AttachInstanceRamRole"]


# -- 2. the hub assumes nothing but the member role of a served account --------------------------


def test_no_event_or_payload_makes_the_hub_assume_another_role(
    org: FakeCloud, hub: Callable[[str], None], invoke
) -> None:
    hub(f"{MEMBER_A},{MEMBER_B},{HUB}")
    odd = {"triggerTime": "2026-01-01T00:00:00Z", "triggerName": "x"}
    for accounts in ([UNLISTED, MEMBER_A], [HUB], ["0" + MEMBER_A], [MEMBER_B, MEMBER_B]):
        invoke("reconcile", {**odd, "payload": json.dumps({"accounts": accounts})})
    for account in (UNLISTED, "0" + MEMBER_A, HUB):
        invoke("tag_events", routed(tag_change_event(A1, account=account)))
    invoke("instance_events", forged_state(A1, MEMBER_A, UNLISTED))
    arns = assume_role_arns(org)
    # THEN every AssumeRole named the member role of a listed member, never the hub's own
    # account, an unlisted one, or a spelling variant of a member
    assert arns and {MEMBER_ROLE_ARN.fullmatch(a)["account"] for a in arns} <= {MEMBER_A, MEMBER_B}


@pytest.mark.usefixtures("hub")
def test_an_unlisted_origin_is_foreign_even_when_a_member_forwards_it(
    org: FakeCloud, invoke
) -> None:
    run = invoke("instance_events", forged_state(A1, MEMBER_A, UNLISTED))
    [line] = run.outcomes
    assert (line["outcome"], line["reason"]) == ("ignored", reasons.FOREIGN_ACCOUNT)
    assert run.summary["calls"] == 0


# -- 3. the cross-account delivery cap -----------------------------------------------------------


@pytest.mark.usefixtures("hub")
def test_the_delivery_cap_counts_each_account_s_instances(org: FakeCloud, invoke) -> None:
    # GIVEN one delivery naming 600 (made-up) instances in each of two members: 1,200 reads,
    # more than the 1,000 a delivery may buy (README "Forged and hostile input")
    ids = [f"i-bp1flood{n:06d}" for n in range(600)]
    events = [routed(tag_change_event(i, account=a)) for a in (MEMBER_A, MEMBER_B) for i in ids]
    run = invoke("tag_events", events)
    # THEN it is refused whole, before any call
    assert [e["error"] for e in run.errors] == [reasons.ERROR_DELIVERY_TOO_LARGE]
    assert run.outcomes == []
    assert len(org.calls.all()) == 0


# -- 4. the member list changes between two reads of one invocation ------------------------------


def test_foreign_account_holds_when_the_directory_answers_only_the_second_time(
    org: FakeCloud, hub: Callable[[str], None], invoke
) -> None:
    # GIVEN a hub on rd whose first ListAccounts is refused (a flicker), then answered
    hub("rd")
    org.faults.fail("ListAccounts", "NoPermission", 403, times=1)
    # WHEN one delivery holds a member's event and an unlisted account's
    events = [routed(tag_change_event(A1, account=MEMBER_A)), forged_tag("i-x", MEMBER_A, UNLISTED)]
    run = invoke("tag_events", events)
    # THEN the member's instance is served and reported, the unlisted one is foreign: the
    # invocation does not crash half-way, leaving a write in A with no outcome line
    assert run.error is None, run.error
    assert run.outcome(A1)["outcome"] == "attached"
    assert run.outcome("i-x")["reason"] == reasons.FOREIGN_ACCOUNT
    assert UNLISTED not in "".join(assume_role_arns(org))
