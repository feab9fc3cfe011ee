"""Shared pieces: the fake cloud in-process, fleets, the handlers' environment and path, timers.

- `World`: a `FakeCloud` on the real clock, served by `FakeCloudServer` on an ephemeral port,
  seeded with the roles and one VPC; fleets are added straight into the ECS backend (no API
  calls, no events), so a 100,000-instance fleet takes a second.
- `handler_env` / `run_handler`: the handler path exactly as tests/functional drives it: the
  ROLEBINDER_* environment pointed at the fake, a cold container (`container_runtime`
  cleared), `functions.<name>.index.handler(event_bytes, LocalContext(...))`.
- `ApiTimer`: wall time spent inside `AcsClient.do_action_with_exception`, which is where the
  gateways (`rolebinder.aliyun.transport.Transport`) wait on the API; wrapped from outside, no hook
  needed.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkecs.request.v20140526.RunInstancesRequest import RunInstancesRequest
from aliyunsdkecs.request.v20140526.TagResourcesRequest import TagResourcesRequest

from fakecloud import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_ACCOUNT_ID,
    FakeCloud,
    FakeCloudServer,
    apply_seed,
)
from fakecloud.ecs import Instance
from fakecloud.shapes import CREATION_EVENTS, Shapes

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "examples" / "mapping.yaml"
REGION = "cn-hangzhou"
ACCOUNT = DEFAULT_ACCOUNT_ID
VPC_ID = "vpc-bp1bench000000000001"
VSWITCH_ID = "vsw-bp1bench000000000001"
# AppReader and Payments are the example mapping's allow-list; Admin trusts ECS but is not in it.
ROLES = ("AppReader", "Payments", "Admin")
PAYMENTS_PROD = {"team": "payments", "env": "prod"}
READER = {"ram-role": "AppReader"}
# The SDK honours proxy variables; the fake is always reached directly.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_name, None)
os.environ["NO_PROXY"] = "127.0.0.1,localhost"


# -- fleets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One instance of a benchmark fleet, and the role the mapping should leave it with."""

    tags: Mapping[str, str]
    vpc: bool = True
    role: str | None = None  # bound before the run
    expected: str | None = None  # what examples/mapping.yaml makes of it (an independent oracle)


def uniform_fleet(n: int) -> list[Member]:
    """VPC instances without roles, alternately for Payments and for AppReader: k = 2 roles,
    interleaved, every instance needing an attach."""
    return [
        Member(PAYMENTS_PROD, expected="Payments")
        if i % 2 == 0
        else Member(READER, expected="AppReader")
        for i in range(n)
    ]


# A fleet as it looks in practice, 20 instances a cycle: most need a role, some must be left
# alone or refused. `expected` is the end state examples/mapping.yaml promises
# (on_existing_role: keep, on_no_match: keep).
MIXED_CYCLE: tuple[Member, ...] = (
    *[Member(PAYMENTS_PROD, expected="Payments")] * 8,
    *[Member(READER, expected="AppReader")] * 6,
    Member({"team": "payments", "env": "dev"}),  # no rule matches: left without a role
    Member({"ram-role": "Admin"}),  # Admin is not allow-listed: refused
    Member(PAYMENTS_PROD, vpc=False),  # classic: cannot have an instance RAM role
    Member({}),  # no tags
    Member(PAYMENTS_PROD, role="Payments", expected="Payments"),  # already right
    Member(READER, role="Payments", expected="Payments"),  # other role kept (keep)
)


def mixed_fleet(n: int) -> list[Member]:
    return [MIXED_CYCLE[i % len(MIXED_CYCLE)] for i in range(n)]


def instance_id(n: int) -> str:
    return f"i-bp1bench{n:010d}"


# -- the fake cloud -------------------------------------------------------------------------


class World:
    """A fake cloud on the real clock, served on 127.0.0.1, with roles and one VPC."""

    def __init__(self) -> None:
        # A launch's creation event pinned to Created (the current notification list), so each
        # scenario finds exactly one per instance; the other documented shapes still vary.
        self.cloud = FakeCloud(shapes=Shapes(fixed={CREATION_EVENTS: ("Created",)}))
        apply_seed(
            self.cloud,
            {
                "account_id": ACCOUNT,
                "roles": [{"name": role} for role in ROLES],
                "regions": {
                    REGION: {
                        "vpcs": [
                            {
                                "vpc_id": VPC_ID,
                                "vswitches": [{"vswitch_id": VSWITCH_ID, "cidr": "172.16.0.0/16"}],
                            }
                        ]
                    }
                },
            },
        )
        self.server = FakeCloudServer(self.cloud)
        self._next = 0

    def __enter__(self) -> World:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def backend(self) -> Any:
        return self.cloud.ecs(REGION)

    def add_fleet(self, members: Sequence[Member]) -> list[str]:
        """Store the fleet straight in the backend (Running, no events); returns the ids."""
        backend, now, ids = self.backend, time.time(), []
        for member in members:
            ident = instance_id(self._next)
            self._next += 1
            backend.add_instance(
                Instance(
                    instance_id=ident,
                    seq=backend.next_seq(),
                    name=ident,
                    region=REGION,
                    zone_id=f"{REGION}-h",
                    status="Running",
                    network_type="vpc" if member.vpc else "classic",
                    created=now,
                    instance_type="ecs.g7.large",
                    image_id="aliyun_3_x64_20G_alibase_20240819.vhd",
                    private_ip="172.16.0.10" if member.vpc else "10.0.0.10",
                    vpc_id=VPC_ID if member.vpc else "",
                    vswitch_id=VSWITCH_ID if member.vpc else "",
                    tags=dict(member.tags),
                    role=member.role,
                )
            )
            ids.append(ident)
        return ids

    def reset_roles(self, members: Sequence[Member], ids: Sequence[str]) -> None:
        """Put back the roles the fleet started with (a first sweep can then run again)."""
        instances = self.backend.instances
        for member, ident in zip(members, ids, strict=True):
            instances[ident].role = member.role

    def roles(self) -> dict[str, str | None]:
        """Instance id -> bound role, read straight from the backend (costs no API quota)."""
        return {i.instance_id: i.role for i in list(self.backend.instances.values())}

    def client(self) -> AcsClient:
        """A real SDK client (no SDK retries) whose ECS and RAM endpoints are this fake."""
        client = AcsClient(
            DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, REGION, auto_retry=False
        )
        client.add_endpoint(REGION, "Ecs", self.url)
        client.add_endpoint(REGION, "Ram", self.url)
        return client

    def mark(self) -> int:
        return len(self.cloud.calls.all())

    def counts(self, since: int = 0) -> dict[str, int]:
        """Calls per action since `mark()`, from the fake's call log."""
        return dict(Counter(c.action for c in self.cloud.calls.all(since)))

    def answers(self, since: int = 0) -> dict[str, dict[str, int]]:
        """Per action, how the fake answered since `mark()`: "ok" or the error code."""
        found: dict[str, Counter[str]] = {}
        for c in self.cloud.calls.all(since):
            found.setdefault(c.action, Counter())[c.code or "ok"] += 1
        return {action: dict(codes) for action, codes in found.items()}

    def server_seconds(self, since: int = 0) -> float:
        """Time the fake spent answering (its call log's duration_ms), since `mark()`."""
        return sum(c.duration_ms for c in self.cloud.calls.all(since)) / 1000

    def limit(self, rates: Mapping[str, float], latency: float = 0.0, burst: float = 1.0) -> None:
        """Per-action token buckets (`burst` tokens) and, optionally, latency on every call."""
        for action, per_second in rates.items():
            self.cloud.faults.rate_limit(action, per_second, burst=burst)
        if latency:
            self.cloud.faults.delay("*", latency)

    def round_trip(self, samples: int = 7) -> float:
        """Median seconds of a one-instance DescribeInstances through the SDK (before limits)."""
        client, times = self.client(), []
        for _ in range(samples):
            request = DescribeInstancesRequest()
            request.set_MaxResults(10)
            started = time.perf_counter()
            client.do_action_with_exception(request)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    def event_mark(self) -> int:
        found = self.cloud.events.since(0)
        return found[-1][0] if found else 0

    def events(self, since: int, kind: str, name: str | None = None) -> list[dict[str, Any]]:
        """Events the fake emitted after `event_mark()`: `kind` is the CloudEvent type, `name`
        an ActionTrail eventName or an instance state."""
        found = []
        for _, event in self.cloud.events.since(since):
            data = event.get("data", {})
            if event["type"] == kind and name in (None, data.get("eventName"), data.get("state")):
                found.append(event)
        return found


def launch(client: AcsClient, amount: int, tags: Mapping[str, str], vpc: bool = True) -> list[str]:
    """RunInstances through the SDK (the fake emits its events); the new instance ids."""
    request = RunInstancesRequest()
    request.set_ImageId("aliyun_3_x64_20G_alibase_20240819.vhd")
    request.set_InstanceType("ecs.g7.large")
    request.set_Amount(amount)
    if vpc:
        request.set_VSwitchId(VSWITCH_ID)
    if tags:
        request.set_Tags([{"Key": k, "Value": v} for k, v in tags.items()])
    answer = json.loads(client.do_action_with_exception(request))
    return list(answer["InstanceIdSets"]["InstanceIdSet"])


def tag(client: AcsClient, ident: str, tags: Mapping[str, str]) -> None:
    """TagResources through the SDK (the fake emits a tag change and an ActionTrail record)."""
    request = TagResourcesRequest()
    request.set_ResourceType("instance")
    request.set_ResourceIds([ident])
    request.set_Tags([{"Key": k, "Value": v} for k, v in tags.items()])
    client.do_action_with_exception(request)


STATE_CHANGE = "ecs:Instance:StateChange"
TAG_CHANGE = "tag:Tag:ChangeOnResource"
ECS_TRAIL = "ecs:ActionTrail:ApiCall"


def merge_counts(*counts: Mapping[str, int]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    return dict(total)


# -- the handler path -----------------------------------------------------------------------

_SET = (
    "ROLEBINDER_MAPPING",
    "ROLEBINDER_ECS_ENDPOINT",
    "ROLEBINDER_RAM_ENDPOINT",
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "FC_REGION",
    "ROLEBINDER_ACCOUNT_ID",
    "ROLEBINDER_REGIONS",
    "ROLEBINDER_VISIBILITY_WAIT",
    "ROLEBINDER_DEADLINE_MARGIN",
)
_UNSET = (
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ROLEBINDER_DRY_RUN",
    "ROLEBINDER_ROLE_CACHE_SECONDS",
    "ROLEBINDER_API_TIMEOUT",
    "FC_ACCOUNT_ID",
    "ALIYUN_ACCESS_KEY_ID",
    "ALIYUN_ACCESS_KEY_SECRET",
)


def handler_values(url: str, mapping: Path = MAPPING) -> dict[str, str]:
    """The environment Function Compute would give the handlers, pointed at the fake."""
    return {
        "ROLEBINDER_MAPPING": str(mapping),
        "ROLEBINDER_ECS_ENDPOINT": url,
        "ROLEBINDER_RAM_ENDPOINT": url,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
        "FC_REGION": REGION,
        "ROLEBINDER_ACCOUNT_ID": ACCOUNT,
        "ROLEBINDER_REGIONS": REGION,
        "ROLEBINDER_VISIBILITY_WAIT": "5",
        "ROLEBINDER_DEADLINE_MARGIN": "1",
    }


@contextlib.contextmanager
def handler_env(url: str, **overrides: str) -> Iterator[None]:
    """Set the handlers' environment and start from a cold container; restore both after."""
    from rolebinder.entrypoints import invocation  # noqa: PLC0415 - imported where the handlers are run

    saved = {name: os.environ.get(name) for name in (*_SET, *_UNSET, *overrides)}
    os.environ.update({**handler_values(url), **overrides})
    for name in _UNSET:
        os.environ.pop(name, None)
    invocation.container_runtime.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        invocation.container_runtime.cache_clear()


def handler(function: str) -> Callable[[bytes, Any], dict[str, Any]]:
    """functions/<function>/index.py's handler, imported as Function Compute would."""
    return importlib.import_module(f"functions.{function}.index").handler


def context(function: str, timeout: int = 600) -> Any:
    from rolebinder.local.fc_context import FunctionMeta, LocalContext  # noqa: PLC0415

    return LocalContext(REGION, ACCOUNT, FunctionMeta(function, timeout=timeout))


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Outcome lines go to /dev/null (they are still rendered and written: that is engine work)."""
    with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stdout(sink):
        yield


def run_handler(function: str, event: Any, timeout: int = 600) -> dict[str, Any]:
    """One invocation of the real handler; returns its summary (outcome lines are discarded)."""
    payload = event if isinstance(event, bytes) else json.dumps(event).encode()
    with quiet_stdout():
        return handler(function)(payload, context(function, timeout))


def state_event(ident: str, state: str = "Created", n: int = 0) -> dict[str, Any]:
    """An EventBridge `ecs:Instance:StateChange` CloudEvent naming one instance."""
    return {
        "id": f"evt-bench-{n}-{ident}",
        "source": "acs.ecs",
        "specversion": "1.0",
        "type": "ecs:Instance:StateChange",
        "subject": f"acs:ecs:{REGION}:{ACCOUNT}:instance/{ident}",
        "time": "2024-05-14T10:31:07+08:00",
        "aliyunaccountid": ACCOUNT,
        "aliyunregionid": REGION,
        "data": {"resourceId": ident, "resourceType": "ALIYUN::ECS::Instance", "state": state},
    }


def timer_event() -> dict[str, Any]:
    return {"triggerTime": "2024-05-14T02:40:00Z", "triggerName": "bench", "payload": "reconcile"}


# -- timing ---------------------------------------------------------------------------------


@dataclass
class ApiTimer:
    """Seconds spent inside AcsClient.do_action_with_exception: the gateways' wait on the API.

    Wraps the SDK method on the class, from outside; per-thread totals, so concurrent handlers
    (local mode) do not mix. Includes the SDK's own request building, signing and parsing.
    """

    calls: int = 0
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _original: Any = None
    samples: list[tuple[str, float]] = field(default_factory=list)  # (action, seconds)

    def __enter__(self) -> ApiTimer:
        original = AcsClient.do_action_with_exception
        self._original = original
        timer = self

        def timed(client: AcsClient, request: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(client, request)
            finally:
                timer._add(request.get_action_name(), time.perf_counter() - started)

        AcsClient.do_action_with_exception = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        AcsClient.do_action_with_exception = self._original  # type: ignore[method-assign]

    def _add(self, action: str, seconds: float) -> None:
        self._local.total = getattr(self._local, "total", 0.0) + seconds
        with self._lock:
            self.calls += 1
            self.samples.append((action, seconds))

    def total(self) -> float:
        """Seconds waited on the API, all threads together."""
        with self._lock:
            return sum(seconds for _, seconds in self.samples)

    def median_by_action(self) -> dict[str, float]:
        """Median seconds of one call, per action."""
        by_action: dict[str, list[float]] = {}
        with self._lock:
            for action, seconds in self.samples:
                by_action.setdefault(action, []).append(seconds)
        return {action: statistics.median(times) for action, times in by_action.items()}

    def thread_total(self) -> float:
        """Seconds this thread has waited on the API so far."""
        return float(getattr(self._local, "total", 0.0))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank; values need not be sorted."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def log(text: str) -> None:
    """Progress goes to stderr, so it survives redirected stdout."""
    print(f"# bench: {text}", file=sys.stderr, flush=True)
