"""What the fake delivers through "EventBridge": state changes, tag changes, ActionTrail calls."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aliyunsdkecs.request.v20140526.DeleteInstanceRequest import DeleteInstanceRequest
from aliyunsdkecs.request.v20140526.DescribeInstanceRamRoleRequest import (
    DescribeInstanceRamRoleRequest,
)
from aliyunsdkecs.request.v20140526.ListTagResourcesRequest import ListTagResourcesRequest
from aliyunsdkecs.request.v20140526.StartInstanceRequest import StartInstanceRequest
from aliyunsdkecs.request.v20140526.StopInstanceRequest import StopInstanceRequest
from aliyunsdkecs.request.v20140526.TagResourcesRequest import TagResourcesRequest
from aliyunsdkecs.request.v20140526.UntagResourcesRequest import UntagResourcesRequest
from aliyunsdkram.request.v20150501.CreateRoleRequest import CreateRoleRequest
from aliyunsdkram.request.v20150501.GetRoleRequest import GetRoleRequest
from aliyunsdkram.request.v20150501.ListRolesRequest import ListRolesRequest

from fakecloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCOUNT_ID, FakeCloud, FakeCloudServer
from fakecloud.ram import ecs_trust_policy
from tests.fakecloud.builders import (
    ROLE,
    describe,
    run,
    run_request,
    run_running,
    seed_role,
    seed_vpc,
    server_error,
)
from tests.support import REGION, call, make_client

STATE = "ecs:Instance:StateChange"
TAG = "tag:Tag:ChangeOnResource"
TRAIL = "ecs:ActionTrail:ApiCall"
ENVELOPE = {
    "id",
    "source",
    "specversion",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "aliyunaccountid",
    "aliyunpublishtime",
    "aliyuneventbusname",
    "aliyunregionid",
    "aliyunpublishaddr",
    "data",
}


def events(cloud: FakeCloud, type_: str | None = None, since: int = 0) -> list[dict[str, Any]]:
    return [e for _, e in cloud.events.since(since) if type_ is None or e["type"] == type_]


def states(cloud: FakeCloud, since: int = 0) -> list[tuple[str, str]]:
    return [(e["data"]["resourceId"], e["data"]["state"]) for e in events(cloud, STATE, since)]


def last_seq(cloud: FakeCloud) -> int:
    seen = cloud.events.since(0)
    return seen[-1][0] if seen else 0


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")


def by_id(instance_id: str, request: Any) -> Any:
    request.set_InstanceId(instance_id)
    return request


def tag_request(ids: list[str], tags: dict[str, str]) -> TagResourcesRequest:
    request = TagResourcesRequest()
    request.set_ResourceType("instance")
    request.set_ResourceIds(ids)
    request.set_Tags([{"Key": k, "Value": v} for k, v in tags.items()])
    return request


@pytest.fixture
def vpc(cloud: FakeCloud) -> str:
    return seed_vpc(cloud)


# -- instance state changes ----------------------------------------------------------------


def test_run_instances_emits_created_starting_running(cloud: FakeCloud, client, vpc: str) -> None:
    [instance_id] = run(client)
    cloud.advance(1)
    cloud.advance(1)

    assert states(cloud) == [
        (instance_id, "Created"),
        (instance_id, "Starting"),
        (instance_id, "Running"),
    ]


def test_a_state_change_is_a_complete_cloud_event(cloud: FakeCloud, client, vpc: str) -> None:
    [instance_id] = run(client)

    [event] = events(cloud, STATE)

    assert set(event) == ENVELOPE
    assert (event["source"], event["specversion"]) == ("acs.ecs", "1.0")
    assert event["subject"] == f"acs:ecs:{REGION}:{DEFAULT_ACCOUNT_ID}:instance/{instance_id}"
    assert event["datacontenttype"] == "application/json;charset=utf-8"
    assert (event["aliyunaccountid"], event["aliyunregionid"]) == (DEFAULT_ACCOUNT_ID, REGION)
    assert event["aliyuneventbusname"] == "default"
    assert event["aliyunpublishaddr"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["aliyunpublishtime"])
    assert event["data"] == {
        "resourceId": instance_id,
        "resourceType": "ALIYUN::ECS::Instance",
        "state": "Created",
    }


def test_event_times_follow_the_cloud_clock(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN an instance run, then an hour on the cloud's clock
    run(client)
    cloud.advance(3600)

    # WHEN
    created, starting = events(cloud, STATE)[:2]

    # THEN the transition is stamped when the clock reached it
    elapsed = parse_time(starting["time"]) - parse_time(created["time"])
    assert 3600 <= elapsed.total_seconds() <= 3601


def test_stop_start_delete_emit_each_transition(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN a running instance
    [instance_id] = run_running(cloud, client)
    mark = last_seq(cloud)

    # WHEN it is stopped, started, stopped and deleted
    call(client, by_id(instance_id, StopInstanceRequest()))
    cloud.advance(1)
    call(client, by_id(instance_id, StartInstanceRequest()))
    cloud.advance(1)
    call(client, by_id(instance_id, StopInstanceRequest()))
    cloud.advance(1)
    call(client, by_id(instance_id, DeleteInstanceRequest()))

    # THEN
    assert [s for _, s in states(cloud, mark)] == [
        "Stopping",
        "Stopped",
        "Starting",
        "Running",
        "Stopping",
        "Stopped",
        "Deleted",
    ]


def test_events_of_another_account_carry_that_account(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN an instance in each of two accounts, same region
    other_account = "9999999999999999"
    cloud.add_key("LTAI5tOther", "other-secret", account_id=other_account)
    other = make_client(server, access_key_id="LTAI5tOther", access_key_secret="other-secret")
    seed_vpc(cloud)
    cloud.ecs(REGION, other_account).add_vswitch(
        "vsw-bp1acceptance", "vpc-x", "cn-hangzhou-h", "10.0.0.0/24"
    )
    run(make_client(server))
    [theirs] = run(other)

    # WHEN the other account's instance is force-deleted
    mark = last_seq(cloud)
    request = by_id(theirs, DeleteInstanceRequest())
    request.set_Force(True)
    call(other, request)

    # THEN every event about it names its own account
    about = [e for e in events(cloud, since=mark) if theirs in e["subject"]]
    assert [e["data"].get("state") for e in about if e["type"] == STATE] == ["Deleted"]
    assert {e["aliyunaccountid"] for e in about} == {other_account}


# -- tag changes ---------------------------------------------------------------------------


def test_tagging_emits_changed_keys_and_all_tags(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN an instance tagged team=payments
    [instance_id] = run(client, tags={"team": "payments"})
    mark = last_seq(cloud)

    # WHEN env is added, team kept with the same value
    call(client, tag_request([instance_id], {"env": "prod", "team": "payments"}))

    # THEN
    [event] = events(cloud, TAG, mark)
    assert set(event) == ENVELOPE
    assert (event["source"], event["aliyunaccountid"]) == ("acs.tag", DEFAULT_ACCOUNT_ID)
    assert event["subject"] == f"acs:ecs:{REGION}:{DEFAULT_ACCOUNT_ID}:instance/{instance_id}"
    assert event["data"] == {
        "product": "ecs",
        "resourceType": "instance",
        "resourceId": instance_id,
        "regionId": REGION,
        "changedTagKeys": ["env"],
        "tags": {"team": "payments", "env": "prod"},
    }


def test_one_tag_event_per_changed_instance(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN one instance that already has env=prod and two that do not
    [same] = run(client, tags={"env": "prod"})
    others = run(client, 2)
    mark = last_seq(cloud)

    # WHEN all three get env=prod
    call(client, tag_request([same, *others], {"env": "prod"}))

    # THEN only the two that changed are reported
    assert sorted(e["data"]["resourceId"] for e in events(cloud, TAG, mark)) == sorted(others)


def test_untagging_reports_the_removed_keys(cloud: FakeCloud, client, vpc: str) -> None:
    [instance_id] = run(client, tags={"team": "a", "env": "prod", "tier": "web"})
    mark = last_seq(cloud)
    request = UntagResourcesRequest()
    request.set_ResourceType("instance")
    request.set_ResourceIds([instance_id])
    request.set_TagKeys(["tier", "env"])

    call(client, request)

    [event] = events(cloud, TAG, mark)
    assert event["data"]["changedTagKeys"] == ["env", "tier"]
    assert event["data"]["tags"] == {"team": "a"}


# -- ActionTrail ---------------------------------------------------------------------------


def test_a_write_is_recorded_by_action_trail(cloud: FakeCloud, client, vpc: str) -> None:
    # WHEN an instance is run with a tag
    body = call(client, run_request(tags={"team": "payments"}, name="web"))

    # THEN one ApiCall record describes the call and its answer
    [event] = events(cloud, TRAIL)
    assert set(event) == ENVELOPE
    assert event["source"] == "acs.ecs"
    assert event["subject"] == f"acs:ecs:{REGION}:{DEFAULT_ACCOUNT_ID}:api/RunInstances"
    record = event["data"]
    assert (record["eventType"], record["eventName"], record["serviceName"]) == (
        "ApiCall",
        "RunInstances",
        "Ecs",
    )
    assert (record["acsRegion"], record["apiVersion"]) == (REGION, "2014-05-26")
    assert record["requestId"] == body["RequestId"]
    assert record["recipientAccountId"] == DEFAULT_ACCOUNT_ID
    assert record["userAgent"].startswith("AlibabaCloud")
    assert record["userIdentity"]["accessKeyId"] == DEFAULT_ACCESS_KEY_ID
    assert record["userIdentity"]["type"] == "ram-user"
    parameters = record["requestParameters"]
    assert parameters["RegionId"] == REGION
    assert (parameters["Tag.1.Key"], parameters["Tag.1.Value"]) == ("team", "payments")
    assert parameters["InstanceName"] == "web"
    for secret in ("Signature", "SecurityToken", "AccessKeyId", "SignatureNonce", "Timestamp"):
        assert secret not in parameters
    assert record["responseElements"]["InstanceIdSets"] == body["InstanceIdSets"]
    assert record["responseElements"]["RequestId"] == body["RequestId"]


def test_an_sts_write_is_recorded_as_an_assumed_role(
    cloud: FakeCloud, server: FakeCloudServer, vpc: str
) -> None:
    cloud.add_key("STS.NUfake", "sts-secret", security_token="CAIS-token")
    client = make_client(
        server,
        access_key_id="STS.NUfake",
        access_key_secret="sts-secret",
        security_token="CAIS-token",
    )

    call(client, run_request())

    [event] = events(cloud, TRAIL)
    assert event["data"]["userIdentity"]["type"] == "assumed-role"
    assert "SecurityToken" not in event["data"]["requestParameters"]


def test_ram_writes_are_recorded_under_ram(cloud: FakeCloud, client) -> None:
    request = CreateRoleRequest()
    request.set_RoleName(ROLE)
    request.set_AssumeRolePolicyDocument(ecs_trust_policy())

    call(client, request)

    [event] = events(cloud)
    assert (event["source"], event["type"]) == ("acs.ram", "ram:ActionTrail:ApiCall")
    assert event["data"]["eventName"] == "CreateRole"
    assert event["data"]["requestParameters"]["RoleName"] == ROLE


def test_a_failed_write_is_recorded_with_its_error_code(cloud: FakeCloud, client) -> None:
    # ActionTrail records failed calls too, with errorCode/errorMessage and no response
    server_error(client, run_request(vswitch_id="vsw-bp1nothere"))

    [event] = events(cloud)
    assert event["type"] == "ecs:ActionTrail:ApiCall"
    assert event["data"]["eventName"] == "RunInstances"
    assert event["data"]["errorCode"] == "InvalidVSwitchId.NotFound"
    assert event["data"]["errorMessage"]
    assert event["data"]["responseElements"] is None


def test_reads_emit_nothing(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN an instance with a role and the events so far
    seed_role(cloud)
    [instance_id] = run_running(cloud, client, tags={"team": "a"}, role=ROLE)
    mark = last_seq(cloud)

    # WHEN every read action is called
    describe(client)
    roles = DescribeInstanceRamRoleRequest()
    roles.set_RamRoleName(ROLE)
    call(client, roles)
    tags = ListTagResourcesRequest()
    tags.set_ResourceType("instance")
    tags.set_ResourceIds([instance_id])
    call(client, tags)
    call(client, ListRolesRequest())
    get = GetRoleRequest()
    get.set_RoleName(ROLE)
    call(client, get)

    # THEN nothing was emitted
    assert events(cloud, since=mark) == []


# -- delivery ------------------------------------------------------------------------------


def test_events_are_written_as_json_lines(
    cloud: FakeCloud, client, vpc: str, tmp_path: Path
) -> None:
    # GIVEN an events file
    out = tmp_path / "events.jsonl"
    cloud.events.write_to(out)

    # WHEN an instance is run and boots
    run(client)
    cloud.advance(2)

    # THEN every event is one line, in delivery order
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines == events(cloud)
    assert [e["type"] for e in lines] == [STATE, TRAIL, STATE, STATE]


def test_subscribers_get_events_until_they_unsubscribe(cloud: FakeCloud, client, vpc: str) -> None:
    # GIVEN a subscriber
    seen: list[dict[str, Any]] = []
    unsubscribe = cloud.events.subscribe(seen.append)

    # WHEN an instance is run, then the subscriber leaves, then the instance boots
    run(client)
    unsubscribe()
    cloud.advance(2)

    # THEN it got the events of the run only
    assert [e["type"] for e in seen] == [STATE, TRAIL]
    assert len(events(cloud)) == 4


def test_a_subscriber_may_call_the_api(cloud: FakeCloud, server: FakeCloudServer, vpc: str) -> None:
    # GIVEN a subscriber that describes the instance each state change is about
    seed_role(cloud)
    client = make_client(server)
    statuses: list[str] = []

    def on_event(event: dict[str, Any]) -> None:
        if event["type"] == STATE and event["data"]["state"] != "Created":
            body = describe(client, InstanceIds=[event["data"]["resourceId"]])
            statuses.append(body["Instances"]["Instance"][0]["Status"])

    cloud.events.subscribe(on_event)

    # WHEN an instance boots
    run(client)
    cloud.advance(1)
    cloud.advance(1)

    # THEN the subscriber saw the state each event announced
    assert statuses == ["Starting", "Running"]


def test_since_gives_the_events_after_a_sequence_number(cloud: FakeCloud, client, vpc: str) -> None:
    run(client)
    mark = last_seq(cloud)
    cloud.advance(2)

    later = cloud.events.since(mark)

    assert [n for n, _ in later] == [mark + 1, mark + 2]
    assert [e["data"]["state"] for _, e in later] == ["Starting", "Running"]
