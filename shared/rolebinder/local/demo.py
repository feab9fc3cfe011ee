"""The scripted demo of local mode, driven entirely through the real SDK.

Creates roles, launches VPC and classic instances with various tags, changes tags, waits for
the handlers to settle, then prints the bindings and checks each one against what the example
mapping (examples/mapping.yaml) promises.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.DescribeInstanceRamRoleRequest import (
    DescribeInstanceRamRoleRequest,
)
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkecs.request.v20140526.RunInstancesRequest import RunInstancesRequest
from aliyunsdkecs.request.v20140526.TagResourcesRequest import TagResourcesRequest
from aliyunsdkram.request.v20150501.CreateRoleRequest import CreateRoleRequest
from rich.table import Table

from rolebinder.cli.options import console as session_console
from rolebinder.cli.text import cell
from rolebinder.domain.ownership import MARKER_KEY, is_reserved
from rolebinder.local.bus import LocalBus
from rolebinder.local.hub_demo import run_hub_demo
from rolebinder.local.org import Member

ECS_TRUST = json.dumps(
    {
        "Version": "1",
        "Statement": [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": ["ecs.aliyuncs.com"]},
            }
        ],
    }
)
# name -> (tags at launch, VPC?, role expected at the end under examples/mapping.yaml)
FLEET = {
    "payments-api": ({"team": "payments", "env": "prod"}, True, "Payments"),
    "payments-canary": ({"team": "payments", "env": "prod"}, True, "Payments"),
    "reports": ({"ram-role": "AppReader"}, True, "AppReader"),
    "escalation-attempt": ({"ram-role": "Admin"}, True, None),  # Admin is not allow-listed
    "legacy-classic": ({"team": "payments", "env": "prod"}, False, None),  # classic: no roles
    "scratch": ({}, True, "AppReader"),  # gets a ram-role tag later
    # The build-agents rule runs in audit mode: decided and logged (AppReader), never written.
    "ci-runner": ({"ci-runner": "gitlab"}, True, None),
}
# Tag changes after launch: the scratch box asks for AppReader; the canary leaves prod but
# keeps Payments, because examples/mapping.yaml says on_no_match: keep.
RETAG = {"scratch": {"ram-role": "AppReader"}, "payments-canary": {"env": "dev"}}


class OutcomeTap:
    """Passes output through and remembers the last outcome line per instance."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last: dict[str, dict[str, Any]] = {}
        # Lines about a whole account or region (a member whose role cannot be assumed).
        self.unreached: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        for line in text.splitlines():
            self._remember(line)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def _remember(self, line: str) -> None:
        if not line.startswith('{"kind":"outcome"'):
            return
        record = json.loads(line)
        instance_id = record.get("instance_id")
        if not instance_id:
            if record.get("account_id"):
                with self._lock:
                    self.unreached[record["account_id"]] = record
            return
        with self._lock:
            # Later "unchanged" lines (more events for the same instance) and the echoes of
            # rolebinder's own marker writes (ignored) do not hide the decision.
            earlier = self.last.get(instance_id, {}).get("outcome")
            quiet = record["outcome"] in ("unchanged", "ignored")
            if not quiet or earlier in (None, "unchanged", "ignored"):
                self.last[instance_id] = record


def run_demo(
    url: str, bus: LocalBus, cloud: Any, region: str, vswitch: str, members: Sequence[Member] = ()
) -> bool:
    """Run the scenario (and the hub's, with `members`); True when every instance ends in the
    state the mapping promises."""
    tap = OutcomeTap(sys.stdout)
    sys.stdout = tap  # type: ignore[assignment] - the handlers print outcome lines to stdout
    try:
        client = _client(url, region)
        _say("creating roles AppReader, Payments (allow-listed) and Admin (not)")
        for role in ("AppReader", "Payments", "Admin"):
            _call(client, _create_role(role))
        _say("launching instances")
        ids = {
            name: _launch(client, name, tags, vswitch if vpc else None)
            for name, (tags, vpc, _) in FLEET.items()
        }
        _settle(client, bus, list(ids.values()))
        _say("changing tags: " + "; ".join(f"{n} {t}" for n, t in RETAG.items()))
        for name, tags in RETAG.items():
            _call(client, _tag(ids[name], tags))
        _settle(client, bus, list(ids.values()))
        _breaker_drill(region)
        hub = run_hub_demo(url, bus, cloud.functions, region, members, tap) if members else None
    finally:
        sys.stdout = tap.stream  # type: ignore[assignment]
    ok = _report(client, ids, tap)
    return ok and (hub is None or hub.report(tap))


def _breaker_drill(region: str) -> None:
    """A bad mapping change (payments-prod now grants AppReader, unmatched roles detached),
    limited to one change per run: the sweep plans more, so the breaker writes nothing."""
    import tempfile  # noqa: PLC0415 - demo only

    import yaml  # noqa: PLC0415

    from rolebinder.aliyun.retry import Deadline  # noqa: PLC0415
    from rolebinder.entrypoints import config  # noqa: PLC0415
    from rolebinder.entrypoints.wiring import (  # noqa: PLC0415
        build_engine,
        credentials_from,
        runtime_from,
    )

    with open(os.environ[config.MAPPING], encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    for rule in document["rules"]:
        if rule.get("role") == "Payments":
            rule["role"] = "AppReader"
    document.update(on_existing_role="replace", on_no_match="detach", limits={"max_changes": 1})
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as bad:
        yaml.safe_dump(document, bad)
    env = {**os.environ, config.MAPPING: bad.name}
    engine = build_engine(runtime_from(env), credentials_from(env), region, Deadline(60.0))
    held = [o for o in engine.sweep(region, "demo:breaker-drill") if o.reason == "circuit-open"]
    os.unlink(bad.name)
    tripped = engine.breaker.tripped
    verdict = tripped.sentence() if tripped else "the breaker stayed closed"
    _say(f"breaker drill (a bad mapping change, limits.max_changes 1): {verdict}")
    _say(f"breaker drill: {len(held)} instance(s) held back, nothing written")


def _client(url: str, region: str) -> AcsClient:
    from fakecloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET  # noqa: PLC0415

    client = AcsClient(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, region, auto_retry=False)
    client.add_endpoint(region, "Ecs", url)
    client.add_endpoint(region, "Ram", url)
    return client


def _call(client: AcsClient, request: Any) -> dict[str, Any]:
    return json.loads(client.do_action_with_exception(request))


def _say(text: str) -> None:
    print(f"# demo: {text}", file=sys.stderr, flush=True)


def _create_role(name: str) -> CreateRoleRequest:
    request = CreateRoleRequest()
    request.set_RoleName(name)
    request.set_AssumeRolePolicyDocument(ECS_TRUST)
    return request


def _launch(client: AcsClient, name: str, tags: dict[str, str], vswitch: str | None) -> str:
    request = RunInstancesRequest()
    request.set_ImageId("aliyun_3_x64_20G_alibase_20240819.vhd")
    request.set_InstanceType("ecs.g7.large")
    request.set_InstanceName(name)
    if vswitch:
        request.set_VSwitchId(vswitch)
    if tags:
        request.set_Tags([{"Key": k, "Value": v} for k, v in tags.items()])
    return _call(client, request)["InstanceIdSets"]["InstanceIdSet"][0]


def _tag(instance_id: str, tags: dict[str, str]) -> TagResourcesRequest:
    request = TagResourcesRequest()
    request.set_ResourceType("instance")
    request.set_ResourceIds([instance_id])
    request.set_Tags([{"Key": k, "Value": v} for k, v in tags.items()])
    return request


def _settle(client: AcsClient, bus: LocalBus, ids: list[str], timeout: float = 30.0) -> None:
    """Wait until every instance is Running and the bus has had nothing to do for a while."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(i["Status"] == "Running" for i in _describe(client, ids)) and bus.wait_idle(1.0):
            return
        time.sleep(0.2)
    _say(f"still busy after {timeout:.0f} s; showing the state as it is")


def _describe(client: AcsClient, ids: list[str]) -> list[dict[str, Any]]:
    request = DescribeInstancesRequest()
    request.set_InstanceIds(json.dumps(ids))
    request.set_MaxResults(100)
    return _call(client, request)["Instances"]["Instance"]


def _roles(client: AcsClient, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    request = DescribeInstanceRamRoleRequest()
    request.set_InstanceIds(json.dumps(ids))
    request.set_PageSize(50)
    sets = _call(client, request)["InstanceRamRoleSets"]["InstanceRamRoleSet"]
    return {s["InstanceId"]: s["RamRoleName"] for s in sets if s["RamRoleName"]}


def _report(client: AcsClient, ids: dict[str, str], tap: OutcomeTap) -> bool:
    instances = {i["InstanceId"]: i for i in _describe(client, list(ids.values()))}
    vpc_ids = [i for i, d in instances.items() if d["InstanceNetworkType"] == "vpc"]
    roles = _roles(client, vpc_ids)
    table = Table(title="bindings after the demo (read back through the SDK)")
    columns = ("instance", "name", "network", "tags", "role", "owned", "outcome", "mode", "ok")
    for column in columns:
        table.add_column(column, no_wrap=column == "instance")
    all_good = True
    for name, instance_id in ids.items():
        described = instances[instance_id]
        tags = {t["TagKey"]: t["TagValue"] for t in described.get("Tags", {}).get("Tag", [])}
        outcome = tap.last.get(instance_id, {})
        good = roles.get(instance_id) == FLEET[name][2]
        all_good = all_good and good
        shown = ", ".join(f"{k}={v}" for k, v in tags.items() if not is_reserved(k))
        marked = tags.get(MARKER_KEY)
        row = (
            instance_id,
            name,
            described["InstanceNetworkType"],
            shown or "-",
            roles.get(instance_id, "-"),
            "yes" if marked and marked == roles.get(instance_id) else "-",
            f"{outcome.get('outcome', '-')} ({outcome.get('reason', '-')})",
            outcome.get("mode", "-"),
            "yes" if good else "NO",
        )
        table.add_row(*map(cell, row))
    console = session_console()
    console.print(table)
    console.print(
        "every instance is in its mapped state"
        if all_good
        else "some instances are NOT in their mapped state"
    )
    return all_good
