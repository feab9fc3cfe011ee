"""template.yml's hub switch: off, the stack is what it was; on, exactly the hub's extras.

The template is instantiated with tests/deploy/ros.py (Conditions, Fn::If, Fn::Split, ...) for
the parameter values a deployment would pass, and compared with what `rolebinder policy --hub`
prints and with the runtime contract of issue 13 (the environment variables).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fakecloud.eventbridge import Bus, Rule
from rolebinder.cli import main
from rolebinder.deploy import template as tpl
from rolebinder.mapping.model import load_mapping
from rolebinder.mapping.permissions import policy_document
from tests.deploy.ros import Stack
from tests.deploy.test_template import SAMPLE_ROUTES, route
from tests.support import HUB_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_MAPPING = ROOT / "examples" / "mapping.yaml"
HUB, REGION = "1111111111111111", "cn-hangzhou"
MEMBERS = "2222222222222222,3333333333333333"
# What a deployment with the switch off has always had in every function's environment.
BASE_ENV = {
    "ROLEBINDER_MAPPING": "/code/mapping.compiled.json",
    "ROLEBINDER_DRY_RUN": "0",
    "ROLEBINDER_DEPLOYMENT": "rolebinder",
    "ROLEBINDER_REGIONS": "",
    "ROLEBINDER_VISIBILITY_WAIT": "30",
    "ROLEBINDER_API_TIMEOUT": "10",
    "ROLEBINDER_RATE_LIMITS": "",
}
HUB_RESOURCES = {"HubPolicy", "HubDirectoryPolicy", "HubEventRole"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return tpl.load_template()


def stack(template: dict[str, Any], **parameters: str) -> Stack:
    return Stack(template, parameters, REGION, HUB)


def environments(created: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        name: body["Properties"]["EnvironmentVariables"]
        for name, body in created.items()
        if body["Type"] == tpl.FUNCTION_TYPE
    }


def role_extra_policy(created: dict[str, Any]) -> dict[str, Any]:
    """Every managed policy attached to the function role, as one document, in template order."""
    role = created["FunctionRole"]["Properties"]["RoleName"]
    statements = [
        statement
        for body in created.values()
        if body["Type"] == "ALIYUN::RAM::ManagedPolicy" and role in body["Properties"]["Roles"]
        for statement in body["Properties"]["PolicyDocument"]["Statement"]
    ]
    return {"Version": "1", "Statement": statements}


def policy_hub(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    base = ["policy", "--hub", "--account-id", HUB, "--region", REGION]
    assert main([*base, *args]) == 0
    return json.loads(capsys.readouterr().out)


# -- off ---------------------------------------------------------------------------------------


def test_off_by_default_creates_nothing_more(template: dict[str, Any]) -> None:
    # GIVEN a deployment that sets no hub parameter
    off = stack(template)
    created = off.resources()
    # THEN no condition holds, no hub resource is made, every other resource is, as before
    assert not any(off.conditions.values())
    assert not HUB_RESOURCES & set(created)
    assert set(created) == {n for n, b in template["Resources"].items() if "Condition" not in b}
    assert {n for n, b in template["Resources"].items() if "Condition" in b} == HUB_RESOURCES
    assert "HubEventRoleName" not in off.outputs()
    assert role_extra_policy(created)["Statement"] == []


def test_off_keeps_the_role_and_its_least_privilege_policy(template: dict[str, Any]) -> None:
    created = stack(template).resources()
    role = created["FunctionRole"]["Properties"]
    assert [p["PolicyName"] for p in role["Policies"]] == [
        f"rolebinder-least-privilege-{REGION}",
        f"rolebinder-delivery-{REGION}",
    ]
    expected = policy_document(load_mapping(EXAMPLE_MAPPING), HUB, (REGION,))
    assert role["Policies"][0]["PolicyDocument"] == expected
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": ["fc.aliyuncs.com"]
    }


def test_off_keeps_the_environment_and_switches_the_hub_variables_off(
    template: dict[str, Any],
) -> None:
    # THEN each function has its old variables unchanged, and the hub's say "one account, no
    # fan-out" (empty values, and the runtime's default member role)
    for function_id, env in environments(stack(template).resources()).items():
        assert {k: v for k, v in env.items() if k not in HUB_VARIABLES} == BASE_ENV, function_id
        assert env["ROLEBINDER_ACCOUNTS"] == ""
        assert env["ROLEBINDER_MEMBER_ROLE"] == "rolebinder-member"
        assert env.get("ROLEBINDER_RECONCILE_FUNCTION", "") == ""


# -- on ----------------------------------------------------------------------------------------


def test_on_sets_the_runtime_contract(template: dict[str, Any]) -> None:
    # GIVEN a hub of two members with its own member role name
    created = stack(template, MemberAccounts=MEMBERS, MemberRoleName="rb-member").resources()
    envs = environments(created)
    reconcile = created["Reconcile"]["Properties"]["FunctionName"]
    # THEN every function serves the members with that role, and the sweep alone fans out to
    # the reconcile function
    for function_id, env in envs.items():
        assert {k: v for k, v in env.items() if k not in HUB_VARIABLES} == BASE_ENV, function_id
        assert env["ROLEBINDER_ACCOUNTS"] == MEMBERS
        assert env["ROLEBINDER_MEMBER_ROLE"] == "rb-member"
    assert envs["Reconcile"]["ROLEBINDER_RECONCILE_FUNCTION"] == reconcile == "rolebinder-reconcile"
    assert "ROLEBINDER_RECONCILE_FUNCTION" not in envs["InstanceEvents"]
    assert "ROLEBINDER_RECONCILE_FUNCTION" not in envs["TagEvents"]


@pytest.mark.parametrize("accounts", [MEMBERS, "rd"])
def test_on_the_role_gets_exactly_policy_hub(
    template: dict[str, Any], capsys: pytest.CaptureFixture[str], accounts: str
) -> None:
    # GIVEN a hub of listed members, or of the whole directory
    created = stack(template, MemberAccounts=accounts).resources()
    # THEN the function role's extra policy is what `rolebinder policy --hub` prints
    assert role_extra_policy(created) == policy_hub(capsys, "--accounts", accounts)


def test_policy_hub_names_the_member_role_the_function_and_the_directory_only_for_rd(
    capsys: pytest.CaptureFixture[str],
) -> None:
    listed = policy_hub(capsys, "--accounts", MEMBERS, "--member-role", "rb-member")
    assert [(s["Action"], s["Resource"]) for s in listed["Statement"]] == [
        (["sts:AssumeRole"], ["acs:ram:*:*:role/rb-member"]),
        (["fc:InvokeFunction"], [f"acs:fc:{REGION}:{HUB}:functions/rolebinder-reconcile"]),
    ]
    directory = policy_hub(capsys, "--accounts", "rd")
    assert directory["Statement"][2] == {
        "Effect": "Allow",
        "Action": ["resourcemanager:ListAccounts"],
        "Resource": "*",
    }


@pytest.mark.parametrize(
    "args",
    [
        ["policy", "--hub", "--account-id", HUB],  # no region
        ["policy", "--hub", "--region", REGION],  # no account
        ["policy", "--hub", "--account-id", HUB, "--region", REGION, "--accounts", "12,x"],
        ["policy", "--hub", "--account-id", HUB, "--region", "Hangzhou"],
        ["policy", "--hub", "--ros", "--account-id", HUB, "--region", REGION],
    ],
)
def test_policy_hub_refuses_bad_input(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_on_the_event_role_trusts_each_member_eventbridge(template: dict[str, Any]) -> None:
    # GIVEN a hub of two listed members
    hub = stack(template, MemberAccounts=MEMBERS)
    created = hub.resources()
    role = created["HubEventRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    # THEN EventBridge in each member, and nobody else, may put events here
    assert statement["Principal"] == {
        "Service": [f"{m}@eventbridge.aliyuncs.com" for m in MEMBERS.split(",")]
    }
    # AND it may put events on this region's default bus of the hub, nothing else
    (policy,) = role["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["eventbridge:PutEvents"],
            "Resource": [f"acs:eventbridge:{REGION}:{HUB}:eventbus/default"],
        }
    ]
    assert not [r for r in created.values() if r["Type"] == "ALIYUN::RAM::AttachPolicyToRole"]
    assert hub.outputs()["HubEventRoleName"] == role["RoleName"] == f"rolebinder-events-{REGION}"


def test_rd_needs_the_senders_listed_for_events(template: dict[str, Any]) -> None:
    # GIVEN a directory-wide hub, without and with EventSenderAccounts
    swept_only = stack(template, MemberAccounts="rd").resources()
    with_events = stack(template, MemberAccounts="rd", EventSenderAccounts="4444").resources()
    # THEN no event role is made until the senders are named, and then it trusts exactly them
    assert "HubEventRole" not in swept_only and "HubDirectoryPolicy" in swept_only
    principal = with_events["HubEventRole"]["Properties"]["AssumeRolePolicyDocument"]
    assert principal["Statement"][0]["Principal"] == {"Service": ["4444@eventbridge.aliyuncs.com"]}


def test_senders_without_a_hub_change_nothing(template: dict[str, Any]) -> None:
    created = stack(template, EventSenderAccounts="4444").resources()
    assert not HUB_RESOURCES & set(created)


@pytest.mark.parametrize("value", ["1, 2", "rd,1", "all", "1,,2", " "])
def test_member_accounts_refuses_what_the_runtime_could_misread(
    template: dict[str, Any], value: str
) -> None:
    import re  # noqa: PLC0415

    assert not re.fullmatch(template["Parameters"]["MemberAccounts"]["AllowedPattern"], value)


# -- forwarded events reach the same triggers --------------------------------------------------


def forwarded(event: dict[str, Any], account: str) -> dict[str, Any]:
    """An event as EventBridge routes it from another account: the source account added."""
    copied = copy.deepcopy(event)
    copied["aliyunoriginalaccountid"] = account
    return copied


@pytest.mark.parametrize("name", sorted(n for n in SAMPLE_ROUTES if n.startswith("eventbridge-")))
def test_forwarded_member_events_route_like_the_hubs_own(
    template: dict[str, Any], name: str
) -> None:
    # GIVEN a sample event, and the same event forwarded from a member's bus
    document = json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))
    events = document if isinstance(document, list) else [document]
    events = [json.loads(e) if isinstance(e, str) else e for e in events]
    bus = Bus([Rule(r.name, r.pattern, r.target) for r in tpl.event_rules(template)])
    # THEN the triggers (which filter on no account) deliver it where they deliver the hub's own
    want = SAMPLE_ROUTES[name] if isinstance(document, list) else [SAMPLE_ROUTES[name]]
    assert [route(bus, forwarded(e, "2222222222222222")) for e in events] == want
