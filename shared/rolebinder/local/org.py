"""Local mode as a hub: member accounts in the fake, the hub's function role, and the wiring
that makes the fake's FC invocations and member events reach the local bus.

Each member gets what member.yml would create: the member role trusting exactly the hub's
function role, plus the mapping's roles, a VPC and an administrator key (to launch instances
there). The last member is left without its member role when `broken` is set: a member that
never deployed member.yml, which must fail alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rolebinder.deploy.template import FUNCTION_DIRS

HUB_ROLE = "rolebinder-fc"
# The hub's function credentials: a session of its role, as FC gives them.
HUB_KEY_ID = "STS.LocalHubFunctionSession"
HUB_KEY_SECRET = "local-hub-function-session-secret"  # noqa: S105 - the fake's local key
HUB_TOKEN = "CAIS-local-hub-function-session-token"  # noqa: S105
MEMBER_VPC = "vpc-bp1member000000001"
MEMBER_VSWITCH = "vsw-bp1member000000001"
_FIRST_MEMBER = 2000000000000001


@dataclass(frozen=True)
class Member:
    account_id: str
    access_key_id: str
    access_key_secret: str  # the fake's local test key, never printed
    onboarded: bool


def member_ids(count: int) -> list[str]:
    return [str(_FIRST_MEMBER + n) for n in range(count)]


def seed_members(
    cloud: Any, hub: str, region: str, count: int, member_role: str, broken: bool = False
) -> list[Member]:
    """Add the hub's role and key, and `count` members (the last one without its role when
    `broken`)."""
    from fakecloud import apply_seed  # noqa: PLC0415 - local mode only

    members = [
        Member(a, f"LTAIlocal{a[-6:]}", f"local-member-secret-{a}", not broken or n < count - 1)
        for n, a in enumerate(member_ids(count))
    ]
    hub_key = {
        "access_key_id": HUB_KEY_ID,
        "access_key_secret": HUB_KEY_SECRET,
        "security_token": HUB_TOKEN,
        "role": HUB_ROLE,
    }
    document = {
        "account_id": hub,
        "keys": [hub_key],
        "roles": [{"name": HUB_ROLE, "trusted_services": ["fc.aliyuncs.com"]}],
        "accounts": {m.account_id: _member(m, hub, region, member_role) for m in members},
    }
    apply_seed(cloud, document)
    return members


def _member(member: Member, hub: str, region: str, member_role: str) -> dict[str, Any]:
    trust = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"RAM": [f"acs:ram::{hub}:role/{HUB_ROLE}"]},
            }
        ],
    }
    role = {"name": member_role, "assume_role_policy_document": json.dumps(trust)}
    roles = [{"name": name} for name in ("AppReader", "Payments", "Admin")]
    vswitch = {"vswitch_id": MEMBER_VSWITCH, "zone_id": f"{region}-h", "cidr": "172.16.9.0/24"}
    return {
        "keys": [
            {"access_key_id": member.access_key_id, "access_key_secret": member.access_key_secret}
        ],
        "roles": [*roles, role] if member.onboarded else roles,
        "regions": {region: {"vpcs": [{"vpc_id": MEMBER_VPC, "vswitches": [vswitch]}]}},
    }


def connect_functions(cloud: Any, bus: Any, hub: str, region: str) -> None:
    """Make the three handlers invocable through the fake's FC API: an asynchronous
    InvokeFunction (the hub's fan-out) becomes a delivery on the local bus."""
    for function in FUNCTION_DIRS:
        cloud.functions.register(
            hub, region, function, lambda body, f=function: bus.invoke_async(f, body)
        )
