"""Multi-account seeds (`accounts:`, `resource_directory:`, role policies, role and root keys),
key principals, and a member's event as the hub's bus receives it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkresourcemanager.request.v20200331.ListAccountsRequest import ListAccountsRequest

import fakecloud.seed as seed_module
from fakecloud import FakeCloud, FakeCloudServer, SeedError, apply_seed
from fakecloud.auth import Principal
from fakecloud.eventbridge import Bus, Rule, deliver_cross_account
from tests.fakecloud.accounts import (
    HUB,
    HUB_ROLE,
    MEMBER,
    MEMBER_ROLE,
    allow,
    assume,
    assume_request,
    document,
    rpc_client,
    session_client,
    trust,
)
from tests.fakecloud.builders import assert_error, run_request, server_error
from tests.support import call

MEMBER_TRUST = json.dumps(document(trust(f"acs:ram::{HUB}:role/{HUB_ROLE}")))
SEED: dict[str, Any] = {
    "keys": [
        {
            "access_key_id": "STS.hubFn",
            "access_key_secret": "hub-fn-secret",
            "security_token": "CAIS-hub-fn",
            "role": HUB_ROLE,
        },
        {"access_key_id": "LTAIhubRoot", "access_key_secret": "root-secret", "root": True},
    ],
    "roles": [
        {
            "name": HUB_ROLE,
            "trusted_services": ["fc.aliyuncs.com"],
            "policy": document(allow(["sts:AssumeRole", "resourcemanager:ListAccounts"])),
        }
    ],
    "accounts": {
        MEMBER: {
            "keys": [{"access_key_id": "LTAImember", "access_key_secret": "member-secret"}],
            "roles": [
                {
                    "name": MEMBER_ROLE,
                    "assume_role_policy_document": MEMBER_TRUST,
                    "policy": document(allow("ecs:DescribeInstances")),
                    "max_session_duration": 7200,
                }
            ],
            "regions": {
                "cn-hangzhou": {"instances": [{"instance_id": "i-m1", "network": "classic"}]}
            },
        }
    },
    "resource_directory": {
        "management_account": HUB,
        "members": [{"account_id": MEMBER, "display_name": "payments"}],
    },
}
HUB_FN = {
    "access_key_id": "STS.hubFn",
    "access_key_secret": "hub-fn-secret",
    "security_token": "CAIS-hub-fn",
}


def test_a_seeded_organisation_works_end_to_end(cloud: FakeCloud, server: FakeCloudServer) -> None:
    # GIVEN the seed: a hub function's credentials, a member role trusting that role
    apply_seed(cloud, SEED)
    hub = rpc_client(server, **HUB_FN)

    # WHEN the hub lists the members and assumes the member role for 2 hours
    listed = call(hub, ListAccountsRequest())["Accounts"]["Account"]
    body = assume(hub, f"acs:ram::{MEMBER}:role/{MEMBER_ROLE}", DurationSeconds=7200)
    member = session_client(server, body)

    # THEN it sees the member's instance, with the member role's (describe-only) policy
    assert [(a["AccountId"], a["DisplayName"]) for a in listed] == [(MEMBER, "payments")]
    assert (
        call(member, DescribeInstancesRequest())["Instances"]["Instance"][0]["InstanceId"] == "i-m1"
    )
    assert_error(server_error(member, run_request(vswitch_id=None)), "Forbidden.RAM", 403)


def test_a_key_under_accounts_belongs_to_that_account(cloud: FakeCloud) -> None:
    apply_seed(cloud, SEED)

    key = cloud.auth.keys["LTAImember"]
    assert (key.account_id, key.principal) == (MEMBER, Principal("user"))
    assert cloud.auth.keys["STS.hubFn"].principal.arn(HUB) == f"acs:ram::{HUB}:role/{HUB_ROLE}"
    assert cloud.auth.keys["LTAIhubRoot"].principal.arn(HUB) == f"acs:ram::{HUB}:root"


def test_a_seeded_root_key_cannot_assume_roles(cloud: FakeCloud, server: FakeCloudServer) -> None:
    apply_seed(cloud, SEED)
    root = rpc_client(server, access_key_id="LTAIhubRoot", access_key_secret="root-secret")

    error = server_error(root, assume_request(f"acs:ram::{MEMBER}:role/{MEMBER_ROLE}"))

    assert_error(error, "NoPermission", 403)
    assert error.get_error_msg() == "Roles may not be assumed by root accounts."


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda s: s["accounts"].update({"12ab": {}}), "accounts"),
        (lambda s: s["accounts"][MEMBER].update({"account_id": MEMBER}), f"accounts/{MEMBER}"),
        (lambda s: s["accounts"][MEMBER]["keys"][0].update({"account_id": HUB}), "keys/0"),
        (lambda s: s["roles"][0].update({"max_session_duration": 60}), "roles/0"),
        (lambda s: s["resource_directory"].pop("management_account"), "resource_directory"),
        (lambda s: s["resource_directory"]["members"][0].update({"status": "Joined"}), "members/0"),
        (lambda s: s["keys"][0].update({"root": "yes"}), "keys/0"),
    ],
)
def test_a_malformed_multi_account_seed_names_the_path(
    cloud: FakeCloud, change: Any, where: str
) -> None:
    seed = json.loads(json.dumps(SEED))
    change(seed)

    with pytest.raises(SeedError, match=re.escape(where)):
        apply_seed(cloud, seed)


def test_a_role_key_without_a_token_is_a_seed_error(cloud: FakeCloud) -> None:
    seed = {"keys": [{"access_key_id": "AK", "access_key_secret": "SK", "role": "r"}]}

    with pytest.raises(SeedError, match="key AK: a role-session key needs a security_token"):
        apply_seed(cloud, seed)


def test_a_bad_role_policy_is_a_seed_error(cloud: FakeCloud) -> None:
    with pytest.raises(SeedError, match="role R: policy"):
        apply_seed(cloud, {"roles": [{"name": "R", "policy": {"Statement": "all"}}]})


def test_the_module_docstring_example_is_a_valid_seed(cloud: FakeCloud) -> None:
    example = re.search(r"```yaml\n(.*?)```", seed_module.__doc__ or "", re.DOTALL)
    assert example

    apply_seed(cloud, yaml.safe_load(example.group(1)))

    assert set(cloud.accounts) == {HUB, MEMBER}
    assert cloud.directory is not None and cloud.directory.management_account == HUB


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"role": "r"}, "needs a security_token"),
        ({"role": "r", "security_token": "t", "root": True}, "cannot be root"),
        ({"root": True, "security_token": "t"}, "never an STS credential"),
    ],
)
def test_impossible_principals_are_refused(cloud: FakeCloud, options: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cloud.add_key("AK", "SK", **options)


# -- cross-account EventBridge delivery ------------------------------------------------------


def member_event(cloud: FakeCloud) -> dict[str, Any]:
    """A state-change event as the fake's emitter makes it in the member account."""
    return cloud.events.state_change(MEMBER, "cn-hangzhou", "i-bp1member", "Running", 0.0)


def test_a_member_event_reaches_the_hub_with_its_original_account(cloud: FakeCloud) -> None:
    event = member_event(cloud)
    event.pop("aliyunoriginalaccountid", None)  # one documented shape omits it

    delivered = deliver_cross_account(event, HUB)

    assert delivered["aliyunoriginalaccountid"] == MEMBER
    assert delivered["aliyunaccountid"] == MEMBER  # kept: our choice, see the helper
    assert delivered["aliyuneventbusname"] == "default"
    assert delivered["data"] == event["data"] and "aliyunoriginalaccountid" not in event


def test_the_hubs_rule_can_filter_on_the_original_account(cloud: FakeCloud) -> None:
    rule = Rule("members", {"aliyunoriginalaccountid": [MEMBER]}, "instance_events")
    other = Rule("others", {"aliyunoriginalaccountid": ["9"]}, "nobody")
    bus = Bus([rule, other])

    targets = bus.targets(deliver_cross_account(member_event(cloud), HUB, bus_name="hub-bus"))

    assert targets == ["instance_events"]


def test_an_event_of_the_hubs_own_account_crosses_nothing(cloud: FakeCloud) -> None:
    event = cloud.events.state_change(HUB, "cn-hangzhou", "i-bp1hub", "Running", 0.0)

    assert deliver_cross_account(event, HUB) == event


def test_an_event_without_an_account_is_refused() -> None:
    with pytest.raises(ValueError, match="aliyunaccountid"):
        deliver_cross_account({"data": {}}, HUB)
