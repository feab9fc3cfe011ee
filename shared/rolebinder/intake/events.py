"""Event intake: turn what Function Compute delivered into triggers for the engine.

One FC invocation can carry an EventBridge CloudEvent, a CloudMonitor notification, an
ActionTrail API-call record (raw or as a CloudEvent's `data`), an FC timer payload, or a batch
of those. The shape is detected, never configured. The result says which instances to read
(`InstanceCheck`), that a sweep is due (`SweepRequest`), or why nothing is to be done
(`IgnoredEvent`). Tags carried by events are never kept: the engine re-reads them from the API,
so a stale or forged event cannot choose a role.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable

from rolebinder.domain import reasons
from rolebinder.domain.ownership import only_reserved
from rolebinder.errors import EventError
from rolebinder.intake.readers import (
    MAX_LABEL,
    Fields,
    decode,
    fail,
    instance_id,
    item,
    kind,
    loads,
    parse_arn,
    printable,
    region,
    show,
)
from rolebinder.intake.readers import account_id as account
from rolebinder.value import Value

KIND_INSTANCE_STATE = "instance-state"
KIND_TAG_CHANGE = "tag-change"
KIND_API_CALL = "api-call"
STATE_CHANGE = "ecs:Instance:StateChange"
TAG_CHANGE = "Tag:ChangeOnResource"

# Refused before decoding, so a runaway producer cannot exhaust the function's memory.
MAX_INPUT_BYTES = 16 * 1024 * 1024
# EventBridge's largest batch window (CountBasedWindow) is 10,000 events.
MAX_BATCH = 10_000
# Documented per-call limits of the APIs whose records name instances: RunInstances launches
# 1-100 (Amount), the tag APIs take up to 50 resources. A record naming more is forged.
MAX_LAUNCHED = 100
MAX_TAGGED = 50
# A timer payload may narrow a sweep to these many regions or accounts at most.
MAX_SWEEP_IDS = 1000
# Pending and Created are sent once at creation; Starting and Running follow. Docs differ on
# which of them appear, so all four mean "a new instance may need its role".
CREATION_STATES = frozenset({"pending", "created", "starting", "running"})
_ECS_INSTANCE_TYPE = "aliyun::ecs::instance"
# Keys that, next to `eventName`, mark a raw ActionTrail record.
_TRAIL_MARKERS = frozenset({"eventType", "eventId", "eventVersion", "acsRegion", "userIdentity"})


class _Check(Value):
    instance_ids: tuple[str, ...]
    region: str | None
    account_id: str | None
    event_id: str | None
    event_kind: str
    event_name: str


class InstanceCheck(_Check):
    """Read these instances from the API and bind what the mapping says (at least one)."""

    __slots__ = ()

    def __new__(
        cls,
        instance_ids: tuple[str, ...],
        region: str | None,
        account_id: str | None,
        event_id: str | None,
        event_kind: str,
        event_name: str,
    ) -> InstanceCheck:
        if not instance_ids:
            raise ValueError("an InstanceCheck names at least one instance")
        return super().__new__(
            cls, instance_ids, region, account_id, event_id, event_kind, event_name
        )

    @property
    def announces_new(self) -> bool:
        """True when the event announces new instances, which the API may not show yet."""
        return self.event_kind == KIND_INSTANCE_STATE or self.event_name in CREATION_CALLS


class SweepRequest(Value):
    """The FC timer fired: sweep the given regions and accounts, or the configured ones when
    empty (a hub's fan-out names one account)."""

    event_id: str | None
    trigger_name: str | None
    trigger_time: str | None
    regions: tuple[str, ...] = ()
    account_ids: tuple[str, ...] = ()


class IgnoredEvent(Value):
    """Nothing to do for this event; `reason` is a constant from rolebinder.domain.reasons."""

    event_id: str | None
    reason: str
    detail: str
    region: str | None = None
    account_id: str | None = None
    instance_ids: tuple[str, ...] = ()


# `X | Y` of classes is a runtime union on Python 3.10 too; isinstance() accepts it.
Trigger = InstanceCheck | SweepRequest | IgnoredEvent


class _Meta(Value):
    """Where an event came from, shared by every trigger built from it."""

    event_id: str | None = None
    region: str | None = None
    account_id: str | None = None

    def prefer(self, fallback: _Meta) -> _Meta:
        return _Meta(
            self.event_id or fallback.event_id,
            self.region or fallback.region,
            self.account_id or fallback.account_id,
        )

    def check(self, ids: Iterable[str], event_kind: str, event_name: str) -> InstanceCheck:
        unique = tuple(dict.fromkeys(ids))  # one read per instance, in the order named
        return InstanceCheck(
            unique, self.region, self.account_id, self.event_id, event_kind, event_name
        )

    def ignore(self, reason: str, detail: str, ids: tuple[str, ...] = ()) -> IgnoredEvent:
        return IgnoredEvent(self.event_id, reason, detail, self.region, self.account_id, ids)


def parse_delivery(raw: bytes | bytearray | str | object) -> list[Trigger]:
    """Parse one invocation's event (bytes, str or parsed JSON) into triggers, in order.

    Raises EventError, and nothing else, when the delivery is malformed; a malformed element
    of a batch becomes an IgnoredEvent instead so the rest of the batch is still served.
    """
    value = decode(raw, MAX_INPUT_BYTES)
    if isinstance(value, list):
        return _parse_batch(value)
    if isinstance(value, dict):
        return [_parse_event(Fields(value))]
    fail("", f"expected a JSON object or array, got {kind(value)}")


def exclude_foreign(
    triggers: Iterable[Trigger], own_account_id: str | None, members: Collection[str] = ()
) -> list[Trigger]:
    """Replace instance checks for accounts not served (the own one and a hub's members) by
    ignored events, so none is acted on."""
    served = frozenset(members) | {own_account_id, None}
    return [_exclude_if_foreign(trigger, own_account_id, served) for trigger in triggers]


def _exclude_if_foreign(
    trigger: Trigger, own: str | None, served: frozenset[str | None]
) -> Trigger:
    # An event that names no account is about the deployment's own.
    if not isinstance(trigger, InstanceCheck) or own is None or trigger.account_id in served:
        return trigger
    account, ids = trigger.account_id, trigger.instance_ids
    members = len(served - {own, None})
    also = f" and {members} member account(s)" if members else ""
    detail = f"event for account {account}; this function serves account {own}{also}"
    return IgnoredEvent(
        trigger.event_id, reasons.FOREIGN_ACCOUNT, detail, trigger.region, account, ids
    )


def confine_regions(
    triggers: Iterable[Trigger], allowed: frozenset[str], home: str
) -> list[Trigger]:
    """Replace instance checks outside the deployment's regions by ignored events (no call).

    An event without a region is about the home region. A forged or misrouted event naming
    another region must not make the function read or write there.
    """
    return [_confine(trigger, allowed, home) for trigger in triggers]


def _confine(trigger: Trigger, allowed: frozenset[str], home: str) -> Trigger:
    if not isinstance(trigger, InstanceCheck) or (trigger.region or home) in allowed:
        return trigger
    region, ids = trigger.region or home, trigger.instance_ids
    detail = f"event for region {region}; this deployment acts only in {', '.join(sorted(allowed))}"
    return IgnoredEvent(
        trigger.event_id, reasons.FOREIGN_REGION, detail, region, trigger.account_id, ids
    )


def named_instances(triggers: Iterable[Trigger]) -> int:
    """How many distinct (account, region, instance) triples a delivery's checks name: a hub
    reads each account's named instances separately, so each one costs its reads."""
    checks = [t for t in triggers if isinstance(t, InstanceCheck)]
    return len({(t.account_id, t.region, i) for t in checks for i in t.instance_ids})


def _parse_batch(elements: list[object]) -> list[Trigger]:
    if len(elements) > MAX_BATCH:
        fail("", f"batch of {len(elements)} events, more than the {MAX_BATCH} accepted")
    triggers: list[Trigger] = []
    for index, element in enumerate(elements):
        try:
            triggers.append(_parse_element(element, item("", index)))
        except EventError as exc:
            # One bad element must not cost the others their roles.
            loose_id = _loose_event_id(element)
            triggers.append(IgnoredEvent(loose_id, reasons.MALFORMED_EVENT, str(exc)))
    return triggers


def _parse_element(element: object, path: str) -> Trigger:
    # Event-streaming batches hold each event as a JSON string.
    if isinstance(element, str):
        element = loads(element, path)
    if isinstance(element, list):
        fail(path, "a batch inside a batch is not accepted")
    if not isinstance(element, dict):
        fail(path, f"expected an event object, got {kind(element)}")
    return _parse_event(Fields(element, path))


def _loose_event_id(element: object) -> str | None:
    if not isinstance(element, dict):
        return None
    for key in ("id", "eventId"):
        if isinstance(element.get(key), str):
            return printable(element[key], MAX_LABEL)
    return None


def _parse_event(event: Fields) -> Trigger:
    if event.has("specversion"):
        return _parse_cloudevent(event)
    if event.has("triggerTime") and event.has("triggerName"):
        return _parse_timer(event)
    if event.has("eventName") and not _TRAIL_MARKERS.isdisjoint(event.obj):
        return _parse_trail(event, _Meta())
    if isinstance(event.obj.get("product"), str) and event.has("name"):
        return _parse_cloudmonitor(event)
    keys = [printable(k, 40) if isinstance(k, str) else kind(k) for k in list(event.obj)[:12]]
    more = ", ..." if len(event.obj) > len(keys) else ""
    seen = f"keys {', '.join(keys)}{more}" if keys else "no keys"
    detail = f"unrecognised event with {seen}"
    return IgnoredEvent(_loose_event_id(event.obj), reasons.UNSUPPORTED_EVENT, detail)


def _parse_cloudevent(event: Fields) -> Trigger:
    event.text("specversion")  # read only to refuse a broken envelope early
    source, event_type = event.text("source"), event.text("type")
    # An event routed from another account's bus carries the sender as aliyunoriginalaccountid
    # (docs/research/multi-account.md §3); whether aliyunaccountid then names the sender or the
    # receiver is undocumented, so the original wins when present.
    meta = _Meta(
        event.opt_label("id"),
        event.opt_region("aliyunregionid"),
        event.opt_account("aliyunoriginalaccountid") or event.opt_account("aliyunaccountid"),
    )
    # ActionTrail first: the Tag service's own API calls arrive with source acs.tag too.
    if ":ActionTrail:" in event_type:
        return _parse_trail(event.child("data"), meta)
    if _is_tag_change(source, event_type, event.obj.get("data")):
        return _parse_tag_payload(_cloudevent_payload(event), meta)
    if source == "acs.ecs" and event_type == STATE_CHANGE:
        return _parse_state_payload(_cloudevent_payload(event), meta)
    detail = f"CloudEvent source {show(source)} type {show(event_type)}"
    return meta.ignore(reasons.UNSUPPORTED_EVENT, detail)


def _is_tag_change(source: str, event_type: str, data: object) -> bool:
    # The EventBridge spelling of the tag event is undocumented: accept any plausible marker.
    payload_keys = {"changedTagKeys", "resourceType", "resourceId"}
    return (
        source == "acs.tag"
        or TAG_CHANGE.casefold() in event_type.casefold()
        or (isinstance(data, dict) and payload_keys <= data.keys())
    )


def _cloudevent_payload(event: Fields) -> Fields:
    # Some deliveries wrap the CloudMonitor-style payload once more, as data.content.
    data = event.child("data")
    if not data.has("resourceId") and data.has("content"):
        return data.child("content")
    return data


def _parse_cloudmonitor(event: Fields) -> Trigger:
    product, name = event.text("product").casefold(), event.text("name")
    meta = _Meta(event.opt_label("id"), event.opt_region("regionId"), event.opt_account("userId"))
    if product == "ecs" and name == "Instance:StateChange":
        return _parse_state_payload(event.child("content"), meta)
    if product == "tag" and name == TAG_CHANGE:
        return _parse_tag_payload(event.child("content"), meta)
    detail = f"CloudMonitor event product {show(event.obj['product'])} name {show(name)}"
    return meta.ignore(reasons.UNSUPPORTED_EVENT, detail)


def _parse_state_payload(payload: Fields, meta: _Meta) -> Trigger:
    resource_type = payload.opt_text("resourceType")
    if resource_type is not None and resource_type.casefold() != _ECS_INSTANCE_TYPE:
        detail = f"{STATE_CHANGE} for resourceType {show(resource_type)}"
        return meta.ignore(reasons.NOT_AN_INSTANCE, detail)
    instance, state = payload.instance_id("resourceId"), payload.text("state")
    if state.casefold() not in CREATION_STATES:
        detail = f"instance {instance} state {show(state)} is not a creation state"
        return meta.ignore(reasons.IRRELEVANT_STATE, detail, (instance,))
    return meta.check((instance,), KIND_INSTANCE_STATE, STATE_CHANGE)


def _parse_tag_payload(payload: Fields, meta: _Meta) -> Trigger:
    # `tags` is deliberately never read: only the API's view of an instance's tags counts.
    product, resource_type = payload.opt_text("product"), payload.text("resourceType")
    resource = payload.require("resourceId")
    folded = (resource_type.casefold(), (product or "").casefold())
    if folded[0] != _ECS_INSTANCE_TYPE and folded != ("instance", "ecs"):
        seen = f"product {show(product)} resourceType {show(resource_type)} {show(resource)}"
        return meta.ignore(reasons.NOT_AN_INSTANCE, f"{TAG_CHANGE} on {seen}")
    instance = payload.instance_id("resourceId")
    changed = payload.obj.get("changedTagKeys")
    if isinstance(changed, list) and only_reserved(changed):
        return _marker_only(meta, instance)
    return meta.check((instance,), KIND_TAG_CHANGE, TAG_CHANGE)


def _marker_only(meta: _Meta, *instances: str) -> IgnoredEvent:
    # rolebinder's own marker writes echo back as tag events: nothing a rule reads changed.
    detail = "only rolebinder's own rolebinder: tags changed"
    return meta.ignore(reasons.MARKER_ONLY, detail, tuple(dict.fromkeys(instances)))


def _parse_trail(record: Fields, envelope: _Meta) -> Trigger:
    name = record.text("eventName")
    _check_event_version(record)
    meta = envelope.prefer(_trail_meta(record))
    error_code = record.opt_text("errorCode")
    if error_code:
        detail = f"{printable(name, 80)} failed with {show(error_code)}"
        return meta.ignore(reasons.FAILED_API_CALL, detail)
    source = API_CALLS.get(name)
    if source is None:
        detail = f"API call {show(name)} neither creates nor tags instances"
        return meta.ignore(reasons.UNSUPPORTED_API_CALL, detail)
    return source.parse(record, meta, name)


def _check_event_version(record: Fields) -> None:
    # The one field documented as sometimes a number (`1`) rather than a string (`"1"`).
    version = record.obj.get("eventVersion")
    if version is not None and (isinstance(version, bool) or not isinstance(version, (str, int))):
        fail(record.at("eventVersion"), f"expected a string or an integer, got {kind(version)}")


def _trail_meta(record: Fields) -> _Meta:
    identity = record.opt_child("userIdentity")
    account = record.opt_account("recipientAccountId")
    if account is None and identity is not None:
        account = identity.opt_account("accountId")
    region_id = record.opt_region("acsRegion")
    params = record.opt_child("requestParameters") if region_id is None else None
    if params is not None:
        region_id = params.opt_region("RegionId")
    return _Meta(record.opt_label("eventId"), region_id, account)


def _run_instances(record: Fields, meta: _Meta, name: str) -> Trigger:
    id_sets = record.child("responseElements").child("InstanceIdSets")
    return meta.check(id_sets.id_list("InstanceIdSet", MAX_LAUNCHED), KIND_API_CALL, name)


def _create_instance(record: Fields, meta: _Meta, name: str) -> Trigger:
    instance = record.child("responseElements").instance_id("InstanceId")
    return meta.check((instance,), KIND_API_CALL, name)


def _tag_resources(record: Fields, meta: _Meta, name: str) -> Trigger:
    params = record.child("requestParameters")
    arns = params.repeated("ResourceARN", MAX_TAGGED)
    if arns:
        return _tagged_arns(arns, meta, name, _tag_keys(params))
    resource_type = params.text("ResourceType")
    if resource_type.casefold() != "instance":
        return meta.ignore(reasons.NOT_AN_INSTANCE, f"{name} on ResourceType {show(resource_type)}")
    found = params.repeated("ResourceId", MAX_TAGGED)
    if not found:
        fail(params.at("ResourceId"), "missing")
    ids = [instance_id(value, where) for where, value in found]
    if only_reserved(_tag_keys(params)):
        return _marker_only(meta, *ids)
    return meta.check(ids, KIND_API_CALL, name)


def _tag_keys(params: Fields) -> list[object]:
    """The tag keys a tag call names: `Tag.N.Key`, `TagKey.N`, or the Tag service's `Tags`.

    Only used to recognise rolebinder's own marker writes; an unreadable shape counts as
    "some other key", so the instances are read as usual.
    """
    keys: list[object] = [value for _, value in params.repeated("TagKey", MAX_TAGGED)]
    for key, value in params.obj.items():
        if isinstance(key, str) and key.startswith("Tag.") and key.endswith(".Key"):
            keys.append(value)
    tags = params.obj.get("Tags")
    if isinstance(tags, str):
        try:
            tags = json.loads(tags)
        except (ValueError, RecursionError):
            return [None]
    if isinstance(tags, dict):
        keys.extend(tags)
    elif tags is not None:
        keys.append(None)
    return keys


def _tagged_arns(
    arns: list[tuple[str, object]], meta: _Meta, name: str, keys: list[object]
) -> Trigger:
    # The Tag service names resources of any product by ARN; only ECS instances concern us.
    ids = []
    for where, value in arns:
        arn = parse_arn(value) if isinstance(value, str) else None
        if arn is None:
            fail(where, f"expected a resource ARN, got {show(value)}")
        if arn[:2] == ("ecs", "instance"):
            ids.append(instance_id(value, where))
    if not ids:
        return meta.ignore(reasons.NOT_AN_INSTANCE, f"{name} names no ECS instance ARN")
    if only_reserved(keys):
        return _marker_only(meta, *ids)
    return meta.check(ids, KIND_API_CALL, name)


def _add_tags(record: Fields, meta: _Meta, name: str) -> Trigger:
    params = record.child("requestParameters")
    resource_type = params.text("ResourceType")
    if resource_type.casefold() != "instance":
        return meta.ignore(reasons.NOT_AN_INSTANCE, f"{name} on ResourceType {show(resource_type)}")
    instance = params.instance_id("ResourceId")
    if only_reserved(_tag_keys(params)):
        return _marker_only(meta, instance)
    return meta.check((instance,), KIND_API_CALL, name)


class ApiCallSource(Value):
    """One ActionTrail API call rolebinder reacts to, declared once: how its record is read,
    whether it announces new instances (which the API may not show yet), the handler
    template.yml routes it to, and the sample in events/ that shows it (tests check both)."""

    parse: Callable[[Fields, _Meta, str], Trigger]
    function: str
    sample: str
    creates: bool = False


# The event-source registry for API calls: one entry per ActionTrail eventName.
API_CALLS: dict[str, ApiCallSource] = {
    "RunInstances": ApiCallSource(
        _run_instances,
        "instance_events",
        "eventbridge-actiontrail-ecs-runinstances.json",
        creates=True,
    ),
    "CreateInstance": ApiCallSource(
        _create_instance,
        "instance_events",
        "eventbridge-actiontrail-ecs-createinstance.json",
        creates=True,
    ),
    "TagResources": ApiCallSource(
        _tag_resources, "tag_events", "eventbridge-actiontrail-ecs-tagresources.json"
    ),
    "UntagResources": ApiCallSource(
        _tag_resources, "tag_events", "eventbridge-actiontrail-ecs-untagresources.json"
    ),
    "AddTags": ApiCallSource(_add_tags, "tag_events", "actiontrail-ecs-addtags.json"),
    "RemoveTags": ApiCallSource(_add_tags, "tag_events", "actiontrail-ecs-removetags.json"),
}
CREATION_CALLS = frozenset(name for name, source in API_CALLS.items() if source.creates)


def _parse_timer(event: Fields) -> SweepRequest:
    name = printable(event.text("triggerName"), MAX_LABEL)
    time = printable(event.text("triggerTime"), MAX_LABEL)
    value = _sweep_payload(event.opt_text("payload"))
    path = event.at("payload")
    regions = _id_list(value, "regions", region, path)
    accounts = _id_list(value, "accounts", account, path)
    return SweepRequest(f"timer:{name}:{time}", name, time, regions, accounts)


def _sweep_payload(payload: str | None) -> dict[str, object]:
    # The timer payload is free text ("reconcile"); only a JSON object naming regions or
    # accounts narrows the sweep.
    try:
        value = json.loads(payload) if payload else None
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _id_list(
    value: dict[str, object], key: str, check: Callable[[object, str], str], path: str
) -> tuple[str, ...]:
    if key not in value:
        return ()
    ids, ids_path = value[key], f"{path}.{key}"
    if not isinstance(ids, list):
        fail(ids_path, f"expected a list of {key[:-1]} ids, got {kind(ids)}")
    if len(ids) > MAX_SWEEP_IDS:
        fail(ids_path, f"{len(ids)} {key}, more than the {MAX_SWEEP_IDS} accepted")
    return tuple(dict.fromkeys(check(r, item(ids_path, i)) for i, r in enumerate(ids)))
