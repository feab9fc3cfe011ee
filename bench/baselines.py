"""Baselines: the call patterns users run today, replayed with the real SDK against the same fake.

Each pattern runs on a fresh fake with the same mixed fleet (`harness.MIXED_CYCLE`: most
instances need Payments or AppReader, some must be left alone, one asks for a role outside the
allow-list, one is classic, some already have a role), with the same per-call latency:

- rolebinder: the reconcile handler's sweep.
- per-instance (the pattern of per-resource policy engines): for each instance, one after
  another, DescribeInstances, DescribeInstanceRamRole (VPC only) and, when the mapping says so,
  AttachInstanceRamRole; no batching. It decides with the same mapping, so only the call
  pattern differs.
- bulk attach, no checks (the pattern of the public bulk-attach automation template): for each
  role a tag asks for (team=payments -> Payments, ram-role=X -> X), list the instances with that
  tag, then one AttachInstanceRamRole per instance, ten at a time, with no network, allow-list,
  scope, trust or existing-role check.

Reported: calls, wall time, failed calls, wrong bindings (an instance whose role ends up other
than the one the mapping promises) and missing ones, and our ratio to each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkecs.request.v20140526.AttachInstanceRamRoleRequest import (
    AttachInstanceRamRoleRequest,
)
from aliyunsdkecs.request.v20140526.DescribeInstanceRamRoleRequest import (
    DescribeInstanceRamRoleRequest,
)
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest

from bench import bounds
from bench.harness import (
    MAPPING,
    REGION,
    Member,
    World,
    handler_env,
    log,
    mixed_fleet,
    run_handler,
    timer_event,
)
from bench.result import Options, Row

FAMILY = "baselines"
LATENCY = 0.02  # a same-region round trip's order of magnitude, added to every call
CONCURRENCY = 10
# The tag conventions the bulk-attach runs are configured with: (tag key, value) -> role.
TAG_RUNS = (
    (("team", "payments"), "Payments"),
    (("ram-role", "AppReader"), "AppReader"),
    (("ram-role", "Admin"), "Admin"),
)


def run(options: Options) -> list[Row]:
    n = 100 if options.quick else 1000
    latency = 0.0 if options.quick else LATENCY
    members = mixed_fleet(n)
    results = {
        "rolebinder": _measure(members, latency, _rolebinder),
        "per-instance, sequential": _measure(members, latency, _per_instance),
        "bulk attach, 10 at a time, no checks": _measure(members, latency, _bulk_attach),
    }
    return _rows(members, results, latency)


def _measure(
    members: list[Member], latency: float, pattern: Callable[[World, list[str]], None]
) -> dict[str, Any]:
    with World() as world:
        ids = world.add_fleet(members)
        world.limit({}, latency)
        mark = world.mark()
        started = time.perf_counter()
        pattern(world, ids)
        wall = time.perf_counter() - started
        final = world.roles()
        failed = sum(1 for c in world.cloud.calls.all(mark) if not c.ok)
        counts = world.counts(mark)
    wrong = sum(
        1
        for m, i in zip(members, ids, strict=True)
        if final[i] is not None and final[i] != m.expected
    )
    missing = sum(1 for m, i in zip(members, ids, strict=True) if m.expected and final[i] is None)
    log(f"baselines: {pattern.__name__}: {sum(counts.values())} calls, {wall:.2f} s")
    return {
        "calls": counts,
        "calls_total": sum(counts.values()),
        "wall_s": round(wall, 3),
        "failed_calls": failed,
        "wrong_bindings": wrong,
        "missing_bindings": missing,
    }


# -- the patterns -----------------------------------------------------------------------------


def _rolebinder(world: World, ids: list[str]) -> None:
    with handler_env(world.url):
        run_handler("reconcile", timer_event())


def _per_instance(world: World, ids: list[str]) -> None:
    from rolebinder.domain.decision import Action, decide  # noqa: PLC0415 - the same mapping semantics
    from rolebinder.domain.instance import Instance  # noqa: PLC0415
    from rolebinder.mapping.model import load_mapping  # noqa: PLC0415

    mapping, client = load_mapping(MAPPING), world.client()
    for ident in ids:
        [item] = _call(client, _describe([ident]))["Instances"]["Instance"]
        vpc = item["InstanceNetworkType"] == "vpc"
        role = _current_role(client, ident) if vpc else None
        tags = {t["TagKey"]: t["TagValue"] for t in item.get("Tags", {}).get("Tag", [])}
        instance = Instance(
            ident,
            REGION,
            item["InstanceNetworkType"],
            item["Status"],
            tags,
            item["VpcAttributes"]["VpcId"] or None,
            None,
            role,
        )
        decision = decide(instance, mapping)
        if decision.action == Action.ATTACH and decision.role:
            _try(client, _attach(decision.role, [ident]))


def _bulk_attach(world: World, ids: list[str]) -> None:
    client = world.client()
    targets = [
        (ident, role) for (key, value), role in TAG_RUNS for ident in _tagged(client, key, value)
    ]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(lambda target: _try(client, _attach(target[1], [target[0]])), targets))


# -- SDK calls ----------------------------------------------------------------------------------


def _describe(
    ids: list[str] | None = None, tag: tuple[str, str] | None = None, token: str = ""
) -> DescribeInstancesRequest:
    request = DescribeInstancesRequest()
    request.set_MaxResults(100)
    if ids is not None:
        request.set_InstanceIds(json.dumps(ids))
    if tag is not None:
        request.set_Tags([{"Key": tag[0], "Value": tag[1]}])
    if token:
        request.set_NextToken(token)
    return request


def _tagged(client: Any, key: str, value: str) -> list[str]:
    found, token = [], ""
    while True:
        answer = _call(client, _describe(tag=(key, value), token=token))
        found += [i["InstanceId"] for i in answer["Instances"]["Instance"]]
        token = answer.get("NextToken", "")
        if not token:
            return found


def _current_role(client: Any, ident: str) -> str | None:
    request = DescribeInstanceRamRoleRequest()
    request.set_InstanceIds(json.dumps([ident]))
    sets = _call(client, request)["InstanceRamRoleSets"]["InstanceRamRoleSet"]
    return next((s["RamRoleName"] for s in sets if s["RamRoleName"]), None)


def _attach(role: str, ids: list[str]) -> AttachInstanceRamRoleRequest:
    request = AttachInstanceRamRoleRequest()
    request.set_RamRoleName(role)
    request.set_InstanceIds(json.dumps(ids))
    return request


def _call(client: Any, request: Any) -> dict[str, Any]:
    return json.loads(client.do_action_with_exception(request))


def _try(client: Any, request: Any) -> bool:
    """Send a write; a refusal is counted from the call log, not raised."""
    try:
        _call(client, request)
    except (ServerException, ClientException):
        return False
    return True


# -- rows -----------------------------------------------------------------------------------------


def _rows(members: list[Member], results: dict[str, dict[str, Any]], latency: float) -> list[Row]:
    n = len(members)
    attach: dict[str, int] = {}
    for m in members:
        if m.expected and m.role is None:
            attach[m.expected] = attach.get(m.expected, 0) + 1
    bound = bounds.batch_bound(n, sum(1 for m in members if m.vpc), attach)
    ours = results["rolebinder"]
    rows = []
    for pattern, result in results.items():
        result.update(
            {
                "ours_calls_ratio": round(ours["calls_total"] / result["calls_total"], 4),
                "ours_wall_ratio": round(ours["wall_s"] / result["wall_s"], 4),
                "latency_s": latency,
                "bound_calls": bound,
            }
        )
        scenario = f"{pattern}: mixed fleet of {n:,}"
        rows.append(
            Row(
                FAMILY,
                scenario,
                "API calls",
                "calls",
                result["calls_total"],
                bounds.total(bound),
                target="(compare)",
                detail=result,
            )
        )
        rows.append(
            Row(
                FAMILY,
                scenario,
                "wrong bindings",
                "instances",
                result["wrong_bindings"],
                0.0,
                target="0",
                met=result["wrong_bindings"] == 0,
                goal=0.0,
            )
        )
    return rows
