"""The operator commands against the fake cloud: plan, apply, explain, policy, and local mode's
scripted demo (README's main job).

Exit codes: 0 done, 1 some instance failed (or, for explain, was not found), 2 unusable input
reported on one stderr line with no API call made.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from fakecloud import FakeCloud
from rolebinder.entrypoints import invocation
from tests.functional.conftest import ACCOUNT, EXAMPLE_MAPPING, ecs_state

PAY1 = "i-bp1payments0000000001"
READER = "i-bp1reader00000000001"
CLASSIC = "i-bp1classic0000000001"
WRITES = ("AttachInstanceRamRole", "DetachInstanceRamRole")


def writes(cloud: FakeCloud) -> list[str]:
    return [c.action for c in cloud.calls.all() if c.action in WRITES]


# -- plan and apply ---------------------------------------------------------------------------


def test_plan_shows_what_a_sweep_would_change_and_writes_nothing(
    seeded: FakeCloud, handler_env, cli
) -> None:
    done = cli("plan", "--region", "cn-hangzhou")

    assert done.code == 0
    assert writes(seeded) == []
    assert "dry run: nothing written" in done.out
    rows = {line.split()[1]: line for line in done.out.splitlines() if "i-bp1" in line}
    assert re.search(r"Payments\s+│\s+attach\s+│\s+rule-matched", rows[PAY1])
    assert re.search(r"skip\s+│\s+classic-network", rows[CLASSIC])
    assert "5 instance(s): 3 attached, 2 skipped" in done.out


def test_plan_as_json_lines(seeded: FakeCloud, handler_env, cli) -> None:
    done = cli("plan", "--region", "cn-hangzhou", "--json")

    lines = done.lines
    assert done.code == 0
    assert lines[-1] == {
        "kind": "summary",
        "outcomes": {"attached": 3, "skipped": 2},
        "dry_run": True,
        "mode": "enforce",
        "circuit_open": False,
        "shards": 1,
    }
    assert {line["instance_id"] for line in lines[:-1]} == set(ecs_state(seeded))
    assert all(line["dry_run"] for line in lines[:-1])


def test_apply_binds_and_a_second_apply_changes_nothing(
    seeded: FakeCloud, handler_env, cli
) -> None:
    first = cli("apply", "--region", "cn-hangzhou", "--json")
    assert first.code == 0
    assert ecs_state(seeded)[PAY1] == "Payments"
    assert ecs_state(seeded)[READER] == "AppReader"
    seeded.calls.clear()

    second = cli("apply", "--region", "cn-hangzhou")

    assert second.code == 0
    assert writes(seeded) == []
    assert "3 unchanged" in second.out


def test_apply_exits_1_when_an_instance_failed(seeded: FakeCloud, handler_env, cli) -> None:
    seeded.faults.fail_instances(
        "AttachInstanceRamRole", [PAY1], "Forbidden.RiskControl", times=None
    )

    done = cli("apply", "--region", "cn-hangzhou")

    assert done.code == 1
    assert "api-error (Forbidden.RiskControl)" in done.out


# -- explain ----------------------------------------------------------------------------------


def test_explain_names_the_rules_the_winner_and_the_role_check(
    seeded: FakeCloud, handler_env, cli
) -> None:
    done = cli("explain", PAY1, "--region", "cn-hangzhou", "--json")

    document = json.loads(done.out)
    assert done.code == 0
    assert document["winners"] == ["payments-prod"]
    assert [(r["rule"], r["matched"]) for r in document["rules"]] == [
        ("payments-prod", True),
        ("by-role-tag", False),
        ("build-agents", False),
    ]
    assert document["rules"][1]["why"] == "tag ram-role is missing"
    assert document["decision"]["action"] == "attach"
    assert document["decision"]["mode"] == "enforce"
    assert document["role_check"].startswith("passed")
    assert writes(seeded) == []


def test_explain_of_an_unknown_instance_exits_1(seeded: FakeCloud, handler_env, cli) -> None:
    done = cli("explain", "i-bp1nosuchinstance01", "--region", "cn-hangzhou")
    assert done.code == 1
    assert "not found" in done.out


@pytest.mark.parametrize(
    "argv",
    [
        ["explain", "not-an-id", "--region", "cn-hangzhou"],
        ["explain", PAY1],
        ["plan", "--region", "cn-hangzhou", "--mapping", "/nonexistent/mapping.yaml"],
        ["policy", "--account-id", "12ab"],
        ["policy", "--account-id", "1234567890123456", "--regions", "Hangzhou!"],
        ["apply", "--region", "cn-hangzhou", "--allow-changes", "many"],
        ["apply", "--region", "cn-hangzhou", "--allow-changes", "-1"],
        ["adopt"],
        ["adopt", "--region", "cn-hangzhou", "--mapping", "/nonexistent/mapping.yaml"],
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_no_call(
    seeded: FakeCloud, handler_env, cli, argv: list[str]
) -> None:
    done = cli(*argv)
    assert done.code == 2
    assert len(done.err_lines) == 1
    assert seeded.calls.all() == []


# -- policy -----------------------------------------------------------------------------------


# The expected documents, written out by hand from docs/MAPPING.md and README "Security notes":
# reads and the ownership marker on the instances (any region when ROLEBINDER_REGIONS is unset),
# Attach (and Detach only when the mapping can detach) on those instances and the allow-listed
# roles, GetRole and PassRole on exactly those roles; each role ARN also lower-cased. Never
# computed by the code under test.
INSTANCES = f"acs:ecs:*:{ACCOUNT}:instance/*"
READS = {
    "Effect": "Allow",
    "Action": ["ecs:DescribeInstances", "ecs:DescribeInstanceRamRole"],
    "Resource": [INSTANCES],
}
EXAMPLE_ROLES = [
    f"acs:ram:*:{ACCOUNT}:role/AppReader",
    f"acs:ram:*:{ACCOUNT}:role/appreader",
    f"acs:ram:*:{ACCOUNT}:role/Payments",
    f"acs:ram:*:{ACCOUNT}:role/payments",
]


def expected_policy(
    bind_actions: list[str], roles: list[str], marker: tuple[str, ...] = ("ecs:TagResources",)
) -> dict[str, Any]:
    return {
        "Version": "1",
        "Statement": [
            READS,
            {"Effect": "Allow", "Action": list(marker), "Resource": [INSTANCES]},
            {"Effect": "Allow", "Action": bind_actions, "Resource": [INSTANCES, *roles]},
            {"Effect": "Allow", "Action": ["ram:GetRole", "ram:PassRole"], "Resource": roles},
        ],
    }


def test_policy_is_the_least_privilege_document_of_the_mapping(handler_env, cli) -> None:
    done = cli("policy", "--account-id", ACCOUNT)

    assert done.code == 0
    assert json.loads(done.out) == expected_policy(["ecs:AttachInstanceRamRole"], EXAMPLE_ROLES)


@pytest.mark.parametrize(
    "policies",
    [{"on_existing_role": "replace"}, {"on_no_match": "detach"}],
    ids=["replace", "detach"],
)
def test_policy_grants_detach_only_to_a_mapping_that_detaches(
    handler_env, cli, write_mapping, policies: dict[str, str]
) -> None:
    # GIVEN a mapping whose allow-list is Reports only, that may detach
    mapping = {
        "version": 1,
        "roles": ["Reports"],
        "rules": [{"name": "r", "when": {"tags": {"app": "reports"}}, "role": "Reports"}],
        **policies,
    }
    # WHEN its policy is printed
    done = cli("policy", "--account-id", ACCOUNT, "--mapping", str(write_mapping(mapping)))
    # THEN Detach is granted, and PassRole still names only Reports
    assert done.code == 0
    detach = ["ecs:AttachInstanceRamRole", "ecs:DetachInstanceRamRole"]
    roles = [f"acs:ram:*:{ACCOUNT}:role/Reports", f"acs:ram:*:{ACCOUNT}:role/reports"]
    # (only a detach on no match removes a marker: UntagResources)
    untags = "on_no_match" in policies
    marker = ("ecs:TagResources", "ecs:UntagResources") if untags else ("ecs:TagResources",)
    assert json.loads(done.out) == expected_policy(detach, roles, marker)


# -- local mode: README's main job ------------------------------------------------------------


def test_the_local_demo_ends_with_every_instance_in_its_mapped_state(
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a clean environment (local mode sets the handlers' variables itself)
    saved = dict(os.environ)
    invocation.container_runtime.cache_clear()
    try:
        # WHEN the demo runs on a free port
        done = cli("local", "--demo", "--port", "0", "--mapping", str(EXAMPLE_MAPPING))
    finally:
        os.environ.clear()
        os.environ.update(saved)
        invocation.container_runtime.cache_clear()

    # THEN it exits 0 with the table of bindings, every one as the mapping promises
    assert done.code == 0, done.err
    assert "every instance is in its mapped state" in done.out
    assert re.search(r"escalation-attempt .* ram-role=Admin .* - .*role-not-allowed", done.out)
    assert re.search(r"scratch .* AppReader .* attached", done.out)
    # AND, as a hub of two members, the onboarded member's instances got their roles from their
    # events, the sweep fanned out one invocation per account, the unonboarded member failed alone
    assert "every member is served; the broken one failed alone" in done.out
    assert re.search(r"2000000000000001 .* member-payments .* Payments .* attached", done.out)
    assert re.search(r"2000000000000002 .* \(no member role\) .*assume-role-denied", done.out)
    fanned = [json.loads(line) for line in done.out.splitlines() if '"fanned_out"' in line]
    assert [line["fanned_out"] for line in fanned] == [3]
