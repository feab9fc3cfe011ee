"""Deliveries whose effect is known by construction, not by asking the code under test.

Each event is built from a real shape (EventBridge and CloudMonitor state changes, tag changes,
ActionTrail records raw or inside a CloudEvent) with the facts that decide the outcome chosen
explicitly. `write_nothing()` only draws events that must not lead to any write:
- FOREIGN: instances that exist and need a role, but every account field names another account;
- UNKNOWN: our account and region, instance ids that do not exist;
- ELSEWHERE: instances that exist, named in a region where they do not;
- IRRELEVANT: instances that exist, in an event that is not about a binding (a state that is not
  a creation state, a failed API call, an API that neither creates nor tags, another product).
`would_write()` lists the same shapes for our account: the control that shows they are live.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.deliveries import to_json
from tests.fuzz.mutants import Draw, damaged_bytes, pick

OWN = "1234567890123456"
REGION = "cn-hangzhou"
# Instances of events/seed.yaml that the example mapping gives a role: any event reaching the
# engine for them in our account and region attaches one.
LIVE = ("i-bp1payments0000000001", "i-bp1payments0000000002", "i-bp1reader00000000001")
# Other accounts differ from ours in most digits, so no single damaged byte turns one into ours.
FOREIGN_ACCOUNTS = ("9876543210987654", "5555555555555555", "1098765432109876")
UNKNOWN_IDS = ("i-bp1nosuch000000001", "i-uf6zzzzzzzzzzzzzzzz9", "i-" + "q" * 20)
OTHER_REGIONS = ("cn-shanghai", "ap-southeast-1", "eu-central-1")
NOT_CREATION = ("Stopped", "Stopping", "Deleted", "Pending.Failed", "Expired")
FAILED_CODES = ("Forbidden.RAM", "InvalidParameter", "QuotaExceed.Instance")
OTHER_APIS = ("StopInstance", "DescribeInstances", "ModifyInstanceAttribute", "DeleteInstance")
OTHER_SOURCES = (
    ("acs.oss", "oss:ObjectCreated:PutObject"),
    ("acs.rds", "rds:Instance:StateChange"),
    ("acs.ecs", "ecs:Disk:StateChange"),
)


def _envelope(source: str, event_type: str, account: str, region: str, data: Any) -> dict:
    return {
        "id": "known-construction",
        "source": source,
        "specversion": "1.0",
        "type": event_type,
        "time": "2024-05-14T10:31:07+08:00",
        "aliyunaccountid": account,
        "aliyunregionid": region,
        "data": data,
    }


def state_change(ids: Sequence[str], account: str, region: str, state: str = "Running") -> dict:
    data = {"resourceId": ids[0], "resourceType": "ALIYUN::ECS::Instance", "state": state}
    return _envelope("acs.ecs", "ecs:Instance:StateChange", account, region, data)


def cloudmonitor_state(ids: Sequence[str], account: str, region: str, state: str = "Starting"):
    content = {"resourceId": ids[0], "resourceType": "ALIYUN::ECS::Instance", "state": state}
    return {
        "id": "known-construction",
        "product": "ECS",
        "name": "Instance:StateChange",
        "userId": account,
        "regionId": region,
        "content": content,
    }


def tag_change(ids: Sequence[str], account: str, region: str) -> dict:
    data = {"product": "ecs", "resourceType": "instance", "resourceId": ids[0]}
    return _envelope("acs.tag", "tag:Tag:ChangeOnResource", account, region, data)


def trail(
    ids: Sequence[str], account: str, region: str, name: str = "RunInstances", error: str = ""
) -> dict:
    """A raw ActionTrail record of `name` naming `ids` (RunInstances' answer, or tag targets)."""
    record: dict[str, Any] = {
        "eventId": "known-construction",
        "eventVersion": "1",
        "eventType": "ApiCall",
        "eventName": name,
        "acsRegion": region,
        "recipientAccountId": account,
        "userIdentity": {"type": "ram-user", "accountId": account},
        "requestParameters": {"RegionId": region, "ResourceType": "instance"},
        "responseElements": {"InstanceIdSets": {"InstanceIdSet": list(ids)}},
    }
    for index, instance in enumerate(ids, 1):
        record["requestParameters"][f"ResourceId.{index}"] = instance
    if error:
        record["errorCode"] = error
    return record


def wrapped_trail(ids: Sequence[str], account: str, region: str, **fields: str) -> dict:
    data = trail(ids, account, region, **fields)
    return _envelope("acs.ecs", "ecs:ActionTrail:ApiCall", account, region, data)


Builder = Callable[..., dict]
SHAPES: tuple[Builder, ...] = (state_change, cloudmonitor_state, tag_change, trail, wrapped_trail)


TRAIL_NAMES = ("RunInstances", "TagResources")


def _trail_name(builder: Builder, draw: Draw) -> dict[str, str]:
    if builder in (trail, wrapped_trail):
        return {"name": pick(draw, TRAIL_NAMES)}
    return {}


@st.composite
def foreign(draw: Draw) -> Any:
    builder = pick(draw, SHAPES)
    ids = draw(st.lists(st.sampled_from(LIVE), min_size=1, max_size=3, unique=True))
    return builder(ids, pick(draw, FOREIGN_ACCOUNTS), REGION, **_trail_name(builder, draw))


@st.composite
def unknown(draw: Draw) -> Any:
    builder = pick(draw, SHAPES)
    ids = draw(st.lists(st.sampled_from(UNKNOWN_IDS), min_size=1, max_size=3, unique=True))
    return builder(ids, OWN, REGION, **_trail_name(builder, draw))


@st.composite
def elsewhere(draw: Draw) -> Any:
    builder = pick(draw, SHAPES)
    ids = draw(st.lists(st.sampled_from(LIVE), min_size=1, max_size=3, unique=True))
    return builder(ids, OWN, pick(draw, OTHER_REGIONS), **_trail_name(builder, draw))


@st.composite
def irrelevant(draw: Draw) -> Any:
    ids = draw(st.lists(st.sampled_from(LIVE), min_size=1, max_size=3, unique=True))
    how = pick(draw, ("state", "monitor-state", "failed", "other-api", "other-source"))
    if how == "state":
        return state_change(ids, OWN, REGION, pick(draw, NOT_CREATION))
    if how == "monitor-state":
        return cloudmonitor_state(ids, OWN, REGION, pick(draw, NOT_CREATION))
    if how == "failed":
        builder = pick(draw, (trail, wrapped_trail))
        return builder(ids, OWN, REGION, name="RunInstances", error=pick(draw, FAILED_CODES))
    if how == "other-api":
        return pick(draw, (trail, wrapped_trail))(ids, OWN, REGION, name=pick(draw, OTHER_APIS))
    source, event_type = pick(draw, OTHER_SOURCES)
    event = state_change(ids, OWN, REGION)
    return {**event, "source": source, "type": event_type}


KINDS = {"foreign": foreign, "unknown": unknown, "elsewhere": elsewhere, "irrelevant": irrelevant}


@st.composite
def write_nothing(draw: Draw) -> Any:
    """One delivery (an event or a batch, in any of FC's encodings) that must write nothing."""
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=4))
    events = [draw(KINDS[kind]()) for kind in kinds]
    batch = len(events) > 1 or draw(st.booleans())
    if batch and draw(st.booleans()):  # event streaming holds each event as a JSON string
        document: Any = [to_json(event) for event in events]
    else:
        document = events if batch else events[0]
    # Damaged bytes could, in principle, rewrite a fact (drop an account field, an error code);
    # only deliveries of unknown ids keep their known effect whatever the damage.
    if set(kinds) == {"unknown"} and draw(st.booleans()):
        text = to_json(document) or "null"
        return draw(damaged_bytes(text.encode()))
    return encoded(document, pick(draw, ("object", "text", "bytes", "bytearray")))


def encoded(document: Any, form: str) -> Any:
    """`document` as FC hands it over: parsed, JSON text, or UTF-8 bytes; never damaged."""
    if form == "object":
        return document
    text = to_json(document) or "null"
    if form == "text":
        return text
    return text.encode() if form == "bytes" else bytearray(text.encode())


def would_write() -> list[tuple[str, Builder, str]]:
    """(shape, builder, event name) of every shape above: each, for a live instance in our
    account and region, must attach (the control showing the shapes are live)."""
    named = [(f"{b.__name__}:{n}", b, n) for b in (trail, wrapped_trail) for n in TRAIL_NAMES]
    return [(b.__name__, b, "") for b in SHAPES if b not in (trail, wrapped_trail)] + named
