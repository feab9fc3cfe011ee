"""RAM policy evaluation, just enough to enforce a key's permissions in the fake.

A key pair may carry a RAM policy document (`{"Version": "1", "Statement": [...]}`). A call is
allowed when some Allow statement matches the action and the resource and no Deny statement
does. `Action` and `Resource` take `*` and `?` wildcards; Conditions are not modelled (a statement
with a Condition is treated as not matching, which errs on the side of refusing).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    has_condition: bool

    def matches(self, action: str, resource: str) -> bool:
        if self.has_condition:
            return False
        return _any_match(self.actions, action, fold=True) and _any_match(self.resources, resource)


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
            has_condition=bool(raw.get("Condition")),
        )

    def allows(self, action: str, resource: str = "*") -> bool:
        relevant = [s for s in self.statements if s.matches(action, resource)]
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

    def allows(self, action: str, resource: str = "*") -> bool:
        if action.lower() == "ram:passrole":
            role = resource.rsplit("/", 1)[-1]
            return self.passable_roles is None or role in self.passable_roles
        return self.actions is None or action.lower() in self.actions


def role_resource(account_id: str, role_name: str, region: str = "*") -> str:
    return f"acs:ram:{region}:{account_id}:role/{role_name}"


def instance_resource(account_id: str, region: str, instance_id: str) -> str:
    return f"acs:ecs:{region}:{account_id}:instance/{instance_id}"
