"""RAM wire layer: parameters in, documented shapes out. Behaviour is in `fakecloud.ram`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fakecloud.params import Params
from fakecloud.ram import RamBackend


@dataclass
class RamCall:
    backend: RamBackend
    params: Params


def create_role(call: RamCall) -> dict[str, Any]:
    p = call.params
    role = call.backend.create_role(
        p.require("RoleName"),
        p.require("AssumeRolePolicyDocument"),
        p.get("Description") or "",
        p.integer("MaxSessionDuration", 3600, 3600, 43200),
    )
    return {"Role": role.to_api(with_policy=True)}


def get_role(call: RamCall) -> dict[str, Any]:
    role = call.backend.get_role(call.params.require("RoleName"))
    return {"Role": role.to_api(with_policy=True)}


def list_roles(call: RamCall) -> dict[str, Any]:
    p = call.params
    roles, marker = call.backend.list_roles(p.get("Marker"), p.integer("MaxItems", 100, 1, 1000))
    body: dict[str, Any] = {
        "IsTruncated": marker is not None,
        "Roles": {"Role": [role.to_api(with_policy=False) for role in roles]},
    }
    if marker is not None:
        body["Marker"] = marker
    return body


def delete_role(call: RamCall) -> dict[str, Any]:
    call.backend.delete_role(call.params.require("RoleName"))
    return {}


ACTIONS: dict[str, Callable[[RamCall], dict[str, Any]]] = {
    "CreateRole": create_role,
    "GetRole": get_role,
    "ListRoles": list_roles,
    "DeleteRole": delete_role,
}
WRITE_ACTIONS = frozenset({"CreateRole", "DeleteRole"})
