"""Attacks on the hub, continued: a container's memory shared by accounts, the fan-out (recursion,
amplification, duplicates), member secrets, what the member role lets the hub do, the operator's
tools. Through the real SDKs against the fake cloud, like tests/functional/test_attacks_hub.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.AttachInstanceRamRoleRequest import (
    AttachInstanceRamRoleRequest,
)
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest

from fakecloud import FakeCloud, FakeCloudServer
from tests.functional.conftest import REGION, state_event, timer_event
from tests.functional.hub import (
    HUB,
    HUB_KEY_ID,
    HUB_KEY_SECRET,
    HUB_TOKEN,
    MEMBER_A,
    MEMBER_B,
    MEMBER_ROLE,
    NO_ROLE,
    RECONCILE,
    UNLISTED,
    calls_in,
    member_state,
    routed,
    trust,
)
from tests.functional.hub_attack_support import A1, B1, org
from tests.secrets_scan import leaks_in
from tests.support import call, make_client

__all__ = ["org"]  # a fixture
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yml"
ECS_TRUST = json.dumps(
    {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": ["ecs.aliyuncs.com"]},
            }
        ],
    }
)


# -- 1. what a warm container remembers is per account -------------------------------------------


@pytest.mark.usefixtures("hub")
def test_an_instance_settled_in_one_member_is_not_recalled_for_another(
    org: FakeCloud, invoke
) -> None:
    # GIVEN B's instance just bound by this container
    assert invoke("instance_events", routed(state_event(B1, account=MEMBER_B))).error is None
    # WHEN member A sends a creation event naming B's instance id
    run = invoke("instance_events", routed(state_event(B1, account=MEMBER_A, event_id="a")))
    # THEN A's account is read for it (it is not there): B's memory does not answer for A, and
    # no line says that A's account holds a bound B1
    line = run.outcome(B1)
    assert (line["account_id"], line["outcome"]) == (MEMBER_A, "failed")
    assert calls_in(org, MEMBER_A, "DescribeInstances") > 0


# -- 2. the fan-out ------------------------------------------------------------------------------


@pytest.fixture
def fanning(org: FakeCloud, hub: Callable[[str], None], handler_env: pytest.MonkeyPatch) -> list:
    """A hub whose reconcile function is registered in the fake (its bodies are collected)."""
    bodies: list[bytes] = []
    org.functions.register(HUB, REGION, RECONCILE, bodies.append)
    handler_env.setenv("ROLEBINDER_RECONCILE_FUNCTION", RECONCILE)
    hub(f"{MEMBER_A},{MEMBER_B},{NO_ROLE}")
    return bodies


def test_a_payload_fans_out_once_per_served_account_and_never_again(
    org: FakeCloud, fanning: list[bytes], invoke
) -> None:
    # GIVEN a caller of reconcile naming served, unlisted and repeated accounts
    names = [MEMBER_A, UNLISTED, MEMBER_A, MEMBER_B, HUB]
    event = {**timer_event(), "payload": json.dumps({"accounts": names})}
    run = invoke("reconcile", event)
    org.functions.wait(timeout=5)
    # THEN one invocation per served account named, the unlisted one refused
    assert run.summary["fanned_out"] == 3
    named = sorted(json.loads(json.loads(b)["payload"])["accounts"][0] for b in fanning)
    assert named == sorted([MEMBER_A, MEMBER_B, HUB])
    # WHEN each is delivered twice (async invocations are at least once)
    for body in list(fanning) * 2:
        shard = invoke("reconcile", json.loads(body))
        assert "fanned_out" not in shard.summary  # no invocation fans out again
    # THEN nothing more was queued, and the duplicates wrote nothing twice
    assert len(org.functions.invocations) == 3
    assert member_state(org, MEMBER_A)[A1] == "Payments"
    attaches = [c.account_id for c in org.calls.writes() if c.action == "AttachInstanceRamRole"]
    assert sorted(attaches) == [MEMBER_A, MEMBER_B]


# -- 3. member secrets ---------------------------------------------------------------------------


def member_secrets(cloud: FakeCloud) -> set[str]:
    """The secrets and tokens STS handed the hub for its members."""
    keys = cloud.auth.keys.values()
    return {
        secret
        for key in keys
        if key.account_id != HUB and key.access_key_id.startswith("STS.")
        for secret in (key.access_key_secret, key.security_token or "")
        if secret
    }


def test_no_member_secret_reaches_a_line_a_payload_or_an_exception(
    org: FakeCloud, fanning: list[bytes], invoke
) -> None:
    runs = [invoke("reconcile", timer_event())]
    org.functions.wait(timeout=5)
    runs += [invoke("reconcile", json.loads(body)) for body in fanning]
    org.advance(3601)  # the cloud expires the cached member credentials
    runs.append(invoke("instance_events", routed(state_event(A1, account=MEMBER_A))))
    assert runs[-1].error is not None  # retryable: the expired credentials were dropped
    secrets = member_secrets(org)
    assert secrets  # the hub did receive member credentials
    texts = [json.dumps(r.lines) + r.stderr + repr(r.error) + str(r.error) for r in runs]
    texts += [body.decode() for body in fanning]
    for text in texts:
        assert not [s for s in secrets if s in text]
        assert leaks_in(text) == []


# -- 4. what the member role and the hub's policy let the hub do ---------------------------------


def sts_client(server: FakeCloudServer, key: tuple[str, str, str | None]) -> AcsClient:
    client = make_client(
        server, access_key_id=key[0], access_key_secret=key[1], security_token=key[2]
    )
    client.add_endpoint(REGION, "Sts", server.url)
    return client


def assume(client: AcsClient, account: str, role: str) -> tuple[str, str, str | None] | str:
    """The role's credentials, or the error code STS answered."""
    request = AssumeRoleRequest()
    request.set_RoleArn(f"acs:ram::{account}:role/{role}")
    request.set_RoleSessionName("attack")
    try:
        found = call(client, request)["Credentials"]
    except ServerException as error:
        return error.get_error_code()
    return found["AccessKeyId"], found["AccessKeySecret"], found["SecurityToken"]


def test_the_hub_role_reaches_only_member_roles_and_they_only_the_allow_list(
    org: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN in member A an administrator role that trusts the hub's whole account (too much
    # trust), and one ECS may take
    trusting_hub = trust(f"acs:ram::{HUB}:root")
    org.ram(MEMBER_A).create_role("OrgAdmin", trusting_hub)
    org.ram(MEMBER_A).create_role("EcsAdmin", ECS_TRUST)
    hub_client = sts_client(server, (HUB_KEY_ID, HUB_KEY_SECRET, HUB_TOKEN))
    # THEN the hub's function role may not assume it: its policy names only the member role
    assert assume(hub_client, MEMBER_A, "OrgAdmin") == "NoPermission"
    # AND with the member role, which the hub may assume...
    member = assume(hub_client, MEMBER_A, MEMBER_ROLE)
    assert isinstance(member, tuple)
    member_client = sts_client(server, member)
    # ...it can neither bind a role outside the allow-list nor hop to another member
    attach = AttachInstanceRamRoleRequest()
    attach.set_InstanceIds(json.dumps([A1]))
    attach.set_RamRoleName("EcsAdmin")
    with pytest.raises(ServerException) as refused:
        call(member_client, attach)
    assert refused.value.get_error_code().startswith("Forbidden")
    assert assume(member_client, MEMBER_B, MEMBER_ROLE) == "NoPermission"
    assert member_state(org, MEMBER_A)[A1] is None


# -- 5. the operator's policy generator and the hub switch ---------------------------------------


@pytest.mark.parametrize(
    "option",
    [("--member-role", "*"), ("--member-role", "a,b"), ("--reconcile-function", "*")],
)
def test_policy_hub_refuses_a_wildcard_that_would_widen_the_grant(cli, option) -> None:
    # A careless `--member-role '*'` printed sts:AssumeRole on acs:ram:*:*:role/*: every role
    # in any account (the hub's own included) that trusts the hub's role or its account.
    done = cli("policy", "--hub", "--account-id", HUB, "--region", REGION, *option)
    assert done.code == 2, done.out
    assert '"*"' not in done.out and "role/*" not in done.out


def test_the_hub_event_role_may_put_events_only_on_this_regions_default_bus() -> None:
    # Found by this review: the role had the system policy AliyunEventBridgePutEventsPolicy
    # (PutEvents on "*": every bus of the hub account, any region) for every sender account.
    template = yaml.safe_load(TEMPLATE.read_text())
    resources = template["Resources"]
    role = resources["HubEventRole"]["Properties"]
    attached = [
        r
        for r in resources.values()
        if r["Type"] == "ALIYUN::RAM::AttachPolicyToRole"
        and "HubEventRole" in json.dumps(r["Properties"].get("RoleName", ""))
    ]
    assert attached == []
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["eventbridge:PutEvents"]
    assert statement["Resource"] == [
        {"Fn::Sub": "acs:eventbridge:${ALIYUN::Region}:${ALIYUN::TenantId}:eventbus/default"}
    ]
