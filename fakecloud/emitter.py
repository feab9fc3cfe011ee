"""What the fake delivers through "EventBridge": CloudEvents for state changes, tag changes and
ActionTrail API-call records, to in-process subscribers, a JSON-lines file and a replay buffer.

Shapes (see /events and docs/research for sources):
- `ecs:Instance:StateChange`, source `acs.ecs`, `data` = {resourceId, resourceType, state}.
- Tag change: source `acs.tag`, type `tag:Tag:ChangeOnResource` (choice: the EventBridge type
  string is not documented), `data` = the CloudMonitor content {product, resourceType,
  resourceId, regionId, changedTagKeys, tags}.
- ActionTrail: source `acs.<product>`, type `<product>:ActionTrail:ApiCall`, `data` = the record,
  for every write call; a failed one carries `errorCode` and `errorMessage` and no response.
Where the docs show several shapes of one field (the envelope's `time`, optional fields, the
record's `eventSource`, `eventVersion`, extra objects, numbers in `requestParameters`), each event
takes one, chosen by `fakecloud.shapes` (seeded, reproducible).
"""

from __future__ import annotations

import collections
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fakecloud import shapes
from fakecloud.shapes import Shapes

if TYPE_CHECKING:
    from fakecloud.errors import ApiError

Event = dict[str, Any]
Subscriber = Callable[[Event], None]

# Request parameters ActionTrail never records (authentication and protocol plumbing).
_COMMON = frozenset(
    {
        "Signature",
        "SignatureNonce",
        "SignatureMethod",
        "SignatureType",
        "SignatureVersion",
        "SecurityToken",
        "AccessKeyId",
        "Timestamp",
        "Format",
        "Version",
        "Action",
    }
)


# Request parameters the ECS reference types as Integer: some records carry them as numbers.
_INTEGER_PARAMS = frozenset(
    {"Amount", "MinAmount", "Period", "SystemDisk.Size", "InternetMaxBandwidthOut", "PageSize"}
)
_CHINA = timezone(timedelta(hours=8))


def _iso(epoch: float, millis: bool = False) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _event_time(epoch: float, form: str) -> str:
    """An envelope's `time` in one of the documented forms (Z, +08:00, with milliseconds)."""
    if form == "+08:00":
        return datetime.fromtimestamp(epoch, _CHINA).strftime("%Y-%m-%dT%H:%M:%S+08:00")
    return _iso(epoch, millis=form == "millis")


class Emitter:
    """Builds events and hands them to subscribers. Publishing happens outside the cloud's lock."""

    def __init__(
        self,
        new_id: Callable[[], str] | None = None,
        keep: int = 100_000,
        shapes: Shapes | None = None,
    ) -> None:
        self._new_id = new_id or (lambda: str(uuid.uuid4()))
        self.shapes = shapes or Shapes()
        self._subscribers: list[Subscriber] = []
        self._buffer: collections.deque[tuple[int, Event]] = collections.deque(maxlen=keep)
        self._seq = 0
        self._lock = threading.Lock()
        self._file: Path | None = None

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(event)` for every event; returns a function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def write_to(self, path: str | Path) -> None:
        self._file = Path(path)

    def since(self, seq: int) -> list[tuple[int, Event]]:
        with self._lock:
            return [(n, e) for n, e in self._buffer if n > seq]

    def publish(self, events: list[Event]) -> None:
        for event in events:
            with self._lock:
                self._seq += 1
                self._buffer.append((self._seq, event))
                if self._file is not None:
                    with self._file.open("a", encoding="utf-8") as out:
                        out.write(json.dumps(event, separators=(",", ":")) + "\n")
            for subscriber in list(self._subscribers):
                subscriber(event)

    def envelope(
        self,
        source: str,
        type_: str,
        subject: str,
        account: str,
        region: str,
        when: float,
        data: Mapping[str, Any],
    ) -> Event:
        event_id = self._new_id()
        event: Event = {
            "id": event_id,
            "source": source,
            "specversion": "1.0",
            "type": type_,
            "subject": subject,
            "time": _event_time(when, self.shapes.pick(shapes.EVENT_TIME, event_id)),
            "datacontenttype": "application/json;charset=utf-8",
            "aliyunaccountid": account,
            "aliyunoriginalaccountid": account,
            "aliyunpublishtime": _iso(when, millis=True),
            "aliyuneventbusname": "default",
            "aliyunregionid": region,
            "aliyunpublishaddr": "127.0.0.1",
            "data": dict(data),
        }
        if not self.shapes.pick(shapes.CONTENT_TYPE, event_id):
            del event["datacontenttype"]
        if not self.shapes.pick(shapes.ORIGINAL_ACCOUNT, event_id):
            del event["aliyunoriginalaccountid"]
        return event

    def state_change(
        self, account: str, region: str, instance_id: str, state: str, when: float
    ) -> Event:
        subject = f"acs:ecs:{region}:{account}:instance/{instance_id}"
        data = {"resourceId": instance_id, "resourceType": "ALIYUN::ECS::Instance", "state": state}
        return self.envelope(
            "acs.ecs", "ecs:Instance:StateChange", subject, account, region, when, data
        )

    def tag_change(
        self,
        account: str,
        region: str,
        instance_id: str,
        changed: list[str],
        tags: Mapping[str, str],
        when: float,
    ) -> Event:
        subject = f"acs:ecs:{region}:{account}:instance/{instance_id}"
        data = {
            "product": "ecs",
            "resourceType": "instance",
            "resourceId": instance_id,
            "regionId": region,
            "changedTagKeys": list(changed),
            "tags": dict(tags),
        }
        return self.envelope(
            "acs.tag", "tag:Tag:ChangeOnResource", subject, account, region, when, data
        )

    def api_call(self, call: ApiCallFacts) -> Event:
        event_id = self._new_id()
        record = {
            "eventId": event_id,
            "eventVersion": self.shapes.pick(shapes.TRAIL_VERSION, event_id),
            "eventType": "ApiCall",
            "eventName": call.action,
            "eventSource": self._event_source(call, event_id),
            "serviceName": call.product.capitalize(),
            "acsRegion": call.region,
            "eventTime": _iso(call.when),
            "apiVersion": call.version,
            "requestId": call.request_id,
            "sourceIpAddress": "127.0.0.1",
            "userAgent": call.user_agent,
            "requestParameters": self._request_parameters(call, event_id),
            "responseElements": dict(call.response) if call.error is None else None,
            "userIdentity": dict(call.identity),
            "recipientAccountId": call.account,
        }
        if call.error is not None:
            record["errorCode"] = call.error.code
            record["errorMessage"] = call.error.message
        if self.shapes.pick(shapes.TRAIL_EXTRAS, event_id):
            _add_extras(record, call)
        subject = f"acs:{call.product}:{call.region}:{call.account}:api/{call.action}"
        return self.envelope(
            f"acs.{call.product}",
            f"{call.product}:ActionTrail:ApiCall",
            subject,
            call.account,
            call.region,
            call.when,
            record,
        )

    def _event_source(self, call: ApiCallFacts, event_id: str) -> str:
        """The endpoint of the product, never the Host header the fake was reached on."""
        regional = self.shapes.pick(shapes.TRAIL_SOURCE, event_id) == "regional"
        if regional and call.region and call.product != "ram":  # RAM is global
            return f"{call.product}.{call.region}.aliyuncs.com"
        return f"{call.product}.aliyuncs.com"

    def _request_parameters(self, call: ApiCallFacts, event_id: str) -> dict[str, Any]:
        params: dict[str, Any] = {k: v for k, v in call.params.items() if k not in _COMMON}
        if self.shapes.pick(shapes.TRAIL_NUMBERS, event_id):
            for name in _INTEGER_PARAMS & params.keys():
                if str(params[name]).isdigit():
                    params[name] = int(params[name])
        return params


def _add_extras(record: dict[str, Any], call: ApiCallFacts) -> None:
    """The optional objects of a record (ActionTrail "Management event structure")."""
    record["additionalEventData"] = {"Scheme": "http"}
    instances = _named_instances(call)
    if instances:
        record["referencedResources"] = {"ACS::ECS::Instance": instances}
    record["userIdentity"]["sessionContext"] = {
        "attributes": {"creationDate": _iso(call.when), "mfaAuthenticated": "false"}
    }


def _named_instances(call: ApiCallFacts) -> list[str]:
    ids = call.params.get("InstanceIds") or ""
    try:
        found = json.loads(ids) if ids.startswith("[") else []
    except ValueError:
        found = []
    found += [v for k, v in call.params.items() if k.startswith("ResourceId")]
    if call.error is None and call.action == "RunInstances":
        found += call.response.get("InstanceIdSets", {}).get("InstanceIdSet", [])
    return [i for i in dict.fromkeys(found) if isinstance(i, str) and i.startswith("i-")]


class ApiCallFacts:
    """The facts of one successful write call that ActionTrail records."""

    def __init__(
        self,
        *,
        action: str,
        product: str,
        version: str,
        region: str,
        account: str,
        request_id: str,
        user_agent: str,
        params: Mapping[str, str],
        response: Mapping[str, Any],
        identity: dict[str, Any],
        when: float,
    ) -> None:
        self.action, self.product, self.version = action, product, version
        self.region, self.account = region, account
        self.request_id, self.user_agent = request_id, user_agent
        self.params, self.response, self.identity, self.when = params, response, identity, when
        self.error: ApiError | None = None  # set for a failed call
