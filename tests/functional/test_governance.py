"""Governance, through the real SDK against the fake: audit before enforce, the circuit breaker,
per-rule down-scoped credentials and flap damping (issue 10).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from fakecloud import FakeCloud
from rolebinder.domain.ownership import CHANGES_KEY
from rolebinder.service import engine as engine_module
from tests.functional.conftest import (
    REGION,
    add_fleet,
    ecs_state,
    seed_world,
    state_event,
    timer_event,
    vm,
)
from tests.hardening.conftest import tag_change_event

PAYMENTS_TAGS = {"team": "payments", "env": "prod"}
READER_TAGS = {"team": "reports"}
PAYMENTS_RULE = {"name": "payments-prod", "when": {"tags": PAYMENTS_TAGS}, "role": "Payments"}
READER_RULE = {"name": "reports", "when": {"tags": READER_TAGS}, "role": "AppReader"}
ROLE_WRITES = ("AttachInstanceRamRole", "DetachInstanceRamRole", "TagResources", "UntagResources")
READ_ONLY = {"s3": {"Effect": "Allow", "Action": "oss:GetObject", "Resource": "*"}}


def mapping(*rules: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "roles": ["AppReader", "Payments"],
        "rules": list(rules) or [PAYMENTS_RULE, READER_RULE],
        "on_existing_role": "replace",
        "on_no_match": "detach",
        **changes,
    }


def policy(*actions: str) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    return {"Version": "1", "Statement": [statement]}


def writes(cloud: FakeCloud) -> list[str]:
    return [c.action for c in cloud.calls.all() if c.action in ROLE_WRITES]


def fleet(cloud: FakeCloud, n: int = 10) -> dict[str, str]:
    """`n` VPC instances, half payments, half reports; returns each one's mapped role."""
    seed_world(cloud, [])
    mapped = {f"i-gov{k:06d}": ("Payments" if k % 2 else "AppReader") for k in range(n)}
    tags = {"Payments": PAYMENTS_TAGS, "AppReader": READER_TAGS}
    add_fleet(cloud, [(i, tags[role], None) for i, role in mapped.items()])
    return mapped


def decisions(run: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (line["instance_id"], line["outcome"], line["reason"], line["role"], line["rule"])
        for line in run.outcomes
    )


# -- audit ------------------------------------------------------------------------------------


def test_audit_mode_decides_exactly_as_enforce_and_writes_nothing(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN a fleet, swept once in audit mode
    mapped = fleet(cloud)
    use_mapping(mapping(mode="audit"))
    audited = invoke("reconcile", timer_event())
    audit_writes = writes(cloud)

    # WHEN the same fleet is swept in enforce mode
    use_mapping(mapping())
    enforced = invoke("reconcile", timer_event(), cold=True)

    # THEN the audit run made the same decisions, each marked audit and dry_run, and no write
    assert audit_writes == []
    assert decisions(audited) == decisions(enforced)
    assert {(line["mode"], line["dry_run"]) for line in audited.outcomes} == {("audit", True)}
    assert {(line["mode"], line["dry_run"]) for line in enforced.outcomes} == {("enforce", False)}
    assert audited.summary["mode"] == "audit"
    assert audited.summary["audited"] == len(mapped)
    assert ecs_state(cloud) == mapped


def test_a_rule_in_audit_mode_is_watched_while_the_others_enforce(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    mapped = fleet(cloud)
    use_mapping(mapping(PAYMENTS_RULE, {**READER_RULE, "mode": "audit"}))

    run = invoke("reconcile", timer_event())

    modes = Counter((line["role"], line["mode"], line["outcome"]) for line in run.outcomes)
    assert modes == {("Payments", "enforce", "attached"): 5, ("AppReader", "audit", "attached"): 5}
    assert ecs_state(cloud) == {i: r if r == "Payments" else None for i, r in mapped.items()}


def test_plan_shows_the_mode_of_each_row(cloud: FakeCloud, use_mapping, handler_env, cli) -> None:
    fleet(cloud, 2)
    path = use_mapping(mapping(PAYMENTS_RULE, {**READER_RULE, "mode": "audit"}))

    done = cli("plan", "--region", REGION, "--mapping", str(path))

    assert done.code == 0
    rows = [line for line in done.out.splitlines() if "i-gov" in line]
    assert any("AppReader" in row and "audit" in row for row in rows)
    assert any("Payments" in row and "enforce" in row for row in rows)


# -- the circuit breaker ----------------------------------------------------------------------


def test_a_sweep_over_its_limit_writes_nothing_and_says_why(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN 10 instances to bind and a limit of 5 changes
    fleet(cloud)
    use_mapping(mapping(limits={"max_changes": 5}))

    # WHEN the timer sweeps
    run = invoke("reconcile", timer_event())

    # THEN nothing at all is written, every would-be write says circuit-open, one warning
    # names the counts, and the handler returns normally (no retry storm)
    assert run.error is None
    assert writes(cloud) == []
    assert {(line["outcome"], line["reason"]) for line in run.outcomes} == {
        ("skipped", "circuit-open")
    }
    (warning,) = run.warnings
    assert (warning["warning"], warning["changes"], warning["max_changes"]) == (
        "circuit-open",
        10,
        5,
    )


def test_the_same_sweep_with_allow_changes_converges(
    cloud: FakeCloud, use_mapping, handler_env, cli
) -> None:
    mapped = fleet(cloud)
    path = use_mapping(mapping(limits={"max_changes": 5}))

    refused = cli("apply", "--region", REGION, "--mapping", str(path))
    assert refused.code == 1
    assert "circuit open: 10 planned change(s)" in refused.out
    assert writes(cloud) == []

    done = cli("apply", "--region", REGION, "--mapping", str(path), "--allow-changes", "10")
    assert done.code == 0
    assert ecs_state(cloud) == mapped


def test_max_detaches_holds_back_a_mass_revocation(cloud: FakeCloud, use_mapping, invoke) -> None:
    # GIVEN 6 owned bindings whose tags all went away, and at most 2 detaches a run
    seed_world(cloud, [vm(f"i-gone{k:07d}", {}, role="Payments", owned=True) for k in range(6)])
    use_mapping(mapping(limits={"max_detaches": 2}))

    run = invoke("reconcile", timer_event())

    assert writes(cloud) == []
    assert {line["reason"] for line in run.outcomes} == {"circuit-open"}
    assert run.warnings[0]["detaches"] == 6


def test_one_delivery_over_the_limit_writes_nothing(cloud: FakeCloud, use_mapping, invoke) -> None:
    fleet(cloud, 4)
    use_mapping(mapping(limits={"max_changes": 3}))
    batch = [state_event(f"i-gov{k:06d}") for k in range(4)]

    run = invoke("instance_events", json.dumps(batch).encode())

    assert run.error is None
    assert writes(cloud) == []
    assert Counter(line["reason"] for line in run.outcomes) == {"circuit-open": 4}


def test_under_the_limit_everything_is_written(cloud: FakeCloud, use_mapping, invoke) -> None:
    mapped = fleet(cloud, 4)
    use_mapping(mapping(limits={"max_changes": 4, "max_detaches": 0}))

    run = invoke("reconcile", timer_event())

    assert run.warnings == []
    assert ecs_state(cloud) == mapped


# -- down-scoped credentials ---------------------------------------------------------------------


def test_a_rule_policy_rides_on_the_attach(cloud: FakeCloud, use_mapping, invoke) -> None:
    # GIVEN a rule whose credentials are narrowed to reading OSS objects
    seed_world(cloud, [vm("i-scoped0001", PAYMENTS_TAGS)])
    use_mapping(mapping({**PAYMENTS_RULE, "policy": policy("oss:GetObject")}))

    invoke("instance_events", state_event("i-scoped0001"))

    # THEN the fake's call log shows the compact policy on the attach, and records it
    (attach,) = [c for c in cloud.calls.all() if c.action == "AttachInstanceRamRole"]
    expected = json.dumps(policy("oss:GetObject"), separators=(",", ":"))
    assert attach.params["Policy"] == expected
    assert cloud.ecs(REGION).instances["i-scoped0001"].role_policy == expected


def test_two_policies_for_one_role_are_never_batched_together(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN two rules granting Payments with different policies, three instances each
    seed_world(cloud, [])
    add_fleet(
        cloud,
        [(f"i-pol{k:07d}", {"team": "a" if k < 3 else "b"}, None) for k in range(6)],
    )
    rule_a = {"name": "a", "when": {"tags": {"team": "a"}}, "role": "Payments"}
    rule_b = {"name": "b", "when": {"tags": {"team": "b"}}, "role": "Payments"}
    use_mapping(
        mapping(
            {**rule_a, "policy": policy("oss:GetObject")},
            {**rule_b, "policy": json.dumps(policy("oss:PutObject"))},
        )
    )

    invoke("reconcile", timer_event())

    # THEN two attaches of Payments, each naming only its rule's instances and policy
    attaches = [c for c in cloud.calls.all() if c.action == "AttachInstanceRamRole"]
    seen = {
        (json.loads(c.params["Policy"])["Statement"][0]["Action"][0], c.params["InstanceIds"])
        for c in attaches
    }
    assert seen == {
        ("oss:GetObject", json.dumps([f"i-pol{k:07d}" for k in range(3)])),
        ("oss:PutObject", json.dumps([f"i-pol{k:07d}" for k in range(3, 6)])),
    }


def test_tied_rules_with_one_role_and_two_policies_conflict(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    seed_world(cloud, [vm("i-tie0000001", {"team": "a", "env": "x"})])
    rule_a = {"name": "a", "when": {"tags": {"team": "a"}}, "role": "Payments"}
    rule_b = {"name": "b", "when": {"tags": {"env": "x"}}, "role": "Payments"}
    use_mapping(mapping({**rule_a, "policy": policy("oss:GetObject")}, rule_b))

    run = invoke("instance_events", state_event("i-tie0000001"))

    assert run.outcome("i-tie0000001")["reason"] == "conflicting-rules"
    assert writes(cloud) == []


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"Version": "2", "Statement": [READ_ONLY["s3"]]}, 'Version must be "1"'),
        ({"Version": "1", "Statement": []}, "Statement must be a non-empty list"),
        (
            {"Version": "1", "Statement": [{"Effect": "Maybe", "Action": "a", "Resource": "*"}]},
            "Statement[0]: Effect must be Allow or Deny",
        ),
        (
            {"Version": "1", "Statement": [{"Effect": "Allow", "Resource": "*"}]},
            "Statement[0]: needs exactly one of Action or NotAction",
        ),
        ("{not json", "is not valid JSON"),
        # found by the fuzz suite: a key from the file is shown escaped, on one line
        ({"Version": "1", "\x00Statement": []}, 'unknown key(s) "\\u0000Statement"'),
        (policy(*[f"oss:Action{n:04d}" for n in range(80)]), "AttachInstanceRamRole accepts"),
    ],
    ids=["version", "empty", "effect", "no-action", "not-json", "control-key", "too-long"],
)
def test_an_invalid_rule_policy_is_refused_before_any_call(
    cli, write_mapping, bad: Any, problem: str
) -> None:
    path = write_mapping(mapping({**PAYMENTS_RULE, "policy": bad}))

    done = cli("validate-mapping", str(path))

    assert done.code == 2
    assert "rules[0].policy: " in done.err
    assert problem in done.err


# -- flap damping ---------------------------------------------------------------------------------


class _Clock:
    """Stands in for the engine's wall clock."""

    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now


def test_a_tag_flipped_every_second_for_a_minute_changes_the_role_at_most_max_flips_times(
    cloud: FakeCloud, use_mapping, invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an instance whose team tag someone flips on and off every second, for a minute,
    # and a fresh container for every event (no memory but what the instance carries)
    clock = _Clock(1_800_000_000.0)
    monkeypatch.setattr(engine_module, "time", clock)
    use_mapping(mapping())
    seed_world(cloud, [vm("i-flap000001", {})])
    instance = cloud.ecs(REGION).instances["i-flap000001"]
    runs = []
    for second in range(60):
        if second % 2 == 0:
            instance.tags.update(PAYMENTS_TAGS)
        else:
            for key in PAYMENTS_TAGS:
                instance.tags.pop(key, None)
        runs.append(invoke("tag_events", tag_change_event("i-flap000001"), cold=True))
        clock.now += 1

    # THEN rolebinder changed the role at most max_flips (3) times, then left it alone
    seen = [(line["outcome"], line["reason"]) for run in runs for line in run.outcomes]
    changes = [line for line in seen if line[0] in ("attached", "replaced", "detached")]
    assert len(changes) == 3, seen
    flapping = [line for run in runs for line in run.outcomes if line["reason"] == "flapping"]
    assert flapping
    assert all(w["warning"] == "flapping" for run in runs for w in run.warnings)
    assert len(instance.tags[CHANGES_KEY].split(",")) == 3

    # AND once the window has passed, rolebinder acts again
    clock.now += 3600
    instance.tags.update(PAYMENTS_TAGS)
    later = invoke("tag_events", tag_change_event("i-flap000001"), cold=True)
    assert later.outcome("i-flap000001")["reason"] in ("rule-matched", "already-bound")
