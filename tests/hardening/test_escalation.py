"""Privilege escalation: every way to talk rolebinder into a role it must not grant, refused.

Each attack is tried through every way an instance reaches the engine (a state change, a
RunInstances record, a tag change, the sweep), next to a legitimate instance that does get its
role in the same delivery, so "no write" is a statement about the attacker, not an idle run.
Then least privilege: the handlers' key carries exactly `rolebinder policy`'s output. It is
enough for every sample event; with it the cloud itself refuses any other role; and every grant
in it is needed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkecs.request.v20140526.AttachInstanceRamRoleRequest import AttachInstanceRamRoleRequest
from aliyunsdkecs.request.v20140526.DetachInstanceRamRoleRequest import DetachInstanceRamRoleRequest
from aliyunsdkram.request.v20150501.GetRoleRequest import GetRoleRequest

from fakecloud import FakeCloud, FakeCloudServer
from rolebinder.cli import main as rolebinder
from rolebinder.mapping.model import mapping_from_document
from rolebinder.mapping.permissions import policy_document
from tests.functional.conftest import (
    ACCOUNT,
    EXAMPLE_MAPPING,
    ecs_state,
    event_bytes,
    seed_world,
    state_event,
    timer_event,
    vm,
)
from tests.functional.test_events_replay import EVENT_FILES, ROWS, SEED_BINDINGS, projection
from tests.hardening.conftest import Figures, Run, check_bindings, tag_change_event
from tests.support import REGION, make_client

PAYMENTS_TAGS = {"team": "payments", "env": "prod"}
NEIGHBOUR = "i-esc00neighbour"  # ram-role=AppReader: gets AppReader in the same delivery
ATTACKER = "i-esc00attacker1"
FOREIGN = "9999999999999999"
PAYMENTS_RULE = {"name": "payments-prod", "when": {"tags": PAYMENTS_TAGS}, "role": "Payments"}
ROLE_TAG_RULE = {
    "name": "by-role-tag",
    "when": {"tags": {"ram-role": "*"}},
    "role_from_tag": "ram-role",
    "allowed_roles": ["AppReader", "Payments"],
}


def mapping(**changes: Any) -> dict[str, Any]:
    base = {
        "version": 1,
        "roles": ["AppReader", "Payments"],
        "rules": [PAYMENTS_RULE, ROLE_TAG_RULE],
        "on_existing_role": "keep",
        "on_no_match": "keep",
    }
    return {**base, **changes}


def scoped(scope: str, values: list[str]) -> dict[str, Any]:
    rule = {**PAYMENTS_RULE, "when": {"tags": PAYMENTS_TAGS, scope: values}}
    return mapping(rules=[rule, ROLE_TAG_RULE])


@dataclass(frozen=True)
class Attack:
    """An instance set up to obtain (or take away) a role it must not get, and the refusal."""

    name: str
    tags: dict[str, str]
    refusal: tuple[str, str]  # the attacker's (outcome, reason)
    mapping: dict[str, Any] = field(default_factory=mapping)
    role: str | None = None  # the role the attacker carries at the start
    # Roles no call may name at all (not even GetRole); the attacker's role is never written.
    never_named: tuple[str, ...] = ()


LOOKALIKES = {
    "lower-case": "appreader",
    "upper-case": "APPREADER",
    "trailing-space": "AppReader ",
    "leading-space": " AppReader",
    "cyrillic-a": "AppRe\u0430der",
    "zero-width-space": "AppReader\u200b",
    "fullwidth-A": "\uff21ppReader",
    "trailing-newline": "AppReader\n",
}
NOT_ALLOWED = ("skipped", "role-not-allowed")
KEPT = ("skipped", "existing-role-kept")
NO_RULE = ("skipped", "no-matching-rule")
REFUSED = ("skipped", "role-not-allowed")
ATTACKS = [
    Attack(
        "role-outside-the-allow-list", {"ram-role": "Admin"}, NOT_ALLOWED, never_named=("Admin",)
    ),
    *(
        Attack(f"lookalike-{name}", {"ram-role": value}, NOT_ALLOWED, never_named=(value,))
        for name, value in LOOKALIKES.items()
    ),
    Attack(
        "role-not-trusting-ecs",
        {"ram-role": "FcOnly"},
        ("failed", "role-not-trusted"),
        mapping(
            roles=["AppReader", "Payments", "FcOnly"],
            rules=[PAYMENTS_RULE, {**ROLE_TAG_RULE, "allowed_roles": ["AppReader", "FcOnly"]}],
        ),
    ),
    # Per-rule authority: the tag names an allow-listed role its own rule may not grant.
    Attack(
        "role-outside-the-rule",
        {"ram-role": "Payments"},
        REFUSED,
        mapping(rules=[PAYMENTS_RULE, {**ROLE_TAG_RULE, "allowed_roles": ["AppReader"]}]),
        never_named=("Payments",),
    ),
    Attack(
        "vpc-out-of-scope",
        PAYMENTS_TAGS,
        NO_RULE,
        scoped("vpc_ids", ["vpc-bp1elsewhere00001"]),
        never_named=("Payments",),
    ),
    Attack(
        "resource-group-out-of-scope",
        PAYMENTS_TAGS,
        NO_RULE,
        scoped("resource_group_ids", ["rg-acfmelsewhere1"]),
        never_named=("Payments",),
    ),
    Attack(
        "region-out-of-scope",
        PAYMENTS_TAGS,
        NO_RULE,
        scoped("regions", ["cn-shanghai"]),
        never_named=("Payments",),
    ),
    Attack(
        "replace-a-role-outside-the-allow-list",
        PAYMENTS_TAGS,
        KEPT,
        mapping(on_existing_role="replace"),
        role="Admin",
        never_named=("Admin", "Payments"),
    ),
    Attack(
        "replace-it-through-a-role-tag",
        {"ram-role": "AppReader"},
        KEPT,
        mapping(on_existing_role="replace"),
        role="Admin",
        never_named=("Admin",),
    ),
    Attack(
        "detach-a-role-outside-the-allow-list",
        {"team": "search"},
        KEPT,
        mapping(on_no_match="detach"),
        role="Admin",
        never_named=("Admin",),
    ),
]


def trail_record(ids: list[str], account: str = ACCOUNT) -> dict[str, Any]:
    """An ActionTrail RunInstances record (raw, as CloudMonitor-less setups deliver it)."""
    return {
        "eventId": f"evt-esc-runinstances-{account}",
        "eventVersion": "1",
        "eventType": "ApiCall",
        "eventName": "RunInstances",
        "acsRegion": REGION,
        "recipientAccountId": account,
        "requestParameters": {"RegionId": REGION, "Amount": str(len(ids))},
        "responseElements": {"InstanceIdSets": {"InstanceIdSet": ids}},
    }


ROUTES: dict[str, tuple[str, Callable[[list[str]], Any]]] = {
    "state-change": ("instance_events", lambda ids: [state_event(i) for i in ids]),
    "runinstances-record": ("instance_events", trail_record),
    "tag-change": ("tag_events", lambda ids: [tag_change_event(i) for i in ids]),
    "sweep": ("reconcile", lambda ids: timer_event()),
}


def named_roles(cloud: FakeCloud) -> set[str]:
    """Every role name any call asked about or wrote."""
    return {
        name
        for call in cloud.calls.all()
        for name in (call.params.get("RoleName"), call.params.get("RamRoleName"))
        if name is not None
    }


def writes_for(cloud: FakeCloud, instance_id: str) -> list[Any]:
    """Attach/Detach calls that named the instance, refused ones included."""
    return [
        call
        for call in cloud.calls.writes(ok_only=False)
        if instance_id in json.loads(call.params.get("InstanceIds", "[]"))
    ]


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("attack", ATTACKS, ids=[attack.name for attack in ATTACKS])
def test_an_escalation_attempt_is_refused_without_a_write(
    cloud: FakeCloud,
    use_mapping,
    invoke: Callable[..., Run],
    figures: Figures,
    attack: Attack,
    route: str,
) -> None:
    # GIVEN the attacker's instance (in the functional VPC, resource group rg-acfmpayments01)
    # and a legitimate neighbour tagged ram-role=AppReader
    use_mapping(attack.mapping)
    attacker = vm(ATTACKER, attack.tags, role=attack.role, resource_group_id="rg-acfmpayments01")
    seed_world(cloud, [attacker, vm(NEIGHBOUR, {"ram-role": "AppReader"})])
    handler, event_for = ROUTES[route]

    # WHEN both reach the engine through one delivery
    run = invoke(handler, event_for([ATTACKER, NEIGHBOUR]))

    # THEN the attacker is refused with the documented outcome, and nothing names it in a write
    assert run.error is None
    line = run.outcome(ATTACKER)
    assert (line["outcome"], line["reason"]) == attack.refusal, line
    assert writes_for(cloud, ATTACKER) == []
    # AND the roles it aimed at were never even named in a call
    assert not set(attack.never_named) & named_roles(cloud)
    # AND the neighbour got its role in the same delivery: the refusal was not an idle run
    assert run.outcome(NEIGHBOUR)["outcome"] == "attached"
    figures["attacks_refused"] += 1
    expected = {ATTACKER: attack.role, NEIGHBOUR: "AppReader"}
    assert check_bindings(figures, cloud, expected, [run]) == {}


# -- what an event says is never believed --------------------------------------------------------


def claiming(shape: str, instance_id: str) -> dict[str, Any]:
    """A tag event whose payload claims ram-role=Admin for the instance."""
    if shape == "eventbridge":
        event = tag_change_event(instance_id)
        event["data"]["tags"] = {"ram-role": "Admin"}
        return event
    if shape == "cloudmonitor":
        return {
            "ver": "1.0",
            "id": "evt-esc-claim-cm",
            "product": "tag",
            "name": "Tag:ChangeOnResource",
            "resourceId": f"acs:ecs:{REGION}:{ACCOUNT}:instance/{instance_id}",
            "userId": ACCOUNT,
            "regionId": REGION,
            "content": {
                "product": "ecs",
                "resourceType": "instance",
                "resourceId": instance_id,
                "changedTagKeys": ["ram-role"],
                "tags": {"ram-role": "Admin"},
            },
        }
    return {
        "eventId": "evt-esc-claim-trail",
        "eventVersion": "1",
        "eventType": "ApiCall",
        "eventName": "TagResources",
        "acsRegion": REGION,
        "recipientAccountId": ACCOUNT,
        "requestParameters": {
            "RegionId": REGION,
            "ResourceType": "instance",
            "ResourceId.1": instance_id,
            "Tag.1.Key": "ram-role",
            "Tag.1.Value": "Admin",
        },
        "responseElements": {"RequestId": "req-esc-claim"},
    }


@pytest.mark.parametrize("shape", ["eventbridge", "cloudmonitor", "actiontrail"])
def test_tags_an_event_claims_are_never_believed(
    cloud: FakeCloud, invoke: Callable[..., Run], figures: Figures, shape: str
) -> None:
    # GIVEN an instance tagged ram-role=AppReader, and a tag event claiming ram-role=Admin
    seed_world(cloud, [vm(ATTACKER, {"ram-role": "AppReader"})])

    run = invoke("tag_events", claiming(shape, ATTACKER))

    # THEN the instance gets what the API says (AppReader); Admin is never even looked up
    assert run.error is None
    line = run.outcome(ATTACKER)
    assert (line["outcome"], line["role"]) == ("attached", "AppReader")
    assert named_roles(cloud) == {"AppReader"}
    figures["attacks_refused"] += 1
    assert check_bindings(figures, cloud, {ATTACKER: "AppReader"}, [run]) == {}


FOREIGN_EVENTS: dict[str, tuple[str, Callable[[], Any]]] = {
    "state-change": ("instance_events", lambda: state_event(ATTACKER, account=FOREIGN)),
    "runinstances-record": ("instance_events", lambda: trail_record([ATTACKER], FOREIGN)),
    "tag-change": ("tag_events", lambda: tag_change_event(ATTACKER, account=FOREIGN)),
}


@pytest.mark.parametrize("shape", sorted(FOREIGN_EVENTS))
def test_an_event_from_another_account_costs_no_call(
    cloud: FakeCloud, invoke: Callable[..., Run], figures: Figures, shape: str
) -> None:
    # GIVEN an instance of OUR account, and an event from another account naming its id
    seed_world(cloud, [vm(ATTACKER, PAYMENTS_TAGS), vm(NEIGHBOUR, {"ram-role": "AppReader"})])
    handler, event = FOREIGN_EVENTS[shape]

    # WHEN it is delivered alone
    alone = invoke(handler, event())

    # THEN it is ignored as foreign-account, without one API call
    assert alone.error is None
    assert [(o["outcome"], o["reason"]) for o in alone.outcomes] == [("ignored", "foreign-account")]
    assert cloud.calls.all() == []

    # AND in one batch with one of our own events, only ours is served
    mixed = invoke("instance_events", [event(), state_event(NEIGHBOUR)])
    assert [(o["outcome"], o["reason"]) for o in mixed.outcomes] == [
        ("ignored", "foreign-account"),
        ("attached", "rule-matched"),
    ]
    assert not any(ATTACKER in json.dumps(call.params) for call in cloud.calls.all())
    figures["attacks_refused"] += 2
    expected = {ATTACKER: None, NEIGHBOUR: "AppReader"}
    assert check_bindings(figures, cloud, expected, [alone, mixed]) == {}


# -- least privilege ------------------------------------------------------------------------------

POLICY_KEY = "LTAI5tHardeningPolicy1"
POLICY_SECRET = "hardening-policy-secret"  # a test credential, for the fake only


def cli_policy(mapping_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """What `rolebinder policy --account-id ACCOUNT` prints for the mapping."""
    capsys.readouterr()
    assert rolebinder(["policy", "--account-id", ACCOUNT, "--mapping", str(mapping_path)]) == 0
    return json.loads(capsys.readouterr().out)


def use_policy_key(
    cloud: FakeCloud, handler_env: pytest.MonkeyPatch, policy: dict[str, Any]
) -> None:
    """The handlers' key is now one the fake holds to `policy`."""
    cloud.add_key(POLICY_KEY, POLICY_SECRET, policy=policy)
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", POLICY_KEY)
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", POLICY_SECRET)


@pytest.fixture
def keep_policy(
    seeded: FakeCloud, handler_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    """The example mapping's policy (keep/keep: no Detach), on the handlers' key."""
    policy = cli_policy(EXAMPLE_MAPPING, capsys)
    use_policy_key(seeded, handler_env, policy)
    return policy


@pytest.mark.parametrize("name", EVENT_FILES)
def test_the_generated_policy_is_enough_for_every_sample_event(
    seeded: FakeCloud,
    keep_policy: dict[str, Any],
    invoke: Callable[..., Run],
    figures: Figures,
    name: str,
) -> None:
    # WHEN each sample event is handled with only the generated policy's permissions
    row = ROWS[name]
    run = invoke(row.handler, event_bytes(name))

    # THEN it ends exactly as with an all-powerful key: same lines, same bindings, same calls,
    # and no call was refused
    assert run.error is None
    assert [projection(line) for line in run.outcomes] == row.lines
    assert check_bindings(figures, seeded, {**SEED_BINDINGS, **row.bound}, [run]) == {}
    assert dict(seeded.calls.counts()) == row.calls
    assert [call for call in seeded.calls.all() if not call.ok] == []
    assert all(call.access_key_id == POLICY_KEY for call in seeded.calls.all())


def test_the_policy_key_cannot_pass_or_read_any_other_role(
    seeded: FakeCloud, server: FakeCloudServer, keep_policy: dict[str, Any], figures: Figures
) -> None:
    # GIVEN the SDK with the handlers' key (what a bug in rolebinder, or a stolen key, can do)
    client = make_client(server, access_key_id=POLICY_KEY, access_key_secret=POLICY_SECRET)
    reader = "i-bp1reader00000000001"

    def refusal(request: Any) -> str:
        with pytest.raises(ServerException) as raised:
            client.do_action_with_exception(request)
        return raised.value.get_error_code()

    # WHEN it attaches or looks up a role outside the allow-list, or detaches
    attach = AttachInstanceRamRoleRequest()
    attach.set_RamRoleName("Admin")
    attach.set_InstanceIds(json.dumps([reader]))
    get_role = GetRoleRequest()
    get_role.set_RoleName("Admin")
    detach = DetachInstanceRamRoleRequest()
    detach.set_InstanceIds(json.dumps([reader]))

    # THEN the cloud refuses each, and nothing changed
    # (Attach is refused on the role resource or by PassRole, whichever RAM checks first)
    assert refusal(attach) in {"Forbidden.RAM", "InvalidUser.PassRoleForbidden"}
    assert refusal(get_role) == "NoPermission"
    assert refusal(detach) == "Forbidden.RAM"
    assert "ecs:DetachInstanceRamRole" not in json.dumps(keep_policy)
    figures["attacks_refused"] += 3
    # (no handler ran: the bindings are checked, but count as no instance a handler decided on)
    assert ecs_state(seeded) == SEED_BINDINGS


# Every grant of the replace mapping's policy (which has them all), one at a time.
REPLACE_MAPPING = {**yaml.safe_load(EXAMPLE_MAPPING.read_text()), "on_existing_role": "replace"}
SWAPPED = "i-esc00swapped01"  # payments-tagged, bound to AppReader: replaced by the sweep
SWEEP_BINDINGS = {
    **SEED_BINDINGS,
    "i-bp1payments0000000001": "Payments",
    "i-bp1payments0000000002": "Payments",
    "i-bp1reader00000000001": "AppReader",
    SWAPPED: "Payments",
}


def grants(policy: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(what was removed, the policy without it): each statement, each action, each role."""
    for index, statement in enumerate(policy["Statement"]):
        smaller = copy.deepcopy(policy)
        del smaller["Statement"][index]
        yield f"statement-{index}", smaller
        for field_name in ("Action", "Resource"):
            values = statement[field_name]
            if not isinstance(values, list) or len(values) < 2:
                continue
            for value in values:
                if _lower_twin(value, values):
                    continue  # there for a RAM that lower-cases ARNs; the fake keeps the case
                smaller = copy.deepcopy(policy)
                smaller["Statement"][index][field_name].remove(value)
                yield value.rsplit(":", 1)[-1], smaller


def _lower_twin(value: str, values: list[str]) -> bool:
    """A role ARN's lower-cased spelling, listed beside the spelling that keeps the case."""
    return value == value.lower() and any(v != v.lower() and v.lower() == value for v in values)


def replace_policy() -> dict[str, Any]:
    return policy_document(mapping_from_document(REPLACE_MAPPING), ACCOUNT)


GRANTS = dict(grants(replace_policy()))


@pytest.fixture
def sweep_world(seeded: FakeCloud, use_mapping) -> FakeCloud:
    """events/seed.yaml plus an instance to replace, under the replace mapping."""
    use_mapping(REPLACE_MAPPING)
    seed_world(seeded, [vm(SWAPPED, PAYMENTS_TAGS, role="AppReader", owned=True)], roles=[])
    return seeded


def test_the_replace_policy_has_detach_and_is_enough(
    sweep_world: FakeCloud,
    handler_env: pytest.MonkeyPatch,
    write_mapping,
    capsys: pytest.CaptureFixture[str],
    invoke: Callable[..., Run],
    figures: Figures,
) -> None:
    # GIVEN the policy `rolebinder policy` prints for the replace mapping, on the handlers' key
    policy = cli_policy(write_mapping(REPLACE_MAPPING), capsys)
    assert policy == replace_policy()
    assert "ecs:DetachInstanceRamRole" in json.dumps(policy)
    use_policy_key(sweep_world, handler_env, policy)

    # WHEN the sweep runs
    run = invoke("reconcile", timer_event())

    # THEN everything is bound, the replace included, and no call was refused
    assert run.error is None
    assert run.outcome(SWAPPED)["outcome"] == "replaced"
    assert [call for call in sweep_world.calls.all() if not call.ok] == []
    assert check_bindings(figures, sweep_world, SWEEP_BINDINGS, [run]) == {}


@pytest.mark.parametrize("removed", sorted(GRANTS))
def test_every_grant_of_the_policy_is_needed(
    sweep_world: FakeCloud,
    handler_env: pytest.MonkeyPatch,
    invoke: Callable[..., Run],
    removed: str,
) -> None:
    # GIVEN the replace mapping's policy without one grant
    use_policy_key(sweep_world, handler_env, GRANTS[removed])

    # WHEN the sweep runs
    run = invoke("reconcile", timer_event())

    # THEN it does not reach the bindings the whole policy reaches
    assert ecs_state(sweep_world) != SWEEP_BINDINGS
    if removed in ("DescribeInstances", "statement-0"):
        # Without it ECS answers an empty list, not an error (documented): the sweep sees no
        # instance at all. It says so with the empty-sweep warning (a handler that did nothing
        # would not), naming the permission. See docs/RELIABILITY.md, "design problems".
        assert run.error is None
        assert run.outcomes == []
        warnings = [line for line in run.lines if line.get("kind") == "warning"]
        assert [w["warning"] for w in warnings] == ["empty-sweep"], run.lines
        assert "ecs:DescribeInstances" in warnings[0]["message"]
        assert sweep_world.calls.counts()["DescribeInstances"] >= 1  # it did ask
        return
    # AND it says why: the cloud refused, permanently
    denied = [line for line in run.outcomes if line["reason"] == "permission-denied"]
    assert denied, run.outcomes
    assert {line["retryable"] for line in denied} == {False}
