"""RAM policy evaluation, just enough to enforce a key's permissions in the fake.

A key pair may carry a RAM policy document (`{"Version": "1", "Statement": [...]}`). A call is
allowed when some Allow statement matches the action and the resource and no Deny statement
does. `Action` and `Resource` take `*` and `?` wildcards.

Conditions: the string operators StringEquals / StringNotEquals / StringLike / StringNotLike, each
optionally prefixed ForAnyValue: or ForAllValues:, over the request's context keys. The fake puts
the tag condition keys of tag-based authorisation in that context for the tag APIs
(`acs:TagKeys`, `acs:RequestTag/<key>`; docs/research/api-facts.md). A key the request does not
carry fails its condition (choice: RAM's behaviour for an absent key is not documented; for an
Allow this errs on refusing). An operator the fake does not model fails the statement too.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fakecloud.auth import Permissions

Context = Mapping[str, tuple[str, ...]]
_OPERATORS = {
    "StringEquals": lambda value, pattern: value == pattern,
    "StringLike": fnmatch.fnmatchcase,
}


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (operator, key, values)

    def matches(self, action: str, resource: str, context: Context | None = None) -> bool:
        if not (
            _any_match(self.actions, action, fold=True) and _any_match(self.resources, resource)
        ):
            return False
        return all(_holds(op, key, values, context or {}) for op, key, values in self.conditions)


def _holds(operator: str, key: str, patterns: tuple[str, ...], context: Context) -> bool:
    """One condition over the request context (all conditions of a statement must hold)."""
    qualifier, _, base = operator.rpartition(":")
    negated = base.startswith(("StringNot",))
    compare = _OPERATORS.get(base.replace("Not", "", 1) if negated else base)
    found = context.get(key)
    if compare is None or not found:
        return False

    def one(value: str) -> bool:
        hit = any(compare(value, pattern) for pattern in patterns)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(value) for value in found)
    return any(one(value) for value in found)  # ForAnyValue, or a single-valued key


def _conditions(raw: Any) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    if raw in (None, {}):
        return ()
    if not isinstance(raw, dict):
        raise ValueError(f"bad Condition: {raw!r}")
    return tuple(
        (operator, key, _strings(values))
        for operator, block in raw.items()
        for key, values in dict(block).items()
    )


def _any_match(patterns: Iterable[str], value: str, fold: bool = False) -> bool:
    if fold:  # action names are case-insensitive in RAM
        return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"expected a string or a list of strings, got {value!r}")


class Policy:
    """A parsed policy document; `allows(action, resource)` answers like RAM would."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        statements = document.get("Statement")
        if not isinstance(statements, list):
            raise ValueError("policy document needs a Statement list")
        self.document = dict(document)
        self.statements = tuple(self._statement(s) for s in statements)

    @staticmethod
    def _statement(raw: Any) -> Statement:
        if not isinstance(raw, dict) or raw.get("Effect") not in ("Allow", "Deny"):
            raise ValueError(f"bad policy statement: {raw!r}")
        return Statement(
            effect=raw["Effect"],
            actions=_strings(raw.get("Action", [])),
            resources=_strings(raw.get("Resource", "*")),
            conditions=_conditions(raw.get("Condition")),
        )

    def allows(self, action: str, resource: str = "*", context: Context | None = None) -> bool:
        relevant = [s for s in self.statements if s.matches(action, resource, context)]
        if any(s.effect == "Deny" for s in relevant):
            return False
        return any(s.effect == "Allow" for s in relevant)


class ListPermissions:
    """Permissions given as lists: the actions a key may call and the roles it may pass.

    `None` means "all". This is the shorthand for seeds and tests; a real policy document is
    checked with `Policy`.
    """

    def __init__(
        self, actions: Iterable[str] | None = None, passable_roles: Iterable[str] | None = None
    ) -> None:
        self.actions = None if actions is None else {a.lower() for a in actions}
        self.passable_roles = None if passable_roles is None else set(passable_roles)

    def allows(self, action: str, resource: str = "*", context: Context | None = None) -> bool:
        if action.lower() == "ram:passrole":
            role = resource.rsplit("/", 1)[-1]
            return self.passable_roles is None or role in self.passable_roles
        return self.actions is None or action.lower() in self.actions


class RolePermissions:
    """A role session's permissions: the role's permission policy, read at each call (RAM
    applies a policy change to live sessions too), narrowed by the session policy if any.

    `role_policy` answers None once the role is gone: then nothing is allowed (our choice,
    the docs are silent)."""

    def __init__(
        self, role_policy: Callable[[], Permissions | None], session: Policy | None = None
    ) -> None:
        self._role_policy = role_policy
        self.session = session

    def allows(self, action: str, resource: str = "*", context: Context | None = None) -> bool:
        policy = self._role_policy()
        if policy is None or not policy.allows(action, resource, context):
            return False
        return self.session is None or self.session.allows(action, resource, context)


def role_resource(account_id: str, role_name: str, region: str = "*") -> str:
    return f"acs:ram:{region}:{account_id}:role/{role_name}"


def instance_resource(account_id: str, region: str, instance_id: str) -> str:
    return f"acs:ecs:{region}:{account_id}:instance/{instance_id}"
