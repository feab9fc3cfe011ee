"""Attacks on safety model v2 (per-rule authority, ownership markers, the guard), replayed
against the fake cloud through the real SDK. Each test states what the promise is and shows
where it held or broke at the time it was written.
"""

from __future__ import annotations

from typing import Any

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkecs.request.v20140526.RunInstancesRequest import RunInstancesRequest
from aliyunsdkecs.request.v20140526.UntagResourcesRequest import UntagResourcesRequest

from fakecloud import FakeCloud, FakeCloudServer
from rolebinder.domain.ownership import MARKER_KEY
from rolebinder.mapping.permissions import guard_policy
from tests.functional.conftest import (
    REGION,
    VSWITCH_ID,
    ecs_state,
    seed_world,
    state_event,
    timer_event,
    vm,
)
from tests.functional.safety import PAYMENTS_RULE, PAYMENTS_TAGS, line_of, mapping, marker
from tests.hardening.conftest import tag_change_event
from tests.support import make_client


def guarded_client(cloud: FakeCloud, server: FakeCloudServer) -> Any:
    """A key that may do anything to ECS but carries `rolebinder policy --guard`."""
    document = guard_policy()
    document["Statement"].append({"Effect": "Allow", "Action": "ecs:*", "Resource": "*"})
    cloud.add_key("LTAIguardedUser02", "guarded-secret", policy=document)
    return make_client(
        server, access_key_id="LTAIguardedUser02", access_key_secret="guarded-secret"
    )


# -- 1. a marker left by a refused attach claims a later hand-binding ----------------------------


def test_a_refused_attach_leaves_no_marker_that_later_claims_a_hand_bound_role(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN keep/detach, and an instance whose attach ECS refuses for good (risk control)
    use_mapping(mapping(on_existing_role="keep"))
    seed_world(cloud, [vm("i-stale000001", PAYMENTS_TAGS)])
    cloud.faults.fail_instances("AttachInstanceRamRole", ["i-stale000001"], "Forbidden.RiskControl")
    first = invoke("instance_events", state_event("i-stale000001"))
    assert line_of(first, "i-stale000001") == ("failed", "api-error")
    assert ecs_state(cloud) == {"i-stale000001": None}

    # WHEN the team gives up on rolebinder (removes its tag) and an administrator binds
    # Payments by hand, the way the docs say rolebinder must leave alone
    instance = cloud.ecs(REGION).instances["i-stale000001"]
    del instance.tags["team"]
    instance.role = "Payments"
    run = invoke("tag_events", tag_change_event("i-stale000001"))

    # THEN the hand-bound role is not rolebinder's to detach: the refused attach's marker must
    # not have survived to claim it
    assert line_of(run, "i-stale000001") == ("skipped", "not-owned")
    assert ecs_state(cloud) == {"i-stale000001": "Payments"}
    assert not marker(cloud, "i-stale000001")  # blanked: names no role


# -- 2. UntagResources All=true walks past the guard ----------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="finding: the guard's conditions (acs:TagKeys / acs:RequestTag) are absent from an "
    "UntagResources All=true request, so nothing denies it; unfixed",
)
def test_the_guard_refuses_untag_all_which_strips_the_marker(
    cloud: FakeCloud, server: FakeCloudServer, use_mapping, invoke
) -> None:
    # GIVEN an owned Payments binding and a user carrying the guard
    use_mapping(mapping(on_existing_role="keep"))
    seed_world(cloud, [vm("i-untagall01", PAYMENTS_TAGS, role="Payments", owned=True)])
    client = guarded_client(cloud, server)

    # WHEN the user removes every tag at once
    untag = UntagResourcesRequest()
    untag.set_ResourceType("instance")
    untag.set_ResourceIds(["i-untagall01"])
    untag.set_All(True)
    refused = None
    try:
        client.do_action_with_exception(untag)
    except ServerException as error:
        refused = error.get_error_code()

    # THEN (the promise) RAM refuses, since the call removes rolebinder's marker...
    run = invoke("tag_events", tag_change_event("i-untagall01"))
    assert refused == "Forbidden.RAM", (
        f"UntagResources All=true passed the guard; marker now {marker(cloud, 'i-untagall01')!r}, "
        f"rolebinder says {line_of(run, 'i-untagall01')}, role {ecs_state(cloud)}"
    )
    # ...and untagging still revokes
    assert line_of(run, "i-untagall01") == ("detached", "no-matching-rule")


# -- 3. tags set at launch walk past the guard ----------------------------------------------------


def test_the_guard_refuses_a_marker_set_at_launch(
    cloud: FakeCloud, server: FakeCloudServer, use_mapping, invoke
) -> None:
    # GIVEN a guarded user who may launch instances
    use_mapping(mapping(on_existing_role="keep"))
    seed_world(cloud, [])
    client = guarded_client(cloud, server)

    # WHEN it launches an instance carrying a forged marker (RunInstances takes Tag.N)
    request = RunInstancesRequest()
    request.set_ImageId("aliyun_3_x64_20G_alibase_20240819.vhd")
    request.set_InstanceType("ecs.g7.large")
    request.set_VSwitchId(VSWITCH_ID)
    request.set_Amount(1)
    request.set_Tags([{"Key": MARKER_KEY, "Value": "Payments"}])
    refused = None
    try:
        client.do_action_with_exception(request)
    except ServerException as error:
        refused = error.get_error_code()

    # THEN RAM refuses it: otherwise the pre-marked instance's later hand-bound Payments is
    # "rolebinder's", and the next event or sweep detaches it
    if refused is None:
        (forged,) = cloud.ecs(REGION).instances.values()
        forged.role = "Payments"  # an administrator binds it by hand
        run = invoke("reconcile", timer_event())
        pytest.fail(
            f"RunInstances with {MARKER_KEY} passed the guard; then a hand-bound Payments got "
            f"{line_of(run, forged.instance_id)}, role now {forged.role!r}"
        )
    assert refused == "Forbidden.RAM"
    assert {"ecs:RunInstances", "ecs:CreateInstance"} <= set(
        guard_policy()["Statement"][1]["Action"]
    )


# -- 4. a mapping that spells a role in another case than RAM -------------------------------------


def test_a_role_spelled_in_another_case_than_ram_is_still_revoked(
    cloud: FakeCloud, use_mapping, invoke
) -> None:
    # GIVEN a mapping naming `payments` while RAM's role is `Payments` (RAM names are
    # case-insensitive: the attach works, and ECS reports the canonical name)
    rule = {**PAYMENTS_RULE, "role": "payments"}
    use_mapping(mapping(roles=["AppReader", "payments"], rules=[rule], on_existing_role="keep"))
    seed_world(cloud, [vm("i-casefold01", PAYMENTS_TAGS)])
    first = invoke("instance_events", state_event("i-casefold01"))
    assert line_of(first, "i-casefold01") == ("attached", "rule-matched")
    assert ecs_state(cloud) == {"i-casefold01": "Payments"}

    # WHEN the event is delivered again, THEN it is already bound (not "kept")
    again = invoke("instance_events", state_event("i-casefold01", event_id="evt-again"), cold=True)
    assert line_of(again, "i-casefold01") == ("unchanged", "already-bound")

    # AND WHEN the team tag is removed, THEN untagging revokes the role rolebinder bound
    del cloud.ecs(REGION).instances["i-casefold01"].tags["team"]
    run = invoke("tag_events", tag_change_event("i-casefold01"))
    assert line_of(run, "i-casefold01") == ("detached", "no-matching-rule")
    assert ecs_state(cloud) == {"i-casefold01": None}


# -- 5. two rolebinder deployments in one account fight over the same marker ---------------------


def test_two_deployments_with_different_mappings_do_not_flip_flop(
    cloud: FakeCloud, use_mapping, invoke, handler_env
) -> None:
    # GIVEN two stacks in one account (ROLEBINDER_DEPLOYMENT: their ServiceName): A maps
    # team=payments to Payments, B to AppReader
    seed_world(cloud, [vm("i-twostack01", PAYMENTS_TAGS)])
    stack_a = ("stack-a", mapping(on_no_match="keep"))
    stack_b = (
        "stack-b",
        mapping(on_no_match="keep", rules=[{**PAYMENTS_RULE, "role": "AppReader"}]),
    )

    # WHEN each stack's sweep runs in turn
    seen = []
    for name, stack in (stack_a, stack_b, stack_a, stack_b):
        use_mapping(stack)
        handler_env.setenv("ROLEBINDER_DEPLOYMENT", name)
        run = invoke("reconcile", timer_event(), cold=True)
        seen.append((line_of(run, "i-twostack01"), ecs_state(cloud)["i-twostack01"]))

    # THEN the second stack does not undo the first one's binding, back and forth
    writes = [line for line, _ in seen if line[0] in ("attached", "replaced", "detached")]
    assert len(writes) <= 1, seen
    # AND B says why, every time: the binding belongs to another deployment
    assert [line for line, _ in seen[1::2]] == [("skipped", "contested")] * 2
