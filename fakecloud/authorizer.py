"""Authorisation, apart from dispatch: what a key's RAM policy allows, as RAM would decide it.

ECS actions are authorised on every instance they name and, for Attach/Detach, on the role;
tag writes carry the tag condition keys (acs:TagKeys, acs:RequestTag/<key>).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fakecloud.auth import AllowAll, KeyPair, Permissions
from fakecloud.errors import ApiError
from fakecloud.params import Params
from fakecloud.policy import (
    ListPermissions,
    Policy,
    RolePermissions,
    instance_resource,
    role_resource,
)

_INSTANCE_SCOPED = ("InstanceIds", "InstanceId", "ResourceId")
_ROLE_SCOPED = frozenset({"AttachInstanceRamRole", "DetachInstanceRamRole"})
# Actions that set or remove tags, so carry the tag condition keys; the launch calls take Tag.N.
TAG_WRITES = frozenset(
    {"TagResources", "UntagResources", "AddTags", "RemoveTags", "RunInstances", "CreateInstance"}
)


def key_permissions(
    role_policy: Callable[[], Permissions | None] | None,
    allowed_actions: Iterable[str] | None,
    passable_roles: Iterable[str] | None,
    policy: Mapping[str, Any] | None,
) -> Permissions:
    """What a configured key may do: its own policy document or lists when given, else, for a
    role-session key (`role_policy` given), its role's policy, else everything."""
    if policy is not None:
        return Policy(policy)
    if allowed_actions is not None or passable_roles is not None:
        return ListPermissions(allowed_actions, passable_roles)
    return AllowAll() if role_policy is None else RolePermissions(role_policy)


def ecs_allowed(key: KeyPair, action: str, region: str, params: Params) -> bool:
    """Whether the key's policy allows an ECS action on every instance (and role) it names."""
    ids = _scoped_ids(params) or ["*"]
    context = _tag_context(action, params)
    resources = [instance_resource(key.account_id, region, i) for i in ids]
    if action in _ROLE_SCOPED:
        # Choice, following the Chinese reference (api-facts.md "Resource-level
        # authorisation"): Attach and Detach are authorised on the role too.
        resources.append(role_resource(key.account_id, params.get("RamRoleName") or "*"))
    return all(key.permissions.allows(f"ecs:{action}", r, context) for r in resources)


def denied(action: str) -> dict[str, Any]:
    """How ECS answers an action the policy does not allow: DescribeInstances with an empty
    page (documented, and what a role without it sees), everything else Forbidden.RAM."""
    if action == "DescribeInstances":
        return {"TotalCount": 0, "PageNumber": 1, "PageSize": 10, "Instances": {"Instance": []}}
    raise ApiError(
        "Forbidden.RAM",
        "User not authorized to operate on the specified resource, "
        "or this API doesn't support RAM.",
        403,
    )


def require(key: KeyPair, action: str, resource: str, code: str) -> None:
    """Raise `code` (403) unless the key's policy allows `action` on `resource`."""
    if not key.permissions.allows(action, resource):
        raise ApiError(
            code,
            f"You are not authorized to do this action. Resource: {resource} Action: {action}",
            403,
        )


def _scoped_ids(params: Params) -> list[str]:
    ids: list[str] = []
    for name in _INSTANCE_SCOPED:
        raw = params.get(name)
        if raw and raw.startswith("["):
            with contextlib.suppress(ValueError):
                ids.extend(i for i in json.loads(raw) if isinstance(i, str))
        elif raw:
            ids.append(raw)
    return ids + params.flat_list("ResourceId")


def _tag_context(action: str, params: Params) -> dict[str, tuple[str, ...]]:
    """The tag condition keys of a tag write: the keys it names and the tags it sets."""
    if action not in TAG_WRITES:
        return {}
    try:
        pairs = params.flat_pairs("Tag")
    except ApiError:  # malformed: the action itself answers with the documented error
        return {}
    keys = [key for key, _ in pairs] + params.flat_list("TagKey")
    context: dict[str, tuple[str, ...]] = {"acs:TagKeys": tuple(keys)} if keys else {}
    context.update({f"acs:RequestTag/{key}": (value,) for key, value in pairs})
    return context
