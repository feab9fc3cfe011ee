"""Event intake: every sample in events/, each shape's edge cases, malformed input, batches."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rolebinder.domain import reasons
from rolebinder.errors import EventError, InputError
from rolebinder.intake.events import (
    KIND_API_CALL,
    KIND_INSTANCE_STATE,
    KIND_TAG_CHANGE,
    MAX_BATCH,
    MAX_INPUT_BYTES,
    STATE_CHANGE,
    TAG_CHANGE,
    IgnoredEvent,
    InstanceCheck,
    SweepRequest,
    Trigger,
    exclude_foreign,
    parse_delivery,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
ACCOUNT = "1234567890123456"
FOREIGN = "9999999999999999"
MEMBER = "2000000000000001"  # a hub's member, whose events reach the hub's bus routed
REGION = "cn-hangzhou"
PAY1 = "i-bp1payments0000000001"
PAY2 = "i-bp1payments0000000002"
READER = "i-bp1reader00000000001"
CLASSIC = "i-bp1classic0000000001"
NOTAGS = "i-bp1notags00000000001"


def check(
    event_id: str | None,
    *ids: str,
    kind: str = KIND_INSTANCE_STATE,
    name: str = STATE_CHANGE,
    account: str | None = ACCOUNT,
    region: str | None = REGION,
) -> InstanceCheck:
    return InstanceCheck(ids, region, account, event_id, kind, name)


def ignored(
    event_id: str | None,
    reason: str,
    detail: str,
    *ids: str,
    account: str | None = ACCOUNT,
    region: str | None = REGION,
) -> IgnoredEvent:
    return IgnoredEvent(event_id, reason, detail, region, account, ids)


def api(event_id: str, name: str, *ids: str) -> InstanceCheck:
    return check(event_id, *ids, kind=KIND_API_CALL, name=name)


def tagged(event_id: str, *ids: str) -> InstanceCheck:
    return check(event_id, *ids, kind=KIND_TAG_CHANGE, name=TAG_CHANGE)


# What each file in events/ must parse to (before exclude_foreign).
SAMPLES: dict[str, list[Trigger]] = {
    "eventbridge-ecs-instance-statechange-created.json": [
        check("7c4f1e2a-9b3d-4e8f-a1c6-5d2b8e0f3a91", PAY1)
    ],
    "eventbridge-ecs-instance-statechange-running.json": [
        check("0d8a5b3e-2c71-4f96-8e4a-b7c19d2f6e08", READER)
    ],
    "eventbridge-ecs-instance-statechange-data-content.json": [
        check("c2e9f741-6a05-4b38-9d1f-83a6e5c0b7d2", CLASSIC)
    ],
    "eventbridge-ecs-instance-statechange-stopped.json": [
        ignored(
            "5b1d7e93-4f28-4c0a-a6e2-19f8d3b5c7e4",
            reasons.IRRELEVANT_STATE,
            f"instance {PAY2} state 'Stopped' is not a creation state",
            PAY2,
        )
    ],
    "eventbridge-ecs-instance-statechange-foreign-account.json": [
        check("e8a3c6f0-7d14-4b92-b5e1-2f9c0a4d8b63", PAY1, account=FOREIGN)
    ],
    "eventbridge-ecs-instance-statechange-routed-from-member.json": [
        check("4b7e1c9a-2d58-4f03-9e6b-8a1c5d3f7e20", "i-bp1member000000001", account=MEMBER)
    ],
    "cloudmonitor-ecs-instance-statechange-starting.json": [
        check("2A9F6B1C-4D7E-4F3A-8B2C-9E1D5F7A3C64", NOTAGS)
    ],
    "cloudmonitor-tag-changeonresource.json": [
        tagged("6E3C8A2F-91B4-4D5E-A7F0-3B8D1C6E9A25", READER)
    ],
    "eventbridge-tag-changeonresource.json": [tagged("9f2b4d6a-1e83-4c57-8a0b-d4e6f1c3a759", PAY2)],
    "actiontrail-ecs-runinstances.json": [
        api("5E1B7C9A-3F2D-4A8B-9C6E-1D4F7A2B8E53", "RunInstances", PAY1, PAY2)
    ],
    "eventbridge-actiontrail-ecs-runinstances.json": [
        api("3a7e9c1b-5d24-4f86-b0e3-7c2a9f4d1e68", "RunInstances", READER)
    ],
    "eventbridge-actiontrail-ecs-createinstance.json": [
        api("8d2f6b0a-4c17-4e93-9a5d-1b7e3f8c0d46", "CreateInstance", NOTAGS)
    ],
    "eventbridge-actiontrail-ecs-tagresources.json": [
        api("1f5c9e3a-7b26-4d08-a3f1-5e9b2d7c4a80", "TagResources", READER)
    ],
    "eventbridge-actiontrail-ecs-tagresources-marker.json": [
        ignored(
            "3c9e1a7f-5b2d-4e86-a0c4-7f1b3d9e5a20",
            reasons.MARKER_ONLY,
            "only rolebinder's own rolebinder: tags changed",
            READER,
        )
    ],
    "eventbridge-actiontrail-ecs-untagresources.json": [
        api("6b0e4a8c-2d59-4f13-8c7e-0a4d6b2f9e35", "UntagResources", PAY2)
    ],
    "actiontrail-ecs-addtags.json": [api("0C4E8A2D-6F9B-4135-A7C0-9E3B5D1F7A62", "AddTags", PAY1)],
    "actiontrail-ecs-removetags.json": [
        api("9A3D7F1B-5C8E-4024-B6A9-2F4C8E0D6B17", "RemoveTags", NOTAGS)
    ],
    "eventbridge-actiontrail-ecs-runinstances-failed.json": [
        ignored(
            "4e8b2f6d-0a35-4c71-9e4b-6f0d8a2c5e19",
            reasons.FAILED_API_CALL,
            "RunInstances failed with 'OperationDenied.NoStock'",
        )
    ],
    "eventbridge-oss-object-created.json": [
        ignored(
            "2c6a0e4b-8d17-4f59-b3c2-7e1a5d9f0b84",
            reasons.UNSUPPORTED_EVENT,
            "CloudEvent source 'acs.oss' type 'oss:ObjectCreated:PutObject'",
        )
    ],
    "fc-timer-sweep.json": [
        SweepRequest(
            "timer:rolebinder-sweep:2024-05-14T02:40:00Z",
            "rolebinder-sweep",
            "2024-05-14T02:40:00Z",
            (REGION,),
        )
    ],
    "eventbridge-streaming-batch.json": [
        check("a9c3e7f1-5b08-4d62-8f4a-0c6e2b8d4f17", PAY2),
        check("b0d4f8a2-6c19-4e73-9a5b-1d7f3c9e5a28", NOTAGS),
        ignored(
            "c1e5a9b3-7d2a-4f84-8b6c-2e8a4d0f6b39",
            reasons.IRRELEVANT_STATE,
            f"instance {CLASSIC} state 'Stopping' is not a creation state",
            CLASSIC,
        ),
    ],
    "batch-mixed-events.json": [
        check("d2f6b0c4-8e3b-4a95-9c7d-3f9b5e1a7c40", READER),
        IgnoredEvent(
            "7F4B0D8E-2A6C-4E19-B3F5-8C1E7A4D0B92",
            reasons.MALFORMED_EVENT,
            "[1].content.state: missing",
        ),
        tagged("3D9F5B1A-7C2E-4860-A4D8-0B6F2C8E4A13", PAY1),
        ignored(
            "5C1A7E3D-9B4F-4208-86C1-4E0A2D8B6F35",
            reasons.UNSUPPORTED_API_CALL,
            "API call 'StopInstance' neither creates nor tags instances",
        ),
    ],
}


def sample_files() -> list[str]:
    return sorted(path.name for path in EVENTS.glob("*.json"))


def test_every_sample_file_has_an_expectation() -> None:
    assert sample_files() == sorted(SAMPLES)


@pytest.mark.parametrize("name", sample_files())
def test_sample_file_parses_to_expected_triggers(name: str) -> None:
    # GIVEN the file as FC hands it over: bytes
    raw = (EVENTS / name).read_bytes()
    # WHEN / THEN
    assert parse_delivery(raw) == SAMPLES[name]


def test_foreign_account_sample_is_excluded() -> None:
    triggers = parse_delivery(
        (EVENTS / "eventbridge-ecs-instance-statechange-foreign-account.json").read_bytes()
    )

    result = exclude_foreign(triggers, ACCOUNT)

    assert result == [
        ignored(
            "e8a3c6f0-7d14-4b92-b5e1-2f9c0a4d8b63",
            reasons.FOREIGN_ACCOUNT,
            f"event for account {FOREIGN}; this function serves account {ACCOUNT}",
            PAY1,
            account=FOREIGN,
        )
    ]


def test_tags_claimed_by_a_tag_event_are_not_carried() -> None:
    # GIVEN an event whose `tags` claim ram-role=Admin
    raw = (EVENTS / "cloudmonitor-tag-changeonresource.json").read_bytes()
    assert b'"Admin"' in raw

    [trigger] = parse_delivery(raw)

    # THEN nothing of the claimed tags reaches the engine
    assert "Admin" not in repr(trigger)
    assert not hasattr(trigger, "tags")


# --- input kinds --------------------------------------------------------------------------------


def state_event(
    data: Any = None, *, source: str = "acs.ecs", type_: str = STATE_CHANGE, **envelope: Any
) -> dict[str, Any]:
    event = {
        "id": "ev-1",
        "source": source,
        "specversion": "1.0",
        "type": type_,
        "aliyunaccountid": ACCOUNT,
        "aliyunregionid": REGION,
        "data": data if data is not None else state(PAY1, "Running"),
    }
    event.update(envelope)
    return event


def state(resource_id: Any, state_name: Any, **extra: Any) -> dict[str, Any]:
    return {
        "resourceId": resource_id,
        "resourceType": "ALIYUN::ECS::Instance",
        "state": state_name,
        **extra,
    }


@pytest.mark.parametrize(
    "convert",
    [
        lambda ev: json.dumps(ev).encode(),
        lambda ev: bytearray(json.dumps(ev).encode()),
        json.dumps,
        lambda ev: ev,
        lambda ev: [ev],
        lambda ev: [json.dumps(ev)],
    ],
    ids=["bytes", "bytearray", "str", "dict", "list", "list-of-json-strings"],
)
def test_every_input_kind_gives_the_same_trigger(convert: Any) -> None:
    assert parse_delivery(convert(state_event())) == [check("ev-1", PAY1)]


def test_non_ascii_utf8_is_accepted() -> None:
    event = state_event(state(PAY1, "Running", note="机器 ✓"))
    assert parse_delivery(json.dumps(event, ensure_ascii=False).encode()) == [check("ev-1", PAY1)]


# --- EventBridge and CloudMonitor instance state ------------------------------------------------


def cm_event(content: Any, *, product: str = "ECS", name: str = "Instance:StateChange") -> dict:
    return {
        "ver": "1.0",
        "id": "cm-1",
        "product": product,
        "name": name,
        "userId": ACCOUNT,
        "regionId": REGION,
        "resourceId": f"acs:ecs:{REGION}:{ACCOUNT}:instance/{PAY1}",
        "content": content,
    }


@pytest.mark.parametrize("state_name", ["Pending", "Created", "Starting", "Running", "running"])
@pytest.mark.parametrize("shape", ["eventbridge", "cloudmonitor"])
def test_creation_states_ask_for_a_check(state_name: str, shape: str) -> None:
    event = (
        state_event(state(PAY1, state_name))
        if shape == "eventbridge"
        else cm_event(state(PAY1, state_name))
    )
    event_id = "ev-1" if shape == "eventbridge" else "cm-1"
    assert parse_delivery(event) == [check(event_id, PAY1)]


@pytest.mark.parametrize("state_name", ["Stopping", "Stopped", "Deleted", "Released", ""])
def test_other_states_are_irrelevant(state_name: str) -> None:
    [trigger] = parse_delivery(state_event(state(PAY1, state_name)))
    assert trigger == ignored(
        "ev-1",
        reasons.IRRELEVANT_STATE,
        f"instance {PAY1} state {state_name!r} is not a creation state",
        PAY1,
    )


@pytest.mark.parametrize(
    "resource_id",
    [
        PAY1,
        f"acs:ecs:{REGION}:{ACCOUNT}:instance/{PAY1}",
        f"arn:acs:ecs:{REGION}:{ACCOUNT}:instance/{PAY1}",
        f"acs:ecs:*:*:instance/{PAY1}",
    ],
)
def test_resource_id_may_be_an_arn(resource_id: str) -> None:
    assert parse_delivery(state_event(state(resource_id, "Running"))) == [check("ev-1", PAY1)]


@pytest.mark.parametrize(
    "data",
    [
        {"content": state(PAY1, "Created")},
        {"content": json.dumps(state(PAY1, "Created"))},
        json.dumps(state(PAY1, "Created")),
        json.dumps({"content": json.dumps(state(PAY1, "Created"))}),
    ],
    ids=["content-object", "content-string", "data-string", "data-string-content-string"],
)
def test_state_payload_may_be_nested_or_json_encoded(data: Any) -> None:
    assert parse_delivery(state_event(data)) == [check("ev-1", PAY1)]


def test_cloudmonitor_content_may_be_a_json_string() -> None:
    event = cm_event(json.dumps(state(NOTAGS, "Starting")))
    assert parse_delivery(event) == [check("cm-1", NOTAGS)]


def test_state_change_of_another_resource_type_is_not_an_instance() -> None:
    data = {"resourceId": "d-bp1disk", "resourceType": "ALIYUN::ECS::Disk", "state": "Running"}
    assert parse_delivery(state_event(data)) == [
        ignored(
            "ev-1",
            reasons.NOT_AN_INSTANCE,
            "ecs:Instance:StateChange for resourceType 'ALIYUN::ECS::Disk'",
        )
    ]


def test_state_change_without_resource_type_is_read() -> None:
    data = {"resourceId": PAY1, "state": "Running"}
    assert parse_delivery(state_event(data)) == [check("ev-1", PAY1)]


def test_envelope_without_account_region_or_id_gives_nones() -> None:
    event = {
        "specversion": "1.0",
        "source": "acs.ecs",
        "type": STATE_CHANGE,
        "data": state(PAY1, "Running"),
    }
    assert parse_delivery(event) == [check(None, PAY1, account=None, region=None)]


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        (
            state_event(
                {"instanceId": PAY1, "action": "delete"},
                type_="ecs:Instance:PreemptibleInstanceInterruption",
            ),
            "CloudEvent source 'acs.ecs' type 'ecs:Instance:PreemptibleInstanceInterruption'",
        ),
        (
            state_event("not json at all", source="acs.mns", type_="mns:Queue:SendMessage"),
            "CloudEvent source 'acs.mns' type 'mns:Queue:SendMessage'",
        ),
        (
            state_event(source="acs.ebs", type_=STATE_CHANGE),
            f"CloudEvent source 'acs.ebs' type '{STATE_CHANGE}'",
        ),
        (
            cm_event(
                {"instanceId": PAY1, "action": "delete"},
                name="Instance:PreemptibleInstanceInterruption",
            ),
            "CloudMonitor event product 'ECS' name 'Instance:PreemptibleInstanceInterruption'",
        ),
        (
            cm_event({"x": 1}, product="CMS", name="Agent_Status_Stopped"),
            "CloudMonitor event product 'CMS' name 'Agent_Status_Stopped'",
        ),
        (
            cm_event({"x": 1}, product="tag", name="Tag:SomethingElse"),
            "CloudMonitor event product 'tag' name 'Tag:SomethingElse'",
        ),
    ],
    ids=[
        "preemptible",
        "mns-plain-text-data",
        "other-source",
        "cm-other-name",
        "cm-other-product",
        "cm-tag-other-name",
    ],
)
def test_other_events_of_known_shapes_are_unsupported(event: dict, detail: str) -> None:
    [trigger] = parse_delivery(event)
    assert isinstance(trigger, IgnoredEvent)
    assert (trigger.reason, trigger.detail) == (reasons.UNSUPPORTED_EVENT, detail)
    assert (trigger.account_id, trigger.region) == (ACCOUNT, REGION)


# --- tag change ---------------------------------------------------------------------------------


def tag_payload(resource_id: Any = READER, **fields: Any) -> dict[str, Any]:
    payload = {
        "product": "ecs",
        "resourceType": "instance",
        "resourceId": resource_id,
        "changedTagKeys": ["ram-role"],
        "tags": {"ram-role": "Admin"},
    }
    payload.update(fields)
    return {key: value for key, value in payload.items() if value is not None}


@pytest.mark.parametrize(
    ("source", "type_", "data"),
    [
        ("acs.tag", "tag:Tag:ChangeOnResource", tag_payload()),
        ("acs.tag", "tag:Resource:TagChanged", tag_payload()),
        ("acs.resourcemanager", "resourcemanager:Tag:ChangeOnResource", tag_payload()),
        ("acs.unknown", "unknown:Thing:Happened", tag_payload()),
        ("acs.tag", "tag:Tag:ChangeOnResource", {"content": tag_payload()}),
        ("acs.tag", "tag:Tag:ChangeOnResource", json.dumps(tag_payload())),
    ],
    ids=[
        "acs.tag",
        "acs.tag-other-type",
        "type-names-it",
        "payload-keys",
        "data.content",
        "data-string",
    ],
)
def test_tag_change_under_eventbridge_is_recognised(source: str, type_: str, data: Any) -> None:
    event = state_event(data, source=source, type_=type_)
    assert parse_delivery(event) == [tagged("ev-1", READER)]


@pytest.mark.parametrize(
    ("product", "resource_type"),
    [
        ("ecs", "instance"),
        ("ECS", "Instance"),
        (None, "ALIYUN::ECS::Instance"),
        ("ecs", "ALIYUN::ECS::INSTANCE"),
    ],
)
def test_tag_change_on_an_ecs_instance_asks_for_a_check(product: Any, resource_type: str) -> None:
    content = tag_payload(product=product, resourceType=resource_type)
    assert ("product" in content) == (product is not None)
    event = cm_event(content, product="tag", name=TAG_CHANGE)
    assert parse_delivery(event) == [tagged("cm-1", READER)]


@pytest.mark.parametrize(
    ("product", "resource_type", "resource_id"),
    [
        ("rds", "instance", "rm-bp1db"),
        ("ecs", "disk", "d-bp1disk"),
        (None, "instance", "i-bp1maybe"),
    ],
)
def test_tag_change_on_anything_else_is_not_an_instance(
    product: Any, resource_type: str, resource_id: str
) -> None:
    content = tag_payload(resource_id, resourceType=resource_type)
    content.pop("product")
    if product is not None:
        content["product"] = product
    [trigger] = parse_delivery(cm_event(content, product="tag", name=TAG_CHANGE))
    assert trigger == ignored(
        "cm-1",
        reasons.NOT_AN_INSTANCE,
        f"Tag:ChangeOnResource on product {'null' if product is None else repr(product)}"
        f" resourceType {resource_type!r} {resource_id!r}",
    )


@pytest.mark.parametrize("tags", [None, 42, "ram-role=Admin", ["x"], {"k": {"deep": 1}}])
def test_tag_change_ignores_whatever_the_tags_field_holds(tags: Any) -> None:
    content = tag_payload()
    content["tags"] = tags
    assert parse_delivery(cm_event(content, product="tag", name=TAG_CHANGE)) == [
        tagged("cm-1", READER)
    ]


# --- ActionTrail --------------------------------------------------------------------------------


def record(name: str, *, params: Any = None, response: Any = None, **fields: Any) -> dict:
    rec: dict[str, Any] = {
        "eventId": "at-1",
        "eventVersion": "1",
        "eventType": "ApiCall",
        "eventName": name,
        "acsRegion": REGION,
        "recipientAccountId": ACCOUNT,
        "userIdentity": {"type": "ram-user", "accountId": ACCOUNT},
        "requestParameters": params if params is not None else {"RegionId": REGION},
        "responseElements": response if response is not None else {"RequestId": "r-1"},
    }
    rec.update(fields)
    return {key: value for key, value in rec.items() if value is not None}


def run(*ids: Any) -> dict:
    return record("RunInstances", response={"InstanceIdSets": {"InstanceIdSet": list(ids)}})


def tag_call(name: str = "TagResources", resource_type: Any = "instance", **params: Any) -> dict:
    return record(name, params={"RegionId": REGION, "ResourceType": resource_type, **params})


def trail_event(rec: dict, type_: str = "ecs:ActionTrail:ApiCall", **envelope: Any) -> dict:
    return state_event(rec, type_=type_, **envelope)


@pytest.mark.parametrize(
    ("rec", "name", "ids"),
    [
        (run(PAY1, PAY2), "RunInstances", (PAY1, PAY2)),
        (run(PAY2, PAY1, PAY2), "RunInstances", (PAY2, PAY1)),
        (run(f"acs:ecs:{REGION}:{ACCOUNT}:instance/{PAY1}"), "RunInstances", (PAY1,)),
        (record("CreateInstance", response={"InstanceId": NOTAGS}), "CreateInstance", (NOTAGS,)),
        (tag_call(**{"ResourceId.1": READER}), "TagResources", (READER,)),
        (
            tag_call(**{"ResourceId.10": CLASSIC, "ResourceId.2": PAY2, "ResourceId.1": PAY1}),
            "TagResources",
            (PAY1, PAY2, CLASSIC),
        ),
        (tag_call(ResourceId=[PAY2, READER]), "TagResources", (PAY2, READER)),
        (tag_call(ResourceId=READER), "TagResources", (READER,)),
        (tag_call(**{"ResourceId": [PAY1], "ResourceId.1": PAY2}), "TagResources", (PAY1, PAY2)),
        (
            tag_call("UntagResources", "INSTANCE", **{"ResourceId.1": PAY2}),
            "UntagResources",
            (PAY2,),
        ),
        (tag_call("AddTags", ResourceId=PAY1), "AddTags", (PAY1,)),
        (tag_call("RemoveTags", "Instance", ResourceId=NOTAGS), "RemoveTags", (NOTAGS,)),
    ],
    ids=[
        "run",
        "run-dedup-keeps-order",
        "run-arn",
        "create",
        "tag-flat",
        "tag-flat-numeric-order",
        "tag-list",
        "tag-single-value",
        "tag-list-then-flat",
        "untag-case-insensitive-type",
        "addtags",
        "removetags",
    ],
)
def test_api_calls_name_their_instances(rec: dict, name: str, ids: tuple[str, ...]) -> None:
    assert parse_delivery(rec) == [api("at-1", name, *ids)]
    assert parse_delivery(trail_event(rec)) == [api("ev-1", name, *ids)]


def test_request_and_response_may_be_json_strings() -> None:
    rec = run(PAY1)
    rec["responseElements"] = json.dumps(rec["responseElements"])
    tag = tag_call(**{"ResourceId.1": READER})
    tag["requestParameters"] = json.dumps(tag["requestParameters"])
    assert parse_delivery([rec, tag]) == [
        api("at-1", "RunInstances", PAY1),
        api("at-1", "TagResources", READER),
    ]


@pytest.mark.parametrize(
    ("params", "ids"),
    [
        (
            {
                "ResourceARN.1": f"arn:acs:ecs:{REGION}:{ACCOUNT}:instance/{PAY1}",
                "ResourceARN.2": f"arn:acs:ecs:{REGION}:{ACCOUNT}:disk/d-bp1disk",
                "ResourceARN.3": f"arn:acs:oss:{REGION}:{ACCOUNT}:bucket/logs",
                "ResourceARN.4": f"acs:ecs:*:*:instance/{READER}",
            },
            (PAY1, READER),
        ),
        ({"ResourceARN": [f"arn:acs:ecs:{REGION}:{ACCOUNT}:instance/{PAY2}"]}, (PAY2,)),
    ],
)
def test_tag_service_arns_keep_only_ecs_instances(params: dict, ids: tuple[str, ...]) -> None:
    rec = record(
        "TagResources", params={"RegionId": REGION, "Tags": '{"team":"payments"}', **params}
    )
    assert parse_delivery(rec) == [api("at-1", "TagResources", *ids)]


def test_tag_service_arns_without_an_instance_are_not_an_instance() -> None:
    params = {
        "ResourceARN.1": f"arn:acs:ecs:{REGION}:{ACCOUNT}:image/i-bp1lookslikeaninstance",
        "ResourceARN.2": f"arn:acs:vpc:{REGION}:{ACCOUNT}:vpc/vpc-bp1",
    }
    event = trail_event(
        record("UntagResources", params=params), source="acs.tag", type_="tag:ActionTrail:ApiCall"
    )
    assert parse_delivery(event) == [
        ignored("ev-1", reasons.NOT_AN_INSTANCE, "UntagResources names no ECS instance ARN")
    ]


@pytest.mark.parametrize("name", ["TagResources", "UntagResources", "AddTags", "RemoveTags"])
def test_tagging_other_resource_types_is_not_an_instance(name: str) -> None:
    rec = tag_call(name, "disk", ResourceId="d-bp1disk")
    assert parse_delivery(rec) == [
        ignored("at-1", reasons.NOT_AN_INSTANCE, f"{name} on ResourceType 'disk'")
    ]


def test_failed_call_is_ignored_before_its_body_is_read() -> None:
    # GIVEN a failed RunInstances whose response has no instance ids at all
    rec = record(
        "RunInstances",
        response={"RequestId": "r-1"},
        errorCode="InvalidInstanceType.ValueNotSupported",
        errorMessage="The specified InstanceType does not exist.",
    )

    assert parse_delivery(rec) == [
        ignored(
            "at-1",
            reasons.FAILED_API_CALL,
            "RunInstances failed with 'InvalidInstanceType.ValueNotSupported'",
        )
    ]


def test_empty_error_code_means_success() -> None:
    rec = run(PAY1)
    rec["errorCode"] = ""
    assert parse_delivery(rec) == [api("at-1", "RunInstances", PAY1)]


@pytest.mark.parametrize("name", ["StopInstance", "DeleteInstance", "ModifyInstanceAttribute", ""])
def test_other_api_calls_are_unsupported(name: str) -> None:
    assert parse_delivery(record(name)) == [
        ignored(
            "at-1",
            reasons.UNSUPPORTED_API_CALL,
            f"API call {name!r} neither creates nor tags instances",
        )
    ]


@pytest.mark.parametrize("event_type", ["ApiCall", "ConsoleOperation", "AliyunServiceEvent", None])
def test_event_type_does_not_filter_records(event_type: str | None) -> None:
    rec = run(PAY1)
    rec["eventType"] = event_type
    assert parse_delivery(rec) == [api("at-1", "RunInstances", PAY1)]


@pytest.mark.parametrize("version", ["1", 1, None])
def test_event_version_may_be_a_number(version: Any) -> None:
    rec = run(PAY1)
    rec["eventVersion"] = version
    assert parse_delivery(rec) == [api("at-1", "RunInstances", PAY1)]


@pytest.mark.parametrize(
    ("envelope", "fields", "account", "region"),
    [
        ({}, {}, ACCOUNT, REGION),
        ({"aliyunaccountid": "111", "aliyunregionid": "cn-beijing"}, {}, "111", "cn-beijing"),
        ({"aliyunaccountid": None, "aliyunregionid": None}, {}, ACCOUNT, REGION),
        (
            {"aliyunaccountid": None, "aliyunregionid": None},
            {"recipientAccountId": None, "acsRegion": None},
            "222",
            "cn-shanghai",
        ),
    ],
    ids=["record", "envelope-wins", "record-fallback", "identity-and-params-fallback"],
)
def test_api_call_account_and_region_precedence(
    envelope: dict, fields: dict, account: str, region: str
) -> None:
    rec = run(PAY1)
    rec["userIdentity"] = {"type": "assumed-role", "accountId": "222"}
    rec["requestParameters"] = {"RegionId": "cn-shanghai"}
    rec.update(fields)
    event = trail_event(rec)
    event.update(envelope)
    assert parse_delivery(event) == [
        InstanceCheck((PAY1,), region, account, "ev-1", KIND_API_CALL, "RunInstances")
    ]


def test_record_without_identity_or_region_has_none() -> None:
    rec = {
        "eventId": "at-9",
        "eventName": "CreateInstance",
        "responseElements": {"InstanceId": PAY1},
    }
    assert parse_delivery(rec) == [
        InstanceCheck((PAY1,), None, None, "at-9", KIND_API_CALL, "CreateInstance")
    ]


def test_envelope_id_is_preferred_over_record_event_id() -> None:
    [trigger] = parse_delivery(trail_event(run(PAY1)))
    assert trigger.event_id == "ev-1"
    [trigger] = parse_delivery(trail_event(run(PAY1), id=None))
    assert trigger.event_id == "at-1"


# --- timer --------------------------------------------------------------------------------------


def timer(payload: Any = "reconcile") -> dict:
    return {"triggerTime": "2024-05-14T02:40:00Z", "triggerName": "sweep", "payload": payload}


@pytest.mark.parametrize(
    ("payload", "regions"),
    [
        ("reconcile", ()),
        ("", ()),
        (None, ()),
        ("{", ()),
        ("[1, 2]", ()),
        ('{"dryRun": true}', ()),
        ('{"regions": []}', ()),
        (
            '{"regions": ["cn-hangzhou", "ap-southeast-1", "cn-hangzhou"]}',
            ("cn-hangzhou", "ap-southeast-1"),
        ),
        ("[" * 50_000, ()),
    ],
    ids=[
        "free-text",
        "empty",
        "null",
        "broken-json",
        "json-array",
        "no-regions",
        "empty-regions",
        "regions",
        "deep",
    ],
)
def test_timer_payload_may_narrow_the_regions(payload: Any, regions: tuple[str, ...]) -> None:
    assert parse_delivery(timer(payload)) == [
        SweepRequest("timer:sweep:2024-05-14T02:40:00Z", "sweep", "2024-05-14T02:40:00Z", regions)
    ]


def test_timer_without_payload_sweeps_configured_regions() -> None:
    event = {"triggerTime": "2024-05-14T02:40:00Z", "triggerName": "sweep"}
    [sweep] = parse_delivery(json.dumps(event))
    assert sweep == SweepRequest(
        "timer:sweep:2024-05-14T02:40:00Z", "sweep", "2024-05-14T02:40:00Z", ()
    )


# --- unknown shapes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        ({}, "unrecognised event with no keys"),
        ({"hello": "world"}, "unrecognised event with keys hello"),
        ({"eventName": "RunInstances"}, "unrecognised event with keys eventName"),
        ({"product": 7, "name": "x"}, "unrecognised event with keys product, name"),
        ({"triggerTime": "t"}, "unrecognised event with keys triggerTime"),
        (
            {f"k{n}": n for n in range(20)},
            "unrecognised event with keys k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, ...",
        ),
    ],
)
def test_unrecognised_objects_are_unsupported(event: dict, detail: str) -> None:
    assert parse_delivery(json.dumps(event)) == [
        IgnoredEvent(None, reasons.UNSUPPORTED_EVENT, detail)
    ]


def test_unrecognised_object_keeps_a_string_id() -> None:
    [trigger] = parse_delivery({"id": "x-1", "what": "ever"})
    assert (trigger.event_id, trigger.reason) == ("x-1", reasons.UNSUPPORTED_EVENT)


# --- malformed input ----------------------------------------------------------------------------


def with_data(**data: Any) -> dict:
    return state_event(state(PAY1, "Running", **data))


def replaced(event: dict, path: tuple[Any, ...], value: Any) -> dict:
    """A deep copy of `event` with the value at `path` replaced (or deleted for DELETE)."""
    event = copy.deepcopy(event)
    target = event
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return event


DELETE = object()
TAG_CM = cm_event(tag_payload(), product="tag", name=TAG_CHANGE)

MALFORMED: list[tuple[str, Any, str]] = [
    ("not-utf8", b'{"a": "\xff"}', "event is not UTF-8 (invalid start byte at byte 7)"),
    (
        "surrogate-in-str",
        '{"a": "\ud800"}',
        "event is not UTF-8 (surrogates not allowed at character 7)",
    ),
    ("empty", b"", "event is not valid JSON: Expecting value at line 1 column 1"),
    ("not-json", "id=1", "event is not valid JSON: Expecting value at line 1 column 1"),
    (
        "truncated",
        '{"id": ',
        "event is not valid JSON: Expecting value at line 1 column 8",
    ),
    (
        "bom",
        "\ufeff{}".encode(),
        "event is not valid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig) at line 1 column 1",
    ),
    ("too-deep", "[" * 100_000, "event is not valid JSON: nested too deeply"),
    ("scalar", "42", "event: expected a JSON object or array, got int"),
    ("json-string", '"{}"', "event: expected a JSON object or array, got str"),
    ("json-null", "null", "event: expected a JSON object or array, got null"),
    ("python-int", 42, "event: expected bytes, str or parsed JSON, got int"),
    ("python-none", None, "event: expected bytes, str or parsed JSON, got NoneType"),
    ("python-tuple", (1,), "event: expected bytes, str or parsed JSON, got tuple"),
    ("memoryview", memoryview(b"{}"), "event: expected bytes, str or parsed JSON, got memoryview"),
    ("source-missing", replaced(state_event(), ("source",), DELETE), "source: missing"),
    ("type-number", replaced(state_event(), ("type",), 3), "type: expected a string, got int"),
    (
        "specversion-null",
        replaced(state_event(), ("specversion",), None),
        "specversion: expected a string, got null",
    ),
    ("id-number", replaced(state_event(), ("id",), 12), "id: expected a string, got int"),
    (
        "region-invalid",
        replaced(state_event(), ("aliyunregionid",), "CN_HANGZHOU"),
        "aliyunregionid: invalid region 'CN_HANGZHOU'",
    ),
    (
        "account-letters",
        replaced(state_event(), ("aliyunaccountid",), "12ab"),
        "aliyunaccountid: invalid account id '12ab'",
    ),
    (
        "account-unicode-digits",
        replaced(state_event(), ("aliyunaccountid",), "١٢٣"),
        "aliyunaccountid: invalid account id '١٢٣'",
    ),
    (
        "account-number",
        replaced(state_event(), ("aliyunaccountid",), 1234567890123456),
        "aliyunaccountid: expected a string, got int",
    ),
    (
        "account-too-long",
        replaced(state_event(), ("aliyunaccountid",), "1" * 33),
        f"aliyunaccountid: invalid account id '{'1' * 33}'",
    ),
    ("data-missing", replaced(state_event(), ("data",), DELETE), "data: missing"),
    (
        "data-list",
        replaced(state_event(), ("data",), []),
        "data: expected an object or a JSON string of one, got list",
    ),
    (
        "data-bad-json",
        replaced(state_event(), ("data",), "{oops"),
        "data is not valid JSON: Expecting property name enclosed in double quotes"
        " at line 1 column 2",
    ),
    (
        "resource-missing",
        replaced(state_event(), ("data", "resourceId"), DELETE),
        "data.resourceId: missing",
    ),
    (
        "resource-number",
        replaced(state_event(), ("data", "resourceId"), 5),
        "data.resourceId: expected an instance id string, got int",
    ),
    (
        "resource-invalid",
        replaced(state_event(), ("data", "resourceId"), "vm-123"),
        "data.resourceId: invalid instance id 'vm-123'",
    ),
    (
        "resource-newline",
        replaced(state_event(), ("data", "resourceId"), PAY1 + "\n"),
        f"data.resourceId: invalid instance id '{PAY1}\\n'",
    ),
    (
        "resource-too-long",
        replaced(state_event(), ("data", "resourceId"), "i-" + "a" * 65),
        "data.resourceId: invalid instance id 'i-" + "a" * 65 + "'",
    ),
    (
        "resource-empty",
        replaced(state_event(), ("data", "resourceId"), ""),
        "data.resourceId: invalid instance id ''",
    ),
    (
        "resource-disk-arn",
        replaced(state_event(), ("data", "resourceId"), "acs:ecs:cn-hangzhou:1:disk/d-1"),
        "data.resourceId: 'acs:ecs:cn-hangzhou:1:disk/d-1' is not an ECS instance ARN",
    ),
    (
        "resource-type-number",
        replaced(state_event(), ("data", "resourceType"), 1),
        "data.resourceType: expected a string, got int",
    ),
    ("state-missing", replaced(state_event(), ("data", "state"), DELETE), "data.state: missing"),
    (
        "state-nan",
        json.dumps(state_event()).replace('"Running"', "NaN"),
        "data.state: expected a string, got float",
    ),
    (
        "state-infinity",
        json.dumps(state_event()).replace('"Running"', "-Infinity"),
        "data.state: expected a string, got float",
    ),
    (
        "content-state-missing",
        state_event({"content": {"resourceId": PAY1}}),
        "data.content.state: missing",
    ),
    (
        "content-list",
        state_event({"content": [state(PAY1, "Running")]}),
        "data.content: expected an object or a JSON string of one, got list",
    ),
    (
        "cm-content-missing",
        replaced(cm_event(state(PAY1, "Running")), ("content",), DELETE),
        "content: missing",
    ),
    (
        "cm-content-bad-json",
        cm_event("{'resourceId': 1}"),
        "content is not valid JSON: Expecting property name enclosed in double quotes"
        " at line 1 column 2",
    ),
    (
        "cm-name-number",
        cm_event(state(PAY1, "Running"), name=1),
        "name: expected a string, got int",
    ),
    (
        "cm-user-id-invalid",
        replaced(cm_event(state(PAY1, "Running")), ("userId",), "abc"),
        "userId: invalid account id 'abc'",
    ),
    (
        "cm-region-number",
        replaced(cm_event(state(PAY1, "Running")), ("regionId",), 1),
        "regionId: expected a string, got int",
    ),
    (
        "tag-type-missing",
        replaced(TAG_CM, ("content", "resourceType"), DELETE),
        "content.resourceType: missing",
    ),
    (
        "tag-resource-missing",
        replaced(TAG_CM, ("content", "resourceId"), DELETE),
        "content.resourceId: missing",
    ),
    (
        "tag-resource-invalid",
        replaced(TAG_CM, ("content", "resourceId"), "x"),
        "content.resourceId: invalid instance id 'x'",
    ),
    (
        "tag-product-number",
        replaced(TAG_CM, ("content", "product"), 0),
        "content.product: expected a string, got int",
    ),
    (
        "event-name-number",
        replaced(run(PAY1), ("eventName",), 7),
        "eventName: expected a string, got int",
    ),
    (
        "event-version-bool",
        replaced(run(PAY1), ("eventVersion",), True),
        "eventVersion: expected a string or an integer, got bool",
    ),
    (
        "event-version-list",
        replaced(run(PAY1), ("eventVersion",), [1]),
        "eventVersion: expected a string or an integer, got list",
    ),
    (
        "error-code-number",
        replaced(run(PAY1), ("errorCode",), 403),
        "errorCode: expected a string, got int",
    ),
    (
        "acs-region-invalid",
        replaced(run(PAY1), ("acsRegion",), "Hangzhou"),
        "acsRegion: invalid region 'Hangzhou'",
    ),
    (
        "recipient-invalid",
        replaced(run(PAY1), ("recipientAccountId",), "me"),
        "recipientAccountId: invalid account id 'me'",
    ),
    (
        "identity-list",
        replaced(run(PAY1), ("userIdentity",), []),
        "userIdentity: expected an object or a JSON string of one, got list",
    ),
    (
        "identity-account-invalid",
        replaced(
            replaced(run(PAY1), ("recipientAccountId",), DELETE),
            ("userIdentity", "accountId"),
            "-1",
        ),
        "userIdentity.accountId: invalid account id '-1'",
    ),
    (
        "response-missing",
        replaced(run(PAY1), ("responseElements",), DELETE),
        "responseElements: missing",
    ),
    (
        "response-number",
        replaced(run(PAY1), ("responseElements",), 1),
        "responseElements: expected an object or a JSON string of one, got int",
    ),
    (
        "id-sets-missing",
        replaced(run(PAY1), ("responseElements", "InstanceIdSets"), DELETE),
        "responseElements.InstanceIdSets: missing",
    ),
    (
        "id-set-str",
        replaced(run(PAY1), ("responseElements", "InstanceIdSets", "InstanceIdSet"), PAY1),
        "responseElements.InstanceIdSets.InstanceIdSet: expected a list of instance ids, got str",
    ),
    (
        "id-set-empty",
        run(),
        "responseElements.InstanceIdSets.InstanceIdSet:"
        " expected at least one instance id, got an empty list",
    ),
    (
        "id-set-element",
        run(PAY1, 5),
        "responseElements.InstanceIdSets.InstanceIdSet[1]: expected an instance id string, got int",
    ),
    (
        "id-set-too-many",
        run(*[f"i-bp1{n:018d}" for n in range(101)]),
        "responseElements.InstanceIdSets.InstanceIdSet:"
        " 101 ids, more than the 100 one event may name",  # RunInstances' Amount is 1-100
    ),
    (
        "create-id-missing",
        record("CreateInstance", response={"RequestId": "r"}),
        "responseElements.InstanceId: missing",
    ),
    (
        "params-missing",
        replaced(tag_call(ResourceId=PAY1), ("requestParameters",), DELETE),
        "requestParameters: missing",
    ),
    (
        "tag-resource-type-missing",
        replaced(tag_call(ResourceId=PAY1), ("requestParameters", "ResourceType"), DELETE),
        "requestParameters.ResourceType: missing",
    ),
    ("tag-no-resource-ids", tag_call(), "requestParameters.ResourceId: missing"),
    (
        "tag-flat-invalid",
        tag_call(**{"ResourceId.1": PAY1, "ResourceId.2": "x"}),
        "requestParameters.ResourceId.2: invalid instance id 'x'",
    ),
    (
        "tag-list-invalid",
        tag_call(ResourceId=[PAY1, None]),
        "requestParameters.ResourceId[1]: expected an instance id string, got null",
    ),
    (
        "tag-list-nested",
        tag_call(ResourceId=[[PAY1]]),
        "requestParameters.ResourceId[0]: expected an instance id string, got list",
    ),
    (
        "tag-too-many",
        tag_call(**{f"ResourceId.{n}": PAY1 for n in range(1, 52)}),
        "requestParameters.ResourceId: 51 ids, more than the 50 one event may name",
    ),
    (
        "tag-arn-not-arn",
        record("TagResources", params={"ResourceARN.1": PAY1}),
        f"requestParameters.ResourceARN.1: expected a resource ARN, got '{PAY1}'",
    ),
    (
        "tag-arn-number",
        record("TagResources", params={"ResourceARN.1": 1}),
        "requestParameters.ResourceARN.1: expected a resource ARN, got int",
    ),
    (
        "tag-arn-bad-id",
        record("TagResources", params={"ResourceARN.1": "arn:acs:ecs:*:*:instance/x"}),
        "requestParameters.ResourceARN.1: invalid instance id 'arn:acs:ecs:*:*:instance/x'",
    ),
    ("addtags-id-missing", tag_call("AddTags"), "requestParameters.ResourceId: missing"),
    (
        "addtags-id-list",
        tag_call("AddTags", ResourceId=[PAY1]),
        "requestParameters.ResourceId: expected an instance id string, got list",
    ),
    (
        "eb-trail-path",
        trail_event(run("bad")),
        "data.responseElements.InstanceIdSets.InstanceIdSet[0]: invalid instance id 'bad'",
    ),
    ("eb-trail-data-missing", replaced(trail_event(run(PAY1)), ("data",), DELETE), "data: missing"),
    (
        "timer-name-number",
        replaced(timer(), ("triggerName",), 1),
        "triggerName: expected a string, got int",
    ),
    ("timer-payload-number", timer(5), "payload: expected a string, got int"),
    (
        "timer-regions-str",
        timer('{"regions": "cn-hangzhou"}'),
        "payload.regions: expected a list of region ids, got str",
    ),
    (
        "timer-region-invalid",
        timer('{"regions": ["cn-hangzhou", "Mars"]}'),
        "payload.regions[1]: invalid region 'Mars'",
    ),
    ("timer-region-number", timer('{"regions": [1]}'), "payload.regions[0]: invalid region int"),
    (
        "batch-too-big",
        "[" + ",".join(["{}"] * (MAX_BATCH + 1)) + "]",
        f"event: batch of {MAX_BATCH + 1} events, more than the {MAX_BATCH} accepted",
    ),
    (
        "bytes-too-big",
        b" " * (MAX_INPUT_BYTES + 1),
        f"event: {MAX_INPUT_BYTES + 1} bytes, more than the {MAX_INPUT_BYTES} accepted",
    ),
    (
        "str-too-big",
        " " * (MAX_INPUT_BYTES + 1),
        f"event: more than the {MAX_INPUT_BYTES} bytes accepted",
    ),
    (
        "str-too-big-in-utf8",
        "é" * (MAX_INPUT_BYTES // 2 + 1),
        f"event: {MAX_INPUT_BYTES + 2} bytes, more than the {MAX_INPUT_BYTES} accepted",
    ),
]


@pytest.mark.parametrize(
    ("raw", "message"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED]
)
def test_malformed_single_event_raises_naming_the_location(raw: Any, message: str) -> None:
    with pytest.raises(EventError) as excinfo:
        parse_delivery(raw)
    assert str(excinfo.value) == message


@pytest.mark.skipif(
    not hasattr(sys, "get_int_max_str_digits"), reason="Python has no integer digit limit"
)
def test_integer_beyond_the_digit_limit_is_an_event_error() -> None:
    # json.loads raises a plain ValueError here, not a JSONDecodeError.
    with pytest.raises(EventError, match=r"^event is not valid JSON: Exceeds the limit"):
        parse_delivery('{"n": ' + "9" * 5000 + "}")


def test_event_error_is_an_input_error() -> None:
    with pytest.raises(InputError):
        parse_delivery(b"{")


# --- batches ------------------------------------------------------------------------------------


def test_malformed_elements_do_not_reject_the_batch() -> None:
    # GIVEN a batch mixing good events with every kind of bad element
    bad_run = run(PAY1)
    bad_run["responseElements"]["InstanceIdSets"]["InstanceIdSet"] = PAY1
    batch = [
        json.dumps(state_event()),
        {"id": "bad-1", "specversion": "1.0", "source": "acs.ecs", "type": STATE_CHANGE},
        bad_run,
        [state_event()],
        json.dumps([state_event()]),
        "{not json",
        7,
        None,
        run(PAY2),
    ]

    triggers = parse_delivery(json.dumps(batch).encode())

    assert triggers == [
        check("ev-1", PAY1),
        IgnoredEvent("bad-1", reasons.MALFORMED_EVENT, "[1].data: missing"),
        IgnoredEvent(
            "at-1",
            reasons.MALFORMED_EVENT,
            "[2].responseElements.InstanceIdSets.InstanceIdSet:"
            " expected a list of instance ids, got str",
        ),
        IgnoredEvent(None, reasons.MALFORMED_EVENT, "[3]: a batch inside a batch is not accepted"),
        IgnoredEvent(None, reasons.MALFORMED_EVENT, "[4]: a batch inside a batch is not accepted"),
        IgnoredEvent(
            None,
            reasons.MALFORMED_EVENT,
            "[5] is not valid JSON:"
            " Expecting property name enclosed in double quotes at line 1 column 2",
        ),
        IgnoredEvent(None, reasons.MALFORMED_EVENT, "[6]: expected an event object, got int"),
        IgnoredEvent(None, reasons.MALFORMED_EVENT, "[7]: expected an event object, got null"),
        api("at-1", "RunInstances", PAY2),
    ]


def test_empty_batch_gives_no_triggers() -> None:
    assert parse_delivery(b"[]") == []


def test_largest_batch_is_accepted() -> None:
    triggers = parse_delivery("[" + ",".join(["{}"] * MAX_BATCH) + "]")
    assert len(triggers) == MAX_BATCH
    assert {t.reason for t in triggers if isinstance(t, IgnoredEvent)} == {
        reasons.UNSUPPORTED_EVENT
    }


def test_deeply_nested_batch_element_is_malformed_not_a_crash() -> None:
    [trigger] = parse_delivery(["[" * 100_000])
    assert trigger == IgnoredEvent(
        None, reasons.MALFORMED_EVENT, "[0] is not valid JSON: nested too deeply"
    )


# --- exclude_foreign ----------------------------------------------------------------------------


def test_exclude_foreign_replaces_only_other_accounts_instance_checks() -> None:
    # GIVEN one trigger of each kind, some for another account
    ours = check("e-1", PAY1)
    theirs = check("e-2", PAY1, PAY2, account=FOREIGN, kind=KIND_API_CALL, name="RunInstances")
    unknown = check("e-3", READER, account=None)
    foreign_ignored = ignored("e-4", reasons.IRRELEVANT_STATE, "stopped", PAY1, account=FOREIGN)
    sweep = SweepRequest("timer:a:b", "a", "b", ())

    result = exclude_foreign(iter([ours, theirs, unknown, foreign_ignored, sweep]), ACCOUNT)

    assert result == [
        ours,
        IgnoredEvent(
            "e-2",
            reasons.FOREIGN_ACCOUNT,
            f"event for account {FOREIGN}; this function serves account {ACCOUNT}",
            REGION,
            FOREIGN,
            (PAY1, PAY2),
        ),
        unknown,
        foreign_ignored,
        sweep,
    ]


def test_exclude_foreign_without_own_account_keeps_everything() -> None:
    triggers = [check("e-1", PAY1, account=FOREIGN)]
    assert exclude_foreign(triggers, None) == triggers


def test_instance_check_requires_an_instance() -> None:
    with pytest.raises(ValueError, match="at least one instance"):
        InstanceCheck((), REGION, ACCOUNT, None, KIND_API_CALL, "RunInstances")


# --- robustness: only EventError, whatever a field holds -----------------------------------------

ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1.5,
    float("nan"),
    "",
    "x",
    "i-",
    [],
    [None],
    {},
    {"a": []},
]


def leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key/index path in a JSON value, outermost first."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*path, key)
            yield from leaf_paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*path, index)
            yield from leaf_paths(child, (*path, index))


def mutations(event: Any) -> Iterator[Any]:
    for path in leaf_paths(event):
        for value in ODD_VALUES:
            yield replaced(event, path, value)
        if isinstance(path[-1], str):
            yield replaced(event, path, DELETE)


@pytest.mark.parametrize("name", sample_files())
def test_any_field_of_a_sample_holding_anything_gives_triggers_or_event_error(name: str) -> None:
    # GIVEN every sample with each field in turn replaced by an odd value or removed
    sample = json.loads((EVENTS / name).read_text())
    outcomes = {"parsed": 0, "rejected": 0}

    for mutant in mutations(sample):
        # WHEN parsed, THEN the result is triggers or an EventError: never another exception
        try:
            triggers = parse_delivery(mutant)
        except EventError:
            outcomes["rejected"] += 1
            continue
        assert all(isinstance(t, (InstanceCheck, SweepRequest, IgnoredEvent)) for t in triggers)
        outcomes["parsed"] += 1

    # Both happen for every sample, so the mutations reached the parser's checks.
    assert outcomes["parsed"] > 0
    assert outcomes["rejected"] > 0 or name.startswith(("batch-", "eventbridge-streaming"))
