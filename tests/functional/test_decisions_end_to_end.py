"""The decision table of docs/MAPPING.md, end to end: an event in, calls and bindings out."""

from __future__ import annotations

from typing import Any

import pytest

from fakecloud import FakeCloud
from rolebinder.domain.ownership import MARKER_KEY
from tests.functional.conftest import REGION, VPC_ID, ecs_state, seed_world, state_event, vm

PAYMENTS_TAGS = {"team": "payments", "env": "prod"}
PAYMENTS_RULE = {"name": "payments-prod", "when": {"tags": PAYMENTS_TAGS}, "role": "Payments"}
ROLE_TAG_RULE = {
    "name": "by-role-tag",
    "when": {"tags": {"ram-role": "*"}},
    "role_from_tag": "ram-role",
    "allowed_roles": ["AppReader", "Payments"],
}


def mapping(
    *rules: dict[str, Any],
    roles: tuple[str, ...] = ("AppReader", "Payments"),
    on_existing_role: str = "keep",
    on_no_match: str = "keep",
) -> dict[str, Any]:
    return {
        "version": 1,
        "roles": list(roles),
        "rules": list(rules) or [PAYMENTS_RULE, ROLE_TAG_RULE],
        "on_existing_role": on_existing_role,
        "on_no_match": on_no_match,
    }


def check(invoke, instance_id: str) -> dict[str, Any]:
    """Deliver a Running state change for one instance; its one outcome line."""
    run = invoke("instance_events", state_event(instance_id))
    assert run.error is None
    assert len(run.outcomes) == 1
    return run.outcomes[0]


def fields(line: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(line[name] for name in names)


OUTCOME = ("outcome", "reason", "role", "previous_role", "rule")


# -- on_existing_role -------------------------------------------------------------------------


def test_keep_leaves_another_allowed_role_alone(cloud: FakeCloud, use_mapping, invoke) -> None:
    # GIVEN a payments instance that already has AppReader, and on_existing_role: keep
    seed_world(cloud, [vm("i-keep01", PAYMENTS_TAGS, role="AppReader")])
    use_mapping(mapping(on_existing_role="keep"))

    # WHEN its event is handled
    line = check(invoke, "i-keep01")

    # THEN the role is kept, the line says which role the rules wanted, and nothing is written
    assert fields(line, *OUTCOME) == (
        "skipped",
        "existing-role-kept",
        "Payments",
        "AppReader",
        "payments-prod",
    )
    assert cloud.calls.writes() == []
    assert cloud.calls.count("GetRole") == 0
    assert ecs_state(cloud) == {"i-keep01": "AppReader"}


def test_replace_detaches_the_named_old_role_then_attaches(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN the same instance, bound by rolebinder, under on_existing_role: replace
    seed_world(cloud, [vm("i-replace01", PAYMENTS_TAGS, role="AppReader", owned=True)])
    use_mapping(mapping(on_existing_role="replace"))

    # WHEN its event is handled
    line = check(invoke, "i-replace01")

    # THEN one Detach naming AppReader, one Attach of Payments, then the marker follows
    assert fields(line, *OUTCOME) == (
        "replaced",
        "rule-matched",
        "Payments",
        "AppReader",
        "payments-prod",
    )
    writes = cloud.calls.writes(ok_only=False)
    assert [
        (c.action, c.params.get("RamRoleName"), c.params.get("InstanceIds")) for c in writes
    ] == [
        ("DetachInstanceRamRole", "AppReader", '["i-replace01"]'),
        ("AttachInstanceRamRole", "Payments", '["i-replace01"]'),
        ("TagResources", None, None),
    ]
    assert writes[-1].params["Tag.1.Value"] == "Payments"
    assert ecs_state(cloud) == {"i-replace01": "Payments"}
    assert cloud.ecs(REGION).instances["i-replace01"].tags[MARKER_KEY] == "Payments"


def test_replace_never_touches_a_role_outside_the_allow_list(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN a payments instance bound to Admin, which the mapping does not list
    seed_world(cloud, [vm("i-admin01", PAYMENTS_TAGS, role="Admin")])
    use_mapping(mapping(on_existing_role="replace", on_no_match="detach"))

    # WHEN its event is handled
    line = check(invoke, "i-admin01")

    # THEN Admin stays, untouched
    assert fields(line, *OUTCOME) == (
        "skipped",
        "existing-role-kept",
        "Payments",
        "Admin",
        "payments-prod",
    )
    assert "not in the allow-list" in line["detail"]
    assert cloud.calls.writes(ok_only=False) == []
    assert ecs_state(cloud) == {"i-admin01": "Admin"}


# -- on_no_match -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected", "after"),
    [
        ("AppReader", ("detached", "no-matching-rule", None, "AppReader", None), None),
        ("Admin", ("skipped", "existing-role-kept", None, "Admin", None), "Admin"),
        (None, ("skipped", "no-matching-rule", None, None, None), None),
    ],
    ids=["owned-allowed-role-detached", "foreign-role-kept", "no-role"],
)
def test_on_no_match_detach_takes_only_allow_listed_roles(
    cloud: FakeCloud,
    use_mapping,
    invoke,
    role: str | None,
    expected: tuple[Any, ...],
    after: str | None,
) -> None:
    # GIVEN an instance no rule matches, with `role` bound by rolebinder, under detach
    seed_world(cloud, [vm("i-nomatch01", {"team": "search"}, role=role, owned=role is not None)])
    use_mapping(mapping(on_no_match="detach"))

    # WHEN its event is handled
    line = check(invoke, "i-nomatch01")

    # THEN only an allow-listed role is detached, by one Detach naming it, marker removed
    assert fields(line, *OUTCOME) == expected
    writes = [(c.action, c.params.get("RamRoleName")) for c in cloud.calls.writes(ok_only=False)]
    # the detach, its marker removed, the change recorded (flap damping)
    detached = [
        ("DetachInstanceRamRole", "AppReader"),
        ("UntagResources", None),
        ("TagResources", None),
    ]
    assert writes == (detached if role == "AppReader" else [])
    assert ecs_state(cloud) == {"i-nomatch01": after}
    if role == "AppReader":
        assert MARKER_KEY not in cloud.ecs(REGION).instances["i-nomatch01"].tags


def test_on_no_match_keep_keeps_an_allowed_role(cloud: FakeCloud, use_mapping, invoke) -> None:
    seed_world(cloud, [vm("i-nomatch02", {"team": "search"}, role="AppReader")])
    use_mapping(mapping(on_no_match="keep"))

    line = check(invoke, "i-nomatch02")

    assert fields(line, *OUTCOME) == ("skipped", "no-matching-rule", None, "AppReader", None)
    assert cloud.calls.writes(ok_only=False) == []
    assert ecs_state(cloud) == {"i-nomatch02": "AppReader"}


# -- refusals ----------------------------------------------------------------------------------


def test_role_tag_naming_a_role_outside_the_allow_list_is_refused(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN an instance tagged ram-role=Admin (a real role that trusts ECS, but not allowed)
    seed_world(cloud, [vm("i-sneaky01", {"ram-role": "Admin"})])
    use_mapping(mapping())

    # WHEN its event is handled
    line = check(invoke, "i-sneaky01")

    # THEN it is refused without asking RAM about Admin, and nothing is written
    assert fields(line, *OUTCOME) == ("skipped", "role-not-allowed", "Admin", None, "by-role-tag")
    assert cloud.calls.count("GetRole") == 0
    assert cloud.calls.writes(ok_only=False) == []
    assert ecs_state(cloud) == {"i-sneaky01": None}


def test_tied_rules_naming_different_roles_change_nothing(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN two rules of equal priority that both match and name different roles
    seed_world(cloud, [vm("i-tied01", PAYMENTS_TAGS)])
    use_mapping(
        mapping(
            {"name": "by-team", "when": {"tags": {"team": "payments"}}, "role": "Payments"},
            {"name": "by-env", "when": {"tags": {"env": "prod"}}, "role": "AppReader"},
        )
    )

    line = check(invoke, "i-tied01")

    assert fields(line, *OUTCOME) == ("skipped", "conflicting-rules", None, None, None)
    assert "by-team -> Payments" in line["detail"]
    assert "by-env -> AppReader" in line["detail"]
    assert cloud.calls.writes(ok_only=False) == []
    assert ecs_state(cloud) == {"i-tied01": None}


def test_higher_priority_rule_wins_a_tie_break(cloud: FakeCloud, use_mapping, invoke) -> None:
    seed_world(cloud, [vm("i-prio01", PAYMENTS_TAGS)])
    use_mapping(
        mapping(
            {
                "name": "by-team",
                "priority": 5,
                "when": {"tags": {"team": "payments"}},
                "role": "Payments",
            },
            {"name": "by-env", "when": {"tags": {"env": "prod"}}, "role": "AppReader"},
        )
    )

    line = check(invoke, "i-prio01")

    assert fields(line, *OUTCOME) == ("attached", "rule-matched", "Payments", None, "by-team")
    assert ecs_state(cloud) == {"i-prio01": "Payments"}


SCOPES = {
    "vpc_ids": ([VPC_ID], ["vpc-bp1elsewhere00001"]),
    "resource_group_ids": (["rg-acfmpayments01"], ["rg-acfmelsewhere1"]),
    "regions": (["cn-hangzhou"], ["cn-shanghai"]),
}


@pytest.mark.parametrize("scope", sorted(SCOPES))
@pytest.mark.parametrize("inside", [True, False], ids=["in-scope", "out-of-scope"])
def test_scopes_include_or_exclude_an_instance(
    cloud: FakeCloud, use_mapping, invoke, scope: str, inside: bool
) -> None:
    # GIVEN a payments instance in the functional VPC, in resource group rg-acfmpayments01
    seed_world(cloud, [vm("i-scoped01", PAYMENTS_TAGS, resource_group_id="rg-acfmpayments01")])
    within, elsewhere = SCOPES[scope]
    rule = {
        **PAYMENTS_RULE,
        "when": {"tags": PAYMENTS_TAGS, scope: within if inside else elsewhere},
    }
    use_mapping(mapping(rule))

    line = check(invoke, "i-scoped01")

    # THEN the rule applies only inside its scope
    if inside:
        assert fields(line, *OUTCOME) == (
            "attached",
            "rule-matched",
            "Payments",
            None,
            "payments-prod",
        )
        assert ecs_state(cloud) == {"i-scoped01": "Payments"}
    else:
        assert fields(line, *OUTCOME) == ("skipped", "no-matching-rule", None, None, None)
        assert cloud.calls.writes(ok_only=False) == []
        assert ecs_state(cloud) == {"i-scoped01": None}


# -- dry run -----------------------------------------------------------------------------------


def test_dry_run_names_every_action_and_writes_nothing(
    cloud: FakeCloud, use_mapping, handler_env, invoke
) -> None:
    # GIVEN one instance to attach, one to replace, one to detach, one already bound
    seed_world(
        cloud,
        [
            vm("i-dry00001", PAYMENTS_TAGS),
            vm("i-dry00002", PAYMENTS_TAGS, role="AppReader", owned=True),
            vm("i-dry00003", {"team": "search"}, role="AppReader", owned=True),
            vm("i-dry00004", {"ram-role": "AppReader"}, role="AppReader"),
        ],
    )
    use_mapping(mapping(on_existing_role="replace", on_no_match="detach"))
    handler_env.setenv("ROLEBINDER_DRY_RUN", "1")

    # WHEN the sweep runs
    run = invoke("reconcile", {"triggerTime": "t", "triggerName": "sweep", "payload": ""})

    # THEN each line names the action it would take, marked dry_run, and nothing is written
    assert run.error is None
    lines = run.by_instance()
    assert {i: (line["outcome"], line["dry_run"]) for i, line in lines.items()} == {
        "i-dry00001": ("attached", True),
        "i-dry00002": ("replaced", True),
        "i-dry00003": ("detached", True),
        "i-dry00004": ("unchanged", True),
    }
    assert fields(lines["i-dry00002"], "role", "previous_role") == ("Payments", "AppReader")
    assert cloud.calls.writes(ok_only=False) == []
    assert run.summary["dry_run"] is True
    assert ecs_state(cloud) == {
        "i-dry00001": None,
        "i-dry00002": "AppReader",
        "i-dry00003": "AppReader",
        "i-dry00004": "AppReader",
    }


# -- roles RAM refuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "reason"),
    [("Ghost", "role-not-found"), ("FcOnly", "role-not-trusted")],
)
def test_unusable_roles_fail_before_any_attach(
    cloud: FakeCloud, use_mapping, invoke, role: str, reason: str
) -> None:
    # GIVEN a rule naming a role RAM does not have (Ghost) or that does not trust ECS (FcOnly)
    seed_world(cloud, [vm("i-badrole01", PAYMENTS_TAGS)])
    use_mapping(mapping({**PAYMENTS_RULE, "role": role}, roles=("AppReader", role)))

    # WHEN its event is handled
    run = invoke("instance_events", state_event("i-badrole01"))

    # THEN the instance fails with that reason (a permanent failure: the handler returns),
    # RAM was asked once and no Attach was sent
    assert run.error is None
    line = run.outcome("i-badrole01")
    assert fields(line, *OUTCOME) == ("failed", reason, role, None, "payments-prod")
    assert role in line["detail"]
    assert cloud.calls.count("GetRole") == 1
    assert cloud.calls.count("AttachInstanceRamRole") == 0
    assert run.summary["outcomes"] == {"failed": 1}
    assert ecs_state(cloud) == {"i-badrole01": None}
