"""One authenticated RPC call to its product's backend: ECS, RAM, STS or ResourceManager.

Called by `FakeCloud` with its lock held; authorisation of ECS and RAM actions happens here,
STS and ResourceManager authorise inside their own modules (their refusals differ).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fakecloud import ecs_api, ram_api, resourcedirectory, sts
from fakecloud.auth import KeyPair
from fakecloud.authorizer import denied, ecs_allowed, require
from fakecloud.params import Params
from fakecloud.policy import role_resource
from fakecloud.ram import Role
from fakecloud.shapes import BIND_CODE

if TYPE_CHECKING:
    from fakecloud.cloud import FakeCloud


def execute(
    cloud: FakeCloud, product: str, action: str, key: KeyPair, params: Params
) -> dict[str, Any]:
    """The answer body of `action` for the caller `key`."""
    if product == "ram":
        return _ram(cloud, action, key, params)
    if product == "sts":
        call = sts.StsCall(key, params, _role_finder(cloud), cloud.clock.now(), cloud.auth.add)
        return sts.ACTIONS[action](call)
    if product == "resourcemanager":
        rd_call = resourcedirectory.RdCall(key, params, cloud.directory)
        return resourcedirectory.ACTIONS[action](rd_call)
    return _ecs(cloud, action, key, params)


def _role_finder(cloud: FakeCloud) -> Any:
    def find(account_id: str, name: str) -> Role | None:
        account = cloud.accounts.get(account_id)  # never creates an account
        return None if account is None else account.ram.find_role(name)

    return find


def _ram(cloud: FakeCloud, action: str, key: KeyPair, params: Params) -> dict[str, Any]:
    account_id = key.account_id
    require(
        key,
        f"ram:{action}",
        role_resource(account_id, params.get("RoleName") or "*"),
        "NoPermission",
    )
    return ram_api.ACTIONS[action](ram_api.RamCall(cloud.ram(account_id), params))


def _ecs(cloud: FakeCloud, action: str, key: KeyPair, params: Params) -> dict[str, Any]:
    account_id = key.account_id
    region = params.require("RegionId")
    backend = cloud.ecs(region, account_id)
    if not ecs_allowed(key, action, region, params):
        return denied(action)
    call = ecs_api.EcsCall(
        backend,
        params,
        can_pass_role=lambda role: key.permissions.allows(
            "ram:PassRole", role_resource(account_id, role)
        ),
        failing_items=lambda ids: cloud.faults.failing_items(action, ids),
        success_code=lambda instance_id: cloud.shapes.pick(BIND_CODE, f"{action}/{instance_id}"),
    )
    return ecs_api.ACTIONS[action](call)
