"""What the hub attacks share: an organisation and a hub switch (as in test_hub.py), events a
member account forges, and the hub's AssumeRole calls as the fake recorded them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fakecloud import FakeCloud
from tests.functional.conftest import state_event, vm
from tests.functional.hub import (
    MEMBER_A,
    MEMBER_B,
    MEMBER_ROLE,
    NO_ROLE,
    UNTRUSTING,
    routed,
    seed_org,
)
from tests.hardening.conftest import tag_change_event

A1, B1 = "i-bp1attacka0001", "i-bp1attackb0001"
PAYMENTS = {"team": "payments", "env": "prod"}
# What a member may ever see the hub assume: the member role of a served account.
MEMBER_ROLE_ARN = re.compile(rf"acs:ram::(?P<account>[0-9]+):role/{re.escape(MEMBER_ROLE)}")


@pytest.fixture
def org(cloud: FakeCloud) -> FakeCloud:
    return seed_org(
        cloud,
        {
            MEMBER_A: [vm(A1, PAYMENTS)],
            MEMBER_B: [vm(B1, PAYMENTS)],
            NO_ROLE: [],
            UNTRUSTING: [],
        },
    )


def forged(event: dict[str, Any], origin: str) -> dict[str, Any]:
    """A member's event that already claims another origin when it leaves the member's bus (a
    CloudEvents extension attribute the sender set): routed, it keeps the forged origin."""
    return routed({**event, "aliyunoriginalaccountid": origin})


def forged_state(instance_id: str, sender: str, origin: str) -> dict[str, Any]:
    return forged(state_event(instance_id, account=sender), origin)


def forged_tag(instance_id: str, sender: str, origin: str) -> dict[str, Any]:
    return forged(tag_change_event(instance_id, account=sender), origin)


def assume_role_arns(cloud: FakeCloud) -> list[str]:
    """Every RoleArn the hub asked STS for, granted or not."""
    return [c.params["RoleArn"] for c in cloud.calls.all() if c.action == "AssumeRole"]


def writes_in(cloud: FakeCloud, account: str) -> list[str]:
    return [c.action for c in cloud.calls.writes() if c.account_id == account]
