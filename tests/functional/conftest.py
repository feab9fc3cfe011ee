"""Fixtures for the functional suite: the real handlers and the real SDK against the fake cloud.

`handler_env` points the handlers (through the environment, as Function Compute would) at the
fake served by `server`; `invoke` runs a handler and returns its parsed JSON lines.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.RunInstancesRequest import RunInstancesRequest

from fakecloud import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_ACCOUNT_ID,
    FakeCloud,
    FakeCloudServer,
    apply_seed,
    load_seed_file,
)
from fakecloud.ecs import Instance as FakeInstance
from functions.instance_events import index as instance_events
from functions.reconcile import index as reconcile
from functions.tag_events import index as tag_events
from rolebinder.aliyun.retry import Deadline
from rolebinder.cli import main
from rolebinder.domain.ownership import MARKER_KEY
from rolebinder.entrypoints import invocation
from rolebinder.entrypoints.wiring import build_engine, credentials_from, runtime_from
from rolebinder.local.fc_context import FunctionMeta, LocalContext
from rolebinder.service.engine import Engine
from tests.support import EVENTS, REGION, ROOT, call

ACCOUNT = DEFAULT_ACCOUNT_ID
EXAMPLE_MAPPING = ROOT / "examples" / "mapping.yaml"
# A function timeout long enough for any test, short enough that a hang fails fast.
FUNCTION_TIMEOUT = 20
# Kept free before the function timeout (the default, 5 s, would eat short test timeouts).
DEADLINE_MARGIN = 0.5

VPC_ID = "vpc-bp1functional00001"
VSWITCH_ID = "vsw-bp1functional00001"
# AppReader and Payments are in the example mapping's allow-list; Admin trusts ECS but is not;
# FcOnly does not trust ECS.
ROLES: list[dict[str, Any]] = [
    {"name": "AppReader"},
    {"name": "Payments"},
    {"name": "Admin"},
    {"name": "FcOnly", "trusted_services": ["fc.aliyuncs.com"]},
]

Handler = Callable[[Any, Any], dict[str, Any]]
HANDLERS: dict[str, Handler] = {
    "instance_events": instance_events.handler,
    "tag_events": tag_events.handler,
    "reconcile": reconcile.handler,
}


@dataclass
class Run:
    """One handler invocation: what it returned (or raised) and the JSON lines it wrote."""

    result: dict[str, Any] | None
    error: BaseException | None
    lines: list[dict[str, Any]]
    stderr: str

    @property
    def outcomes(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("kind") == "outcome"]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("kind") == "error"]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("kind") == "warning"]

    @property
    def summary(self) -> dict[str, Any]:
        summaries = [line for line in self.lines if line.get("kind") == "summary"]
        assert len(summaries) == 1, f"expected one summary line, got {summaries}"
        return summaries[0]

    def by_instance(self) -> dict[str | None, dict[str, Any]]:
        found: dict[str | None, dict[str, Any]] = {}
        for line in self.outcomes:
            assert line["instance_id"] not in found, f"two outcome lines for {line}"
            found[line["instance_id"]] = line
        return found

    def outcome(self, instance_id: str) -> dict[str, Any]:
        return self.by_instance()[instance_id]


@dataclass(frozen=True)
class Credentials:
    """The python3.10 runtime's `context.credentials`."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CredentialContext:
    """An FC python3.10-style context: LocalContext's fields plus `credentials`."""

    region: str | None
    credentials: Credentials
    account_id: str | None = None
    function: FunctionMeta = field(default_factory=lambda: FunctionMeta("rolebinder-test"))
    request_id: str = "req-credential-context"


def make_context(timeout: int = FUNCTION_TIMEOUT, region: str | None = REGION) -> LocalContext:
    """An FC-like context whose function timeout bounds the invocation's deadline."""
    return LocalContext(region=region, function=FunctionMeta("rolebinder-test", timeout=timeout))


def state_event(
    instance_id: str,
    state: str = "Running",
    account: str = ACCOUNT,
    region: str = REGION,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An EventBridge `ecs:Instance:StateChange` CloudEvent naming one instance."""
    return {
        "id": event_id or f"evt-{instance_id}-{state.lower()}",
        "source": "acs.ecs",
        "specversion": "1.0",
        "type": "ecs:Instance:StateChange",
        "subject": f"acs:ecs:{region}:{account}:instance/{instance_id}",
        "time": "2024-05-14T10:31:07+08:00",
        "aliyunaccountid": account,
        "aliyunregionid": region,
        "data": {
            "resourceId": instance_id,
            "resourceType": "ALIYUN::ECS::Instance",
            "state": state,
        },
    }


def timer_event(regions: list[str] | None = None) -> dict[str, Any]:
    """The FC timer trigger payload; `regions` narrows the sweep."""
    payload = json.dumps({"regions": regions}) if regions is not None else "reconcile"
    return {
        "triggerTime": "2024-05-14T02:40:00Z",
        "triggerName": "rolebinder-sweep",
        "payload": payload,
    }


def vm(
    instance_id: str, tags: dict[str, str] | None = None, owned: bool = False, **spec: Any
) -> dict[str, Any]:
    """A seed-document instance in the functional VPC (pass network="classic" for classic).

    `owned=True` adds rolebinder's ownership marker naming the seeded `role`, as if rolebinder
    had bound it.
    """
    marker = {MARKER_KEY: spec["role"]} if owned else {}
    base: dict[str, Any] = {"instance_id": instance_id, "tags": {**(tags or {}), **marker}}
    if spec.get("network") != "classic":
        base["vswitch_id"] = VSWITCH_ID
    return {**base, **spec}


def seed_world(
    cloud: FakeCloud,
    instances: list[dict[str, Any]],
    region: str = REGION,
    roles: list[dict[str, Any]] | None = None,
) -> FakeCloud:
    """Seed roles (default: ROLES) and, in `region`, the functional VPC and `instances`."""
    document = {
        "account_id": ACCOUNT,
        "roles": ROLES if roles is None else roles,
        "regions": {
            region: {
                "vpcs": [{"vpc_id": VPC_ID, "vswitches": [{"vswitch_id": VSWITCH_ID}]}],
                "instances": instances,
            }
        },
    }
    apply_seed(cloud, document)
    return cloud


def add_fleet(
    cloud: FakeCloud,
    specs: list[tuple[str, dict[str, str], str | None]],
    region: str = REGION,
) -> list[str]:
    """Add (instance_id, tags, role) VPC instances straight to the fake's backend: fast for
    large fleets. Needs the functional vSwitch in `region` (seed_world(cloud, [], region))."""
    backend = cloud.ecs(region)
    vswitch = backend.vswitches[VSWITCH_ID]
    for instance_id, tags, role in specs:
        backend.add_instance(
            FakeInstance(
                instance_id=instance_id,
                seq=backend.next_seq(),
                name=instance_id,
                region=region,
                zone_id=vswitch.zone_id,
                status="Running",
                network_type="vpc",
                created=cloud.clock.now(),
                instance_type="ecs.g7.large",
                image_id="aliyun_3_x64_20G_alibase_20240819.vhd",
                private_ip="172.16.0.10",
                vpc_id=vswitch.vpc_id,
                vswitch_id=vswitch.vswitch_id,
                tags=dict(tags),
                role=role,
            )
        )
    return [instance_id for instance_id, _, _ in specs]


def run_instances(
    client: AcsClient,
    amount: int,
    tags: dict[str, str],
    vswitch_id: str = VSWITCH_ID,
) -> list[str]:
    """RunInstances through the SDK (the fake emits its events); the new instance ids."""
    request = RunInstancesRequest()
    request.set_ImageId("aliyun_3_x64_20G_alibase_20240819.vhd")
    request.set_InstanceType("ecs.g7.large")
    request.set_VSwitchId(vswitch_id)
    request.set_Amount(amount)
    request.set_Tags([{"Key": key, "Value": value} for key, value in tags.items()])
    return list(call(client, request)["InstanceIdSets"]["InstanceIdSet"])


def trail_events(cloud: FakeCloud, action: str) -> list[dict[str, Any]]:
    """The ActionTrail CloudEvents the fake published for successful `action` calls."""
    return [
        event
        for _, event in cloud.events.since(0)
        if event["type"].endswith(":ActionTrail:ApiCall") and event["data"]["eventName"] == action
    ]


def attached_once(cloud: FakeCloud) -> Counter[str]:
    """Per instance, how many Attach results the fake reported as successful (its ActionTrail):
    what the cloud did, whatever became of the answers."""
    done: Counter[str] = Counter()
    for event in trail_events(cloud, "AttachInstanceRamRole"):
        response = event["data"].get("responseElements")
        if not response:  # a failed call: nothing was attached
            continue
        results = response["AttachInstanceRamRoleResults"]["AttachInstanceRamRoleResult"]
        done.update(r["InstanceId"] for r in results if r["Success"])
    return done


def ecs_state(cloud: FakeCloud, region: str = REGION) -> dict[str, str | None]:
    """Instance id -> bound role, read straight from the fake's backend."""
    return {i.instance_id: i.role for i in cloud.ecs(region).instances.values()}


@pytest.fixture
def seeded(cloud: FakeCloud) -> FakeCloud:
    """The fake cloud seeded with events/seed.yaml (the world the sample events talk about)."""
    apply_seed(cloud, load_seed_file(EVENTS / "seed.yaml"))
    return cloud


@pytest.fixture
def write_mapping(tmp_path: Path) -> Callable[[dict[str, Any] | str], Path]:
    """Write a mapping (a document or YAML text) to a file; returns its path."""
    counter = iter(range(1_000_000))

    def write(mapping: dict[str, Any] | str) -> Path:
        path = tmp_path / f"mapping-{next(counter)}.yaml"
        text = mapping if isinstance(mapping, str) else yaml.safe_dump(mapping, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def fresh_runtime() -> Iterator[None]:
    """Each test starts (and leaves) with a cold container: no cached mapping, pool or roles."""
    invocation.container_runtime.cache_clear()
    yield
    invocation.container_runtime.cache_clear()


@pytest.fixture
def handler_env(
    monkeypatch: pytest.MonkeyPatch, server: FakeCloudServer, fresh_runtime: None
) -> pytest.MonkeyPatch:
    """The environment Function Compute would give the handlers, pointed at the fake."""
    for name, value in {
        "ROLEBINDER_MAPPING": str(EXAMPLE_MAPPING),
        "ROLEBINDER_ECS_ENDPOINT": server.url,
        "ROLEBINDER_RAM_ENDPOINT": server.url,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
        "FC_REGION": REGION,
        "ROLEBINDER_ACCOUNT_ID": ACCOUNT,
        "ROLEBINDER_VISIBILITY_WAIT": "2",
        "ROLEBINDER_DEADLINE_MARGIN": str(DEADLINE_MARGIN),
        "ROLEBINDER_API_TIMEOUT": "5",
    }.items():
        monkeypatch.setenv(name, value)
    for name in (
        "ALIBABA_CLOUD_SECURITY_TOKEN",
        "ROLEBINDER_DRY_RUN",
        "ROLEBINDER_REGIONS",
        "ROLEBINDER_ROLE_CACHE_SECONDS",
        "FC_ACCOUNT_ID",
        "ALIYUN_ACCESS_KEY_ID",
        "ALIYUN_ACCESS_KEY_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def use_mapping(
    handler_env: pytest.MonkeyPatch, write_mapping: Callable[[dict[str, Any] | str], Path]
) -> Callable[[dict[str, Any] | str], Path]:
    """Point ROLEBINDER_MAPPING at a new mapping (the next invocation starts a new container)."""

    def use(mapping: dict[str, Any] | str) -> Path:
        path = write_mapping(mapping)
        handler_env.setenv("ROLEBINDER_MAPPING", str(path))
        invocation.container_runtime.cache_clear()
        return path

    return use


@pytest.fixture
def engine_for(handler_env: pytest.MonkeyPatch) -> Callable[[], Engine]:
    """An engine wired like the handlers' (real gateways, real SDK), for checks of any size."""

    def build() -> Engine:
        return build_engine(
            runtime_from(os.environ),
            credentials_from(os.environ),
            REGION,
            Deadline(FUNCTION_TIMEOUT),
        )

    return build


@pytest.fixture
def invoke(
    handler_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Run]:
    """Run a handler (by name or function) on an event; a new container when `cold`.

    Exceptions are caught and returned in `Run.error`, so a test asserts on what was raised
    and on the lines written before it.
    """

    def run(
        handler: str | Handler,
        event: Any,
        context: Any = None,
        *,
        cold: bool = False,
    ) -> Run:
        if cold:
            invocation.container_runtime.cache_clear()
        function = HANDLERS[handler] if isinstance(handler, str) else handler
        capsys.readouterr()  # drop whatever earlier steps printed
        result: dict[str, Any] | None = None
        error: BaseException | None = None
        try:
            result = function(event, context if context is not None else make_context())
        except Exception as exc:
            error = exc
        captured = capsys.readouterr()
        lines = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
        return Run(result, error, lines, captured.err)

    return run


def event_bytes(name: str) -> bytes:
    """A sample event as FC delivers it to a python handler: bytes."""
    return (EVENTS / name).read_bytes()


# -- the command line ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Exit:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Exit]:
    """Run `rolebinder ARGS...`; argparse's own exits count as exit codes."""

    def run(*argv: str) -> Exit:
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Exit(code, captured.out, captured.err)

    return run


# -- a hub (tests/functional/hub.py builds the organisation; each module defines `org`) ------


@pytest.fixture
def hub(
    org: FakeCloud, server: FakeCloudServer, handler_env: pytest.MonkeyPatch
) -> Callable[[str], None]:
    """Switch the handlers to a hub serving `accounts` (a comma list or rd); members A and B to
    begin with. Each test module defines the `org` it runs in."""

    from tests.functional.hub import MEMBER_A, MEMBER_B, hub_environment  # noqa: PLC0415

    def serve(accounts: str) -> None:
        for name, value in hub_environment(server.url, accounts).items():
            handler_env.setenv(name, value)
        invocation.container_runtime.cache_clear()

    serve(f"{MEMBER_A},{MEMBER_B}")
    return serve
