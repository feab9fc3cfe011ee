"""Safety model v2, replayed against the fake cloud through the real SDK: each attack of issue 9
ends safe. Per-rule authority, ownership of bindings, no fights, revocation by untagging,
region confinement, hostile text and forged deliveries.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkecs.request.v20140526.TagResourcesRequest import TagResourcesRequest
from aliyunsdkecs.request.v20140526.UntagResourcesRequest import UntagResourcesRequest

from fakecloud import FakeCloud, FakeCloudServer
from rolebinder.domain.ownership import MARKER_KEY
from rolebinder.mapping.permissions import guard_policy
from tests.functional.conftest import (
    ACCOUNT,
    EXAMPLE_MAPPING,
    REGION,
    ecs_state,
    seed_world,
    state_event,
    vm,
)
from tests.functional.safety import PAYMENTS_TAGS, line_of, mapping, marker
from tests.hardening.conftest import tag_change_event
from tests.support import make_client

# -- per-rule authority ---------------------------------------------------------------------


def test_a_ram_role_tag_cannot_reach_a_role_its_rule_does_not_allow(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN the shipped example: ram-role may choose AppReader only, Payments is for payments
    use_mapping(EXAMPLE_MAPPING.read_text())
    seed_world(cloud, [vm("i-bypass0001", {"ram-role": "Payments"})])

    # WHEN its creation event is handled
    run = invoke("instance_events", state_event("i-bypass0001"))

    # THEN the tag is refused and nothing at all is written, not even a marker
    assert line_of(run, "i-bypass0001") == ("skipped", "role-not-allowed")
    assert cloud.calls.writes(ok_only=False) == []
    assert ecs_state(cloud) == {"i-bypass0001": None}


def test_a_mapping_without_allowed_roles_is_refused_naming_the_rule(cli, write_mapping) -> None:
    old = {
        "version": 1,
        "roles": ["AppReader"],
        "rules": [{"name": "by-tag", "when": {"tags": {"r": "*"}}, "role_from_tag": "r"}],
    }
    done = cli("validate-mapping", str(write_mapping(old)))

    assert done.code == 2
    assert 'rules[0].allowed_roles: rule "by-tag" uses role_from_tag' in done.err
    assert "add allowed_roles: [AppReader]" in done.err


# -- ownership --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "reason"),
    [(PAYMENTS_TAGS, "replace"), ({"team": "search"}, "detach")],
    ids=["replace", "detach"],
)
def test_a_role_bound_by_hand_is_never_replaced_or_detached(
    cloud: FakeCloud, use_mapping, invoke, tags: dict[str, str], reason: str
) -> None:
    # GIVEN an allow-listed role an administrator bound by hand (no marker)
    use_mapping(mapping())
    seed_world(cloud, [vm("i-byhand0001", tags, role="AppReader")])

    run = invoke("instance_events", state_event("i-byhand0001"))

    assert line_of(run, "i-byhand0001") == ("skipped", "not-owned")
    assert cloud.calls.writes(ok_only=False) == []
    assert ecs_state(cloud) == {"i-byhand0001": "AppReader"}


def test_adopt_unmarked_restores_the_old_behaviour(cloud: FakeCloud, use_mapping, invoke) -> None:
    use_mapping(mapping(adopt_unmarked=True))
    seed_world(cloud, [vm("i-byhand0002", {"team": "search"}, role="AppReader")])

    run = invoke("instance_events", state_event("i-byhand0002"))

    assert line_of(run, "i-byhand0002") == ("detached", "no-matching-rule")
    assert ecs_state(cloud) == {"i-byhand0002": None}


def test_adopt_marks_allow_listed_bindings_once_and_then_replace_may_act(
    cloud: FakeCloud, use_mapping, handler_env, cli, invoke
) -> None:
    # GIVEN a hand-bound allow-listed role, a hand-bound foreign role and an owned binding
    path = use_mapping(mapping())
    seed_world(
        cloud,
        [
            vm("i-adopt00001", PAYMENTS_TAGS, role="AppReader"),
            vm("i-adopt00002", PAYMENTS_TAGS, role="Admin"),
            vm("i-adopt00003", PAYMENTS_TAGS, role="Payments", owned=True),
        ],
    )

    # WHEN an operator adopts the region (a dry run first)
    dry = cli("adopt", "--region", REGION, "--mapping", str(path), "--dry-run", "--json")
    done = cli("adopt", "--region", REGION, "--mapping", str(path), "--json")

    # THEN only the unmarked allow-listed binding was marked, with its own role
    assert [line["instance_id"] for line in dry.lines] == ["i-adopt00001"]
    assert done.lines == [
        {"instance_id": "i-adopt00001", "role": "AppReader", "marker": "-", "result": "marked"}
    ]
    assert (marker(cloud, "i-adopt00001"), marker(cloud, "i-adopt00002")) == ("AppReader", None)
    # AND from then on it is rolebinder's: replace moves it to the mapped role
    run = invoke("instance_events", state_event("i-adopt00001"))
    assert line_of(run, "i-adopt00001") == ("replaced", "rule-matched")
    assert marker(cloud, "i-adopt00001") == "Payments"


# -- no fights ----------------------------------------------------------------------------------


def test_a_binding_changed_by_someone_else_is_contested_and_left_alone(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN rolebinder bound Payments (its marker), then another automation put AppReader on
    use_mapping(mapping())
    seed_world(cloud, [vm("i-fight00001", PAYMENTS_TAGS, role="AppReader")])
    cloud.ecs(REGION).instances["i-fight00001"].tags[MARKER_KEY] = "Payments"

    # WHEN events and a sweep keep arriving
    runs = [invoke("instance_events", state_event("i-fight00001")) for _ in range(3)]

    # THEN rolebinder never flips it back: contested, a warning each time, no write
    for run in runs:
        assert line_of(run, "i-fight00001") == ("skipped", "contested")
        (warning,) = run.warnings
        assert (warning["warning"], warning["instance_id"]) == ("contested", "i-fight00001")
    assert cloud.calls.writes(ok_only=False) == []
    assert ecs_state(cloud) == {"i-fight00001": "AppReader"}


# -- revocation -----------------------------------------------------------------------------------


def test_untagging_revokes_an_owned_role(cloud: FakeCloud, use_mapping, invoke) -> None:
    use_mapping(mapping(on_existing_role="keep"))
    seed_world(cloud, [vm("i-revoke0001", PAYMENTS_TAGS)])
    invoke("instance_events", state_event("i-revoke0001"))
    assert ecs_state(cloud) == {"i-revoke0001": "Payments"}

    # WHEN the team tag is removed and its event arrives
    del cloud.ecs(REGION).instances["i-revoke0001"].tags["team"]
    run = invoke("tag_events", tag_change_event("i-revoke0001"))

    # THEN the role is detached and the marker removed
    assert line_of(run, "i-revoke0001") == ("detached", "no-matching-rule")
    assert ecs_state(cloud) == {"i-revoke0001": None}
    assert marker(cloud, "i-revoke0001") is None


def test_a_tag_removed_while_the_decision_is_in_flight_is_revoked_by_its_event(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN an instance whose team tag is removed right after rolebinder read it (here: as
    # its marker write lands, before its attach), under keep/detach
    use_mapping(mapping(on_existing_role="keep"))
    seed_world(cloud, [vm("i-inflight01", PAYMENTS_TAGS)])
    instance = cloud.ecs(REGION).instances["i-inflight01"]

    def untag_in_flight(event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        if isinstance(data, dict) and data.get("eventName") == "TagResources":
            instance.tags.pop("team", None)

    cloud.events.subscribe(untag_in_flight)

    # WHEN the creation event is handled: it decided on the old tags and attaches
    first = invoke("instance_events", state_event("i-inflight01"))
    assert line_of(first, "i-inflight01") == ("attached", "rule-matched")
    assert "team" not in instance.tags

    # AND the removal's event arrives
    run = invoke("tag_events", tag_change_event("i-inflight01"))

    # THEN the role is revoked: detached, marker gone
    assert line_of(run, "i-inflight01") == ("detached", "no-matching-rule")
    assert ecs_state(cloud) == {"i-inflight01": None}
    assert marker(cloud, "i-inflight01") is None


def test_marker_writes_echo_back_at_no_cost(cloud: FakeCloud, use_mapping, invoke) -> None:
    # GIVEN an attach, whose marker write the fake announces like any tag change
    use_mapping(mapping())
    seed_world(cloud, [vm("i-echo000001", PAYMENTS_TAGS)])
    emitted = cloud.events.since(0)
    start = emitted[-1][0] if emitted else 0
    invoke("instance_events", state_event("i-echo000001"))
    tag_echoes = [event for _, event in cloud.events.since(start) if _is_marker_echo(event)]
    assert len(tag_echoes) >= 2  # the tag-change event and the TagResources record
    cloud.calls.clear()

    # WHEN they reach the tag handler
    runs = [invoke("tag_events", echo) for echo in tag_echoes]

    # THEN each is ignored as marker-only, without a single API call
    assert {line_of(run, "i-echo000001") for run in runs} == {("ignored", "marker-only")}
    assert cloud.calls.all() == []


def _is_marker_echo(event: dict[str, Any]) -> bool:
    data = event.get("data") or {}
    if data.get("changedTagKeys") and all(
        key.startswith("rolebinder:") for key in data["changedTagKeys"]
    ):
        return True
    params = data.get("requestParameters") or {}
    return data.get("eventName") == "TagResources" and params.get("Tag.1.Key") == MARKER_KEY


# -- the guard ---------------------------------------------------------------------------------


def test_the_guard_policy_keeps_everyone_else_off_the_marker(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN a key that may do anything to ECS, but carries the guard
    seed_world(cloud, [vm("i-guard00001", PAYMENTS_TAGS, role="Payments", owned=True)])
    document = guard_policy()
    document["Statement"].append({"Effect": "Allow", "Action": "ecs:*", "Resource": "*"})
    cloud.add_key("LTAIguardedUser01", "guarded-secret", policy=document)
    client = make_client(
        server, access_key_id="LTAIguardedUser01", access_key_secret="guarded-secret"
    )

    def tag(key: str) -> TagResourcesRequest:
        request = TagResourcesRequest()
        request.set_ResourceType("instance")
        request.set_ResourceIds(["i-guard00001"])
        request.set_Tags([{"Key": key, "Value": "AppReader"}])
        return request

    untag = UntagResourcesRequest()
    untag.set_ResourceType("instance")
    untag.set_ResourceIds(["i-guard00001"])
    untag.set_TagKeys([MARKER_KEY])

    # WHEN it tries to forge or remove rolebinder's marker, THEN RAM refuses
    for request in (tag(MARKER_KEY), untag):
        with pytest.raises(ServerException) as refused:
            client.do_action_with_exception(request)
        assert refused.value.get_error_code() == "Forbidden.RAM"
    # AND other tags stay its to write
    client.do_action_with_exception(tag("team"))
    assert marker(cloud, "i-guard00001") == "Payments"


def test_policy_guard_and_regions_print_what_the_docs_promise(cli, use_mapping) -> None:
    path = use_mapping(mapping())
    guard = cli("policy", "--guard")
    confined = cli(
        "policy", "--account-id", ACCOUNT, "--regions", "cn-hangzhou", "--mapping", str(path)
    )

    denied = json.loads(guard.out)["Statement"]
    assert {s["Effect"] for s in denied} == {"Deny"}
    assert {"ecs:TagResources", "ecs:UntagResources", "tag:TagResources"} <= set(
        denied[0]["Action"]
    )
    attach = json.loads(confined.out)["Statement"][2]
    assert attach["Action"] == ["ecs:AttachInstanceRamRole", "ecs:DetachInstanceRamRole"]
    assert attach["Resource"] == [
        f"acs:ecs:cn-hangzhou:{ACCOUNT}:instance/*",
        f"acs:ram:*:{ACCOUNT}:role/AppReader",
        f"acs:ram:*:{ACCOUNT}:role/appreader",
        f"acs:ram:*:{ACCOUNT}:role/Payments",
        f"acs:ram:*:{ACCOUNT}:role/payments",
    ]


# -- hostile text and forged deliveries ---------------------------------------------------------


def test_plan_prints_hostile_tag_values_as_text(
    cloud: FakeCloud, use_mapping, handler_env, cli
) -> None:
    # GIVEN instances whose ram-role tag is markup, a link and an ANSI escape
    path = use_mapping(EXAMPLE_MAPPING.read_text())
    hostile = {"i-hostile001": "[/bold]", "i-hostile002": "[link=x]y", "i-hostile003": "\x1b[2J"}
    seed_world(cloud, [vm(i, {"ram-role": v}) for i, v in hostile.items()])

    done = cli("plan", "--region", REGION, "--mapping", str(path), "--all")

    # THEN the plan is printed whole, the markup as text, the escape defused
    assert done.code == 0
    assert "[/bold]" in done.out and "[link=x]y" in done.out
    assert "\x1b" not in done.out and "\\x1b[2J" in done.out
    assert done.out.count("role-not-allowed") == 3


def test_a_forged_delivery_cannot_amplify_into_megabytes(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN a 50,000-character event id and 1,000 ResourceId.N (the API takes 50)
    use_mapping(mapping())
    seed_world(cloud, [])
    params = {f"ResourceId.{n}": f"i-forged{n:06d}" for n in range(1, 1001)}
    record = {
        "id": "x" * 50_000,
        "source": "acs.ecs",
        "specversion": "1.0",
        "type": "ecs:ActionTrail:ApiCall",
        "aliyunaccountid": ACCOUNT,
        "aliyunregionid": REGION,
        "data": {
            "eventName": "TagResources",
            "eventId": "y" * 50_000,
            "requestParameters": {"RegionId": REGION, "ResourceType": "instance", **params},
        },
    }

    run = invoke("tag_events", json.dumps(record).encode())

    # THEN one short error line, no call, and a few KB of output at most
    assert cloud.calls.all() == []
    (error,) = run.errors
    assert "more than the 50 one event may name" in error["message"]
    assert sum(len(json.dumps(line)) for line in run.lines) < 4_000


def test_a_delivery_naming_too_many_instances_is_refused_whole(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    use_mapping(mapping())
    seed_world(cloud, [])
    batch = [state_event(f"i-many{n:07d}") for n in range(1_001)]

    run = invoke("instance_events", json.dumps(batch).encode())

    assert cloud.calls.all() == []
    (error,) = run.errors
    assert error["error"] == "delivery-too-large"
    assert run.outcomes == []


def test_event_ids_are_capped_in_every_outcome_line(cloud: FakeCloud, use_mapping, invoke) -> None:
    use_mapping(mapping())
    seed_world(cloud, [vm("i-longid0001", PAYMENTS_TAGS)])
    event = state_event("i-longid0001")
    event["id"] = "z" * 50_000

    run = invoke("instance_events", event)

    assert len(run.outcome("i-longid0001")["event_id"]) == 128


def test_an_instance_whose_marker_cannot_be_written_gets_no_role(
    cloud: FakeCloud, use_mapping, handler_env, invoke
) -> None:
    # GIVEN credentials that may do everything but tag instances
    seed_world(cloud, [vm("i-nomark0001", PAYMENTS_TAGS)])
    use_mapping(mapping())
    statements = [
        {"Effect": "Allow", "Action": ["ecs:*", "ram:*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "ecs:TagResources", "Resource": "*"},
    ]
    cloud.add_key(
        "LTAInoTagging0001", "no-tag-secret", policy={"Version": "1", "Statement": statements}
    )
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAInoTagging0001")
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "no-tag-secret")

    run = invoke("instance_events", state_event("i-nomark0001"))

    # THEN nothing is attached: a binding rolebinder could never revoke is never made
    line = run.outcome("i-nomark0001")
    assert (line["outcome"], line["reason"]) == ("failed", "permission-denied")
    assert "marker could not be written" in line["detail"]
    assert [c for c in cloud.calls.all() if c.action == "AttachInstanceRamRole"] == []
    assert ecs_state(cloud) == {"i-nomark0001": None}


@pytest.mark.parametrize(
    ("name", "value"),
    [("ROLEBINDER_DEPLOYMENT", "stack a"), ("ROLEBINDER_REGIONS", "cn-hangzhou,Beijing")],
)
def test_a_bad_identity_or_region_setting_fails_loudly_before_any_call(
    cloud: FakeCloud, use_mapping, handler_env, invoke, name: str, value: str
) -> None:
    use_mapping(mapping())
    seed_world(cloud, [vm("i-badenv0001", PAYMENTS_TAGS)])
    handler_env.setenv(name, value)

    run = invoke("instance_events", state_event("i-badenv0001"), cold=True)

    assert run.error is not None and name in str(run.error)
    assert cloud.calls.all() == []
