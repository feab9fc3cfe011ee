"""The admin endpoint, under `/_fake/` on the API port: drive and inspect a running fake.

GET    /_fake/health               {"ok": true}
GET    /_fake/state                accounts, roles, instances (tags, status, role)
GET    /_fake/calls?since=N        the call log after call N (no secrets)
DELETE /_fake/calls                clear the call log
GET    /_fake/events?since=N       events after event N: [{"seq": n, "event": {...}}]
GET    /_fake/faults               the configured faults
POST   /_fake/faults               add faults: {"fail": [...], "delay": [...], "drop": [...],
                                   "rate_limit": [...], "fail_instances": [...],
                                   "invisible_after_create": {...}}
DELETE /_fake/faults               clear every fault
POST   /_fake/clock                {"advance": seconds}   (only with a manual clock)
POST   /_fake/lifecycle            {"pending": s, "starting": s, "stopping": s}
POST   /_fake/seed                 a seed document (see fakecloud.seed)

It is unauthenticated and the server only listens on 127.0.0.1.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fakecloud.cloud import FakeCloud
from fakecloud.ecs import Lifecycle
from fakecloud.seed import SeedError, apply_seed

PREFIX = "/_fake/"


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def handle_admin(cloud: FakeCloud, method: str, path: str, body: bytes) -> tuple[int, Any]:
    """(status, JSON-able body) for one admin request."""
    route, _, query = path[len(PREFIX) :].partition("?")
    try:
        since = int(parse_qs(query).get("since", ["0"])[0] or 0)
        payload = json.loads(body) if body else {}
        if not isinstance(payload, dict):
            raise AdminError(400, "the body must be a JSON object")
        return 200, _dispatch(cloud, method, route.strip("/"), since, payload)
    except AdminError as error:
        return error.status, {"error": str(error)}
    except (ValueError, TypeError, SeedError) as error:
        return 400, {"error": str(error)}


def _dispatch(cloud: FakeCloud, method: str, route: str, since: int, payload: Any) -> Any:
    handlers = {
        ("GET", "health"): lambda: {"ok": True},
        ("GET", "state"): lambda: snapshot(cloud),
        ("GET", "calls"): lambda: cloud.calls.to_json(since),
        ("DELETE", "calls"): lambda: _done(cloud.calls.clear()),
        ("GET", "events"): lambda: [{"seq": n, "event": e} for n, e in cloud.events.since(since)],
        ("GET", "faults"): cloud.faults.describe,
        ("POST", "faults"): lambda: _done(cloud.faults.configure(payload)),
        ("DELETE", "faults"): lambda: _done(cloud.faults.clear()),
        ("POST", "clock"): lambda: _advance(cloud, payload),
        ("POST", "lifecycle"): lambda: _lifecycle(cloud, payload),
        ("POST", "seed"): lambda: _done(apply_seed(cloud, payload)),
    }
    handler = handlers.get((method, route))
    if handler is None:
        raise AdminError(404, f"no admin route {method} {PREFIX}{route}")
    return handler()


def _done(_: object = None) -> dict[str, bool]:
    return {"ok": True}


def _advance(cloud: FakeCloud, payload: dict[str, Any]) -> dict[str, float]:
    if "advance" not in payload:
        raise AdminError(400, 'expected {"advance": seconds}')
    try:
        cloud.advance(float(payload["advance"]))
    except TypeError as error:
        raise AdminError(409, str(error)) from None
    return {"now": cloud.clock.now()}


def _lifecycle(cloud: FakeCloud, payload: dict[str, Any]) -> dict[str, bool]:
    cloud.lifecycle = Lifecycle(**{k: float(v) for k, v in payload.items()})
    for account in cloud.accounts.values():
        for backend in account.ecs.values():
            backend.lifecycle = cloud.lifecycle
    return _done()


def snapshot(cloud: FakeCloud) -> dict[str, Any]:
    """The whole state as plain JSON: what an operator or another process wants to inspect."""
    return {
        account_id: {
            "roles": {
                role.name: {"trusts_ecs": role.trusts("ecs.aliyuncs.com")}
                for role in account.ram.roles.values()
            },
            "regions": {
                region: {
                    "instances": {i.instance_id: _instance(i) for i in backend.instances.values()}
                }
                for region, backend in account.ecs.items()
            },
        }
        for account_id, account in cloud.accounts.items()
    }


def _instance(instance: Any) -> dict[str, Any]:
    return {
        "name": instance.name,
        "status": instance.status,
        "network_type": instance.network_type,
        "vpc_id": instance.vpc_id,
        "resource_group_id": instance.resource_group_id,
        "tags": dict(instance.tags),
        "role": instance.role,
    }
