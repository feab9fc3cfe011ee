"""An organisation in the fake cloud: a hub account whose functions run as a role session, and
member accounts holding the member role (trusting exactly the hub's role), the mapping's roles,
a VPC and instances. Everything goes through the fake's seed format (fakecloud.seed)."""

from __future__ import annotations

import json
from typing import Any

from fakecloud import FakeCloud, apply_seed
from fakecloud.eventbridge import deliver_cross_account
from rolebinder.mapping.model import load_mapping
from rolebinder.mapping.permissions import hub_policy, member_policy, policy_document
from tests.functional.conftest import ACCOUNT, EXAMPLE_MAPPING, REGION, ROLES, VPC_ID, VSWITCH_ID

HUB = ACCOUNT
MEMBER_A, MEMBER_B = "2000000000000001", "2000000000000002"
NO_ROLE = "2000000000000003"  # a member that never deployed member.yml
UNTRUSTING = "2000000000000004"  # its member role trusts another account's role
UNLISTED = "2999999999999999"  # not a member at all
HUB_ROLE = "rolebinder-fc"
MEMBER_ROLE = "rolebinder-member"
HUB_KEY_ID = "STS.HubFunctionSession0001"
HUB_KEY_SECRET = "hub-function-session-secret-0001"
HUB_TOKEN = "CAIS-hub-function-session-token-0001"
RECONCILE = "reconcile"


def trust(*principals: str) -> str:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": principals}}
    return json.dumps({"Version": "1", "Statement": [statement]})


def member_key(account: str) -> tuple[str, str]:
    """An administrator key of a member (to launch and tag instances there)."""
    return f"LTAImember{account[-4:]}", f"member-admin-secret-{account}"


def seed_org(
    cloud: FakeCloud,
    members: dict[str, list[dict[str, Any]]],
    mapping_path: Any = EXAMPLE_MAPPING,
) -> FakeCloud:
    """The hub (its function role's session key, its own least-privilege and hub policies) and
    `members` (account -> instances), each with the member role and `member_policy`."""
    mapping = load_mapping(mapping_path)
    hub_document = policy_document(mapping, HUB, (REGION,))
    extra = hub_policy(MEMBER_ROLE, f"acs:fc:{REGION}:{HUB}:functions/{RECONCILE}", True)
    hub_document["Statement"] += extra["Statement"]
    hub_role = {"name": HUB_ROLE, "trusted_services": ["fc.aliyuncs.com"], "policy": hub_document}
    key = {
        "access_key_id": HUB_KEY_ID,
        "access_key_secret": HUB_KEY_SECRET,
        "security_token": HUB_TOKEN,
        "role": HUB_ROLE,
    }
    accounts = {
        account: _member(account, instances, mapping) for account, instances in members.items()
    }
    document = {
        "account_id": HUB,
        "keys": [key],
        "roles": [*ROLES, hub_role],
        "regions": {REGION: _region([])},
        "accounts": accounts,
        "resource_directory": {
            "management_account": HUB,
            "members": [{"account_id": account} for account in members],
        },
    }
    apply_seed(cloud, document)
    return cloud


def _member(account: str, instances: list[dict[str, Any]], mapping: Any) -> dict[str, Any]:
    key_id, secret = member_key(account)
    roles = list(ROLES)
    if account == UNTRUSTING:
        roles.append(
            {
                "name": MEMBER_ROLE,
                "assume_role_policy_document": trust(f"acs:ram::{UNLISTED}:role/{HUB_ROLE}"),
            }
        )
    elif account != NO_ROLE:
        roles.append(
            {
                "name": MEMBER_ROLE,
                "assume_role_policy_document": trust(f"acs:ram::{HUB}:role/{HUB_ROLE}"),
                "policy": member_policy(mapping, regions=(REGION,)),
                "max_session_duration": 3600,
            }
        )
    return {
        "keys": [{"access_key_id": key_id, "access_key_secret": secret}],
        "roles": roles,
        "regions": {REGION: _region(instances)},
    }


def _region(instances: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "vpcs": [{"vpc_id": VPC_ID, "vswitches": [{"vswitch_id": VSWITCH_ID}]}],
        "instances": instances,
    }


def hub_environment(server_url: str, accounts: str) -> dict[str, str]:
    """What template.yml's hub switch gives the functions, pointed at the fake."""
    return {
        "ROLEBINDER_ACCOUNTS": accounts,
        "ROLEBINDER_MEMBER_ROLE": MEMBER_ROLE,
        "ROLEBINDER_STS_ENDPOINT": server_url,
        "ROLEBINDER_RESOURCEMANAGER_ENDPOINT": server_url,
        "ROLEBINDER_FC_ENDPOINT": server_url,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": HUB_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": HUB_KEY_SECRET,
        "ALIBABA_CLOUD_SECURITY_TOKEN": HUB_TOKEN,
    }


def routed(event: dict[str, Any]) -> dict[str, Any]:
    """A member's event as the hub's bus receives it (member.yml's forwarding rule)."""
    return deliver_cross_account(event, HUB)


def member_state(cloud: FakeCloud, account: str) -> dict[str, str | None]:
    return {i.instance_id: i.role for i in cloud.ecs(REGION, account).instances.values()}


def calls_in(cloud: FakeCloud, account: str, action: str | None = None) -> int:
    return sum(
        1
        for c in cloud.calls.all()
        if c.account_id == account and (action is None or c.action == action)
    )
