"""The demo's steps through the real SDK (launch, tag, wait, read back), and the tap that
remembers the outcome lines the handlers print: shared by the demo and its hub part."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any, TextIO

from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.DescribeInstanceRamRoleRequest import (
    DescribeInstanceRamRoleRequest,
)
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkecs.request.v20140526.RunInstancesRequest import RunInstancesRequest
from aliyunsdkecs.request.v20140526.TagResourcesRequest import TagResourcesRequest
from aliyunsdkram.request.v20150501.CreateRoleRequest import CreateRoleRequest

from rolebinder.local.bus import LocalBus

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


def call(client: AcsClient, request: Any) -> dict[str, Any]:
    return json.loads(client.do_action_with_exception(request))


def say(text: str) -> None:
    print(f"# demo: {text}", file=sys.stderr, flush=True)


def create_role(name: str) -> CreateRoleRequest:
    request = CreateRoleRequest()
    request.set_RoleName(name)
    request.set_AssumeRolePolicyDocument(ECS_TRUST)
    return request


def launch(client: AcsClient, name: str, tags: dict[str, str], vswitch: str | None) -> str:
    request = RunInstancesRequest()
    request.set_ImageId("aliyun_3_x64_20G_alibase_20240819.vhd")
    request.set_InstanceType("ecs.g7.large")
    request.set_InstanceName(name)
    if vswitch:
        request.set_VSwitchId(vswitch)
    if tags:
        request.set_Tags([{"Key": k, "Value": v} for k, v in tags.items()])
    return call(client, request)["InstanceIdSets"]["InstanceIdSet"][0]


def tag(instance_id: str, tags: dict[str, str]) -> TagResourcesRequest:
    request = TagResourcesRequest()
    request.set_ResourceType("instance")
    request.set_ResourceIds([instance_id])
    request.set_Tags([{"Key": k, "Value": v} for k, v in tags.items()])
    return request


def settle(client: AcsClient, bus: LocalBus, ids: list[str], timeout: float = 30.0) -> None:
    """Wait until every instance is Running and the bus has had nothing to do for a while."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(i["Status"] == "Running" for i in describe(client, ids)) and bus.wait_idle(1.0):
            return
        time.sleep(0.2)
    say(f"still busy after {timeout:.0f} s; showing the state as it is")


def describe(client: AcsClient, ids: list[str]) -> list[dict[str, Any]]:
    request = DescribeInstancesRequest()
    request.set_InstanceIds(json.dumps(ids))
    request.set_MaxResults(100)
    return call(client, request)["Instances"]["Instance"]


def roles(client: AcsClient, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    request = DescribeInstanceRamRoleRequest()
    request.set_InstanceIds(json.dumps(ids))
    request.set_PageSize(50)
    sets = call(client, request)["InstanceRamRoleSets"]["InstanceRamRoleSet"]
    return {s["InstanceId"]: s["RamRoleName"] for s in sets if s["RamRoleName"]}
