"""Which trust policies let ECS assume a role: each document is created in the fake cloud, read
back through GetRole by the real SDK, and judged by the RAM gateway.

Only an `Allow` statement whose action covers `sts:AssumeRole` and whose `Principal.Service`
names `ecs.aliyuncs.com` trusts ECS, and an explicit `Deny` of the same wins over it
(docs/research/api-facts.md, 5.5). Everything else (a Deny, another action, another service, an
account principal, a malformed document) must read as "not trusted", so the engine refuses the
role instead of attaching it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fakecloud import FakeCloud, FakeCloudServer
from fakecloud.ram import Role
from rolebinder.aliyun.ram import RamGateway
from rolebinder.aliyun.retry import Deadline
from rolebinder.aliyun.transport import Transport
from tests.functional.conftest import ACCOUNT, seed_world, state_event, vm
from tests.support import make_client

ECS = "ecs.aliyuncs.com"


def allow(**fields: Any) -> dict[str, Any]:
    """One statement: Allow sts:AssumeRole to ECS, with `fields` overriding any of it."""
    return {
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Principal": {"Service": [ECS]},
        **fields,
    }


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


# (case, trust policy text, trusts ECS): the expected verdict is written down, not computed.
CASES: list[tuple[str, str, bool]] = [
    ("service list", document(allow()), True),
    ("service string", document(allow(Principal={"Service": ECS})), True),
    (
        "among other services",
        document(allow(Principal={"Service": ["fc.aliyuncs.com", ECS]})),
        True,
    ),
    ("action list", document(allow(Action=["sts:AssumeRole"])), True),
    ("second statement trusts", document(allow(Action="sts:Other"), allow()), True),
    (
        "deny of another service beside allow",
        document(allow(Effect="Deny", Principal={"Service": "fc.aliyuncs.com"}), allow()),
        True,
    ),
    ("deny beside allow: deny wins", document(allow(), allow(Effect="Deny")), False),
    ("deny", document(allow(Effect="Deny")), False),
    (
        "effect missing",
        document({"Action": "sts:AssumeRole", "Principal": {"Service": [ECS]}}),
        False,
    ),
    ("effect lower case", document(allow(Effect="allow")), False),
    ("other action", document(allow(Action="sts:GetCallerIdentity")), False),
    ("other action list", document(allow(Action=["ram:GetRole", "sts:Other"])), False),
    ("other service string", document(allow(Principal={"Service": "fc.aliyuncs.com"})), False),
    ("other service list", document(allow(Principal={"Service": ["fc.aliyuncs.com"]})), False),
    ("account principal", document(allow(Principal={"RAM": [f"acs:ram::{ACCOUNT}:root"]})), False),
    ("service as RAM principal", document(allow(Principal={"RAM": [ECS]})), False),
    ("principal missing", document({"Effect": "Allow", "Action": "sts:AssumeRole"}), False),
    ("principal is a string", document(allow(Principal=ECS)), False),
    ("service is a number", document(allow(Principal={"Service": 7})), False),
    ("statements not objects", document("Allow", [ECS]), False),  # type: ignore[arg-type]
    ("no statements", document(), False),
    ("several, none trusts", document(allow(Effect="Deny"), allow(Action="sts:Other")), False),
]
# Documents CreateRole refuses (MalformedPolicyDocument): planted straight into the backend, as a
# broken RAM answer would carry them.
PLANTED: list[tuple[str, str]] = [
    ("not JSON", "{not json"),
    ("JSON list", json.dumps([allow()])),
    ("statement is an object", json.dumps({"Version": "1", "Statement": allow()})),
    ("empty", ""),
]


def read_role(server: FakeCloudServer, name: str) -> bool:
    """Whether the RAM gateway, reading `name` through GetRole, says it trusts ECS."""
    gateway = RamGateway(Transport(make_client(server), Deadline(20)))
    role = gateway.get_role(name)
    assert role is not None and role.name == name
    return role.trusts_ecs


@pytest.mark.parametrize(("case", "policy", "trusted"), CASES, ids=[c[0] for c in CASES])
def test_trust_policy_verdict(
    cloud: FakeCloud, server: FakeCloudServer, case: str, policy: str, trusted: bool
) -> None:
    # GIVEN a role created with this trust policy
    seed_world(cloud, [], roles=[{"name": "Probe", "assume_role_policy_document": policy}])
    # WHEN the gateway reads it through GetRole; THEN its verdict is the expected one
    assert read_role(server, "Probe") is trusted


@pytest.mark.parametrize(("case", "text"), PLANTED, ids=[c[0] for c in PLANTED])
def test_malformed_trust_policy_is_not_trusted(
    cloud: FakeCloud, server: FakeCloudServer, case: str, text: str
) -> None:
    # GIVEN a role whose stored trust policy is not a policy document
    seed_world(cloud, [], roles=[])
    backend = cloud.ram(ACCOUNT)
    backend.roles["probe"] = Role("Probe", "3" * 19, ACCOUNT, text, "", cloud.clock.now())
    # WHEN / THEN the gateway answers "not trusted" rather than raising
    assert read_role(server, "Probe") is False


@pytest.mark.parametrize(
    ("policy", "outcome"),
    [
        (document(allow()), ("attached", "rule-matched")),
        (document(allow(Effect="Deny")), ("failed", "role-not-trusted")),
        (document(allow(Action="sts:Other")), ("failed", "role-not-trusted")),
    ],
    ids=["trusted", "deny", "other action"],
)
def test_handler_attaches_only_a_role_that_trusts_ecs(
    cloud: FakeCloud, invoke, policy: str, outcome: tuple[str, str]
) -> None:
    # GIVEN Payments (in the allow-list) with this trust policy, and an instance asking for it
    roles = [{"name": "Payments", "assume_role_policy_document": policy}]
    tags = {"team": "payments", "env": "prod"}
    seed_world(cloud, [vm("i-bp1trust0000000000001", tags)], roles=roles)
    # WHEN its creation event is handled
    run = invoke("instance_events", state_event("i-bp1trust0000000000001"))
    # THEN the role is attached only when it trusts ECS; otherwise nothing is written
    line = run.outcome("i-bp1trust0000000000001")
    assert (line["outcome"], line["reason"]) == outcome
    bound = cloud.ecs("cn-hangzhou").instances["i-bp1trust0000000000001"].role
    assert bound == ("Payments" if outcome[0] == "attached" else None)
