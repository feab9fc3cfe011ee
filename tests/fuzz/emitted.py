"""Events in every shape the fake emits (fakecloud/shapes.py), as extra bases for the intake
fuzz tests: what the fake's Emitter builds for launches, tag changes and API calls, over several
seeds, so the mutations start from each documented alternative too (times, optional fields,
eventSource, eventVersion, extra objects, integer parameters, Pending and Created)."""

from __future__ import annotations

import itertools
from typing import Any

from fakecloud.emitter import ApiCallFacts, Emitter
from fakecloud.shapes import Shapes

ACCOUNT, REGION = "1234567890123456", "cn-hangzhou"
INSTANCES = ("i-bp1payments0000000001", "i-bp1reader00000000001")
WHEN = 1_700_000_000.0
SEEDS = range(6)


def _facts(action: str, params: dict[str, str], response: dict[str, Any]) -> ApiCallFacts:
    return ApiCallFacts(
        action=action,
        product="ecs",
        version="2014-05-26",
        region=REGION,
        account=ACCOUNT,
        request_id="5E9A1B2C-0000-4000-8000-000000000001",
        user_agent="AlibabaCloud (Linux; x86_64) Python/3.10 Core/2.16.0",
        params={"RegionId": REGION, **params},
        response=response,
        identity={"type": "ram-user", "accountId": ACCOUNT, "userName": "deployer"},
        when=WHEN,
    )


def _calls() -> list[ApiCallFacts]:
    ids = list(INSTANCES)
    run = {"InstanceIdSets": {"InstanceIdSet": ids}}
    tag_params = {"ResourceType": "instance", "ResourceId.1": ids[0], "Tag.1.Key": "env"}
    attach_params = {"InstanceIds": '["' + ids[1] + '"]', "RamRoleName": "AppReader"}
    return [
        _facts("RunInstances", {"Amount": "2", "SystemDisk.Size": "40"}, run),
        _facts("TagResources", tag_params, {}),
        _facts("AttachInstanceRamRole", attach_params, {}),
    ]


def _events(seed: int) -> list[dict[str, Any]]:
    counter = itertools.count()
    emitter = Emitter(new_id=lambda: f"{seed:04d}-{next(counter):08d}", shapes=Shapes(seed))
    states = ("Created", "Pending", "Starting", "Running")
    found = [emitter.state_change(ACCOUNT, REGION, i, s, WHEN) for i in INSTANCES for s in states]
    found += [
        emitter.tag_change(ACCOUNT, REGION, i, ["env"], {"env": "prod"}, WHEN) for i in INSTANCES
    ]
    found += [emitter.api_call(call) for call in _calls()]
    return found


EMITTED: list[dict[str, Any]] = [event for seed in SEEDS for event in _events(seed)]
