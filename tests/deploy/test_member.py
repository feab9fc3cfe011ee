"""member.yml: the member role trusts exactly the hub's function role, carries exactly
`rolebinder policy --member`, and the forwarding rules carry exactly the hub triggers' patterns.

member.yml is instantiated (tests/deploy/ros.py) as a stack group would create it in a member
account, next to a hub stack of template.yml instantiated with the switch on, so the two are
checked against each other, not against copies written into this file.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from rolebinder.cli import main
from rolebinder.deploy import template as tpl
from tests.deploy.ros import Stack
from tests.deploy.test_template import PSEUDO, unresolved

ROOT = Path(__file__).resolve().parents[2]
MEMBER = ROOT / "member.yml"
EXAMPLE_MAPPING = ROOT / "examples" / "mapping.yaml"
HUB, MEMBER_ACCOUNT, REGION = "1111111111111111", "2222222222222222", "cn-hangzhou"
RULE_TYPE = "ALIYUN::EventBridge::Rule"


@pytest.fixture(scope="module")
def member() -> dict[str, Any]:
    return tpl.load_template(MEMBER)


@pytest.fixture(scope="module")
def hub() -> Stack:
    return Stack(tpl.load_template(), {"MemberAccounts": MEMBER_ACCOUNT}, REGION, HUB)


def member_stack(member: dict[str, Any], hub: Stack, **extra: str) -> Stack:
    """member.yml as the stack group deploys it, with the hub stack's outputs as parameters."""
    created = hub.resources()
    parameters = {
        "HubAccountId": HUB,
        "HubRoleName": created["FunctionRole"]["Properties"]["RoleName"],
        "HubEventRoleName": hub.outputs()["HubEventRoleName"],
        **extra,
    }
    return Stack(member, parameters, REGION, MEMBER_ACCOUNT)


def run(*args: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(list(args)) == 0
    return out.getvalue()


def test_plain_yaml_every_reference_resolves_no_per_account_value(member: dict[str, Any]) -> None:
    text = MEMBER.read_text(encoding="utf-8")
    tokens = {type(token).__name__ for token in yaml.scan(text)}
    assert not tokens & {"TagToken", "AnchorToken", "AliasToken"}
    assert member["ROSTemplateFormatVersion"] == "2015-09-01"
    assert unresolved(member) == []
    # no account id is written into the file: the member is ${ALIYUN::TenantId}, the hub a
    # parameter the same for every member (no ParameterOverrides in the stack group)
    assert not re.search(r"\b[0-9]{12,}\b", text)
    assert "${ALIYUN::TenantId}" in text
    assert set(member["Parameters"]) == {
        "HubAccountId",
        "HubRoleName",
        "HubEventRoleName",
        "HubEventBusName",
        "MemberRoleName",
        "ForwardRetryStrategy",
    }
    assert {"ALIYUN::AccountId"} & {p for p in PSEUDO if p in text} == set()


def test_the_member_role_trusts_exactly_the_hub_function_role(
    member: dict[str, Any], hub: Stack
) -> None:
    # GIVEN member.yml deployed for a hub stack
    role = member_stack(member, hub).resources()["MemberRole"]["Properties"]
    hub_role = hub.resources()["FunctionRole"]["Properties"]["RoleName"]
    # THEN its one trust statement names the hub's function role and nothing else
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement == {
        "Action": "sts:AssumeRole",
        "Effect": "Allow",
        "Principal": {"RAM": [f"acs:ram::{HUB}:role/{hub_role}"]},
    }
    # AND it is the role the hub assumes (ROLEBINDER_MEMBER_ROLE), for up to an hour
    env = hub.resources()["Reconcile"]["Properties"]["EnvironmentVariables"]
    assert role["RoleName"] == env["ROLEBINDER_MEMBER_ROLE"] == "rolebinder-member"
    assert role["MaxSessionDuration"] == 3600


def test_the_member_policy_is_policy_member_ros(member: dict[str, Any]) -> None:
    printed = yaml.safe_load(run("policy", "--member", "--ros", "--mapping", str(EXAMPLE_MAPPING)))
    assert tpl.embedded_policy(member) == printed


def test_the_member_policy_in_a_member_is_policy_member_for_that_account(
    member: dict[str, Any], hub: Stack
) -> None:
    role = member_stack(member, hub).resources()["MemberRole"]["Properties"]
    (policy,) = role["Policies"]
    printed = run(
        "policy", "--member", "--account-id", MEMBER_ACCOUNT, "--regions", REGION,
        "--mapping", str(EXAMPLE_MAPPING),
    )  # fmt: skip
    assert policy["PolicyDocument"] == json.loads(printed)


def rules(member: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: b for n, b in member["Resources"].items() if b["Type"] == RULE_TYPE}


def test_one_forwarding_rule_per_hub_trigger_with_its_pattern(member: dict[str, Any]) -> None:
    # GIVEN the hub's EventBridge triggers and member.yml's rules
    triggers = {
        r.name: r.pattern for r in tpl.event_rules(tpl.load_template())
    }  # InstanceStateTrigger -> pattern
    forwards = rules(member)
    # THEN each trigger has one rule (<Trigger> -> <Trigger minus "Trigger">Forward) with the
    # same pattern, on the member's default bus
    assert {n.removesuffix("Forward") + "Trigger" for n in forwards} == set(triggers)
    for name, body in forwards.items():
        props = body["Properties"]
        assert props["FilterPattern"] == triggers[name.removesuffix("Forward") + "Trigger"], name
        assert props["EventBusName"] == "default"


def test_the_rules_forward_to_the_hub_bus_through_the_hub_event_role(
    member: dict[str, Any], hub: Stack
) -> None:
    created = member_stack(member, hub).resources()
    names = []
    for name in rules(member):
        (target,) = created[name]["Properties"]["Targets"]
        names.append(created[name]["Properties"]["RuleName"])
        assert target["Type"] == "acs.eventbridge"
        assert target["Endpoint"] == f"acs:eventbridge:{REGION}:{HUB}:eventbus/default"
        params = {p["ResourceKey"]: (p["Form"], p.get("Value")) for p in target["ParamList"]}
        assert params == {
            "RegionId": ("CONSTANT", REGION),
            "AccountType": ("CONSTANT", "AnotherAccount"),
            "AccountId": ("CONSTANT", HUB),
            "EventBusName": ("CONSTANT", "default"),
            "RAMRoleName": ("CONSTANT", hub.outputs()["HubEventRoleName"]),
            "Body": ("ORIGINAL", None),
        }
    assert len(set(names)) == len(names) == 5  # the default bus allows 10 service-event rules


def test_the_hub_event_role_trusts_the_member_that_forwards(hub: Stack) -> None:
    role = hub.resources()["HubEventRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": [f"{MEMBER_ACCOUNT}@eventbridge.aliyuncs.com"]}


def test_a_drifted_pattern_is_noticed(member: dict[str, Any]) -> None:
    # GIVEN member.yml with one rule's pattern changed
    drifted = json.loads(json.dumps(member))
    pattern = drifted["Resources"]["TagChangeForward"]["Properties"]["FilterPattern"]
    pattern["data"]["product"] = ["ecs", "rds"]
    # THEN the comparison with the hub's triggers fails
    with pytest.raises(AssertionError):
        test_one_forwarding_rule_per_hub_trigger_with_its_pattern(drifted)


def test_in_the_hub_account_itself_nothing_is_created(member: dict[str, Any], hub: Stack) -> None:
    # GIVEN the stack group reaching the hub's own account (a directory member too)
    stack = member_stack(member, hub)
    in_hub = Stack(member, {k: stack.names[k] for k in member["Parameters"]}, REGION, HUB)
    # THEN no role and no forwarding rule (a rule from the hub's bus to itself would loop)
    assert in_hub.resources() == {} and in_hub.outputs() == {}
    assert set(stack.resources()) == {"MemberRole", *rules(member)}
