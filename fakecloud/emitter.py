"""What the fake delivers through "EventBridge": CloudEvents for state changes, tag changes and
ActionTrail API-call records, to in-process subscribers, a JSON-lines file and a replay buffer.

Shapes (see /events and docs/research for sources):
- `ecs:Instance:StateChange`, source `acs.ecs`, `data` = {resourceId, resourceType, state}.
- Tag change: source `acs.tag`, type `tag:Tag:ChangeOnResource` (choice: the EventBridge type
  string is not documented), `data` = the CloudMonitor content {product, resourceType,
  resourceId, regionId, changedTagKeys, tags}.
- ActionTrail: source `acs.<product>`, type `<product>:ActionTrail:ApiCall`, `data` = the record,
  for every write call; a failed one carries `errorCode` and `errorMessage` and no response.
"""

from __future__ import annotations

import collections
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def _iso(epoch: float, millis: bool = False) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Emitter:
    """Builds events and hands them to subscribers. Publishing happens outside the cloud's lock."""

    def __init__(self, new_id: Callable[[], str] | None = None, keep: int = 100_000) -> None:
        self._new_id = new_id or (lambda: str(uuid.uuid4()))
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
        return {
            "id": self._new_id(),
            "source": source,
            "specversion": "1.0",
            "type": type_,
            "subject": subject,
            "time": _iso(when),
            "datacontenttype": "application/json;charset=utf-8",
            "aliyunaccountid": account,
            "aliyunpublishtime": _iso(when, millis=True),
            "aliyuneventbusname": "default",
            "aliyunregionid": region,
            "aliyunpublishaddr": "127.0.0.1",
            "data": dict(data),
        }

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
        record = {
            "eventId": self._new_id(),
            "eventVersion": "1",
            "eventType": "ApiCall",
            "eventName": call.action,
            "eventSource": call.host,
            "serviceName": call.product.capitalize(),
            "acsRegion": call.region,
            "eventTime": _iso(call.when),
            "apiVersion": call.version,
            "requestId": call.request_id,
            "sourceIpAddress": "127.0.0.1",
            "userAgent": call.user_agent,
            "requestParameters": {k: v for k, v in call.params.items() if k not in _COMMON},
            "responseElements": dict(call.response) if call.error is None else None,
            "userIdentity": call.identity,
            "recipientAccountId": call.account,
        }
        if call.error is not None:
            record["errorCode"] = call.error.code
            record["errorMessage"] = call.error.message
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
        host: str,
        request_id: str,
        user_agent: str,
        params: Mapping[str, str],
        response: Mapping[str, Any],
        identity: dict[str, Any],
        when: float,
    ) -> None:
        self.action, self.product, self.version = action, product, version
        self.region, self.account, self.host = region, account, host
        self.request_id, self.user_agent = request_id, user_agent
        self.params, self.response, self.identity, self.when = params, response, identity, when
        self.error: ApiError | None = None  # set for a failed call
