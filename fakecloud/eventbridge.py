"""A local EventBridge: rules with event patterns, delivering to targets (local mode, tests).

Pattern semantics (EventBridge "event patterns" doc): a pattern has the event's nesting; keys are
ANDed, the values listed for one key are ORed; matching is exact and case-sensitive. Supported
value forms: a literal string/number/bool/null, {"prefix": s}, {"suffix": s}, {"contains": s},
{"anything-but": value or list}, {"exists": bool}. Not modelled: numeric and cidr matching.

`deliver_cross_account` is what a member account's rule with an `acs.eventbridge` target in
another account (the hub) hands the hub's bus (docs/research/multi-account.md section 3).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_MISSING = object()


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """True when `event` matches the EventBridge `pattern`."""
    return all(
        _field_matches(expected, event.get(key, _MISSING)) for key, expected in pattern.items()
    )


def _field_matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and matches(expected, actual)
    if not isinstance(expected, list):
        raise ValueError(f"pattern values must be lists or objects, got {expected!r}")
    candidates = actual if isinstance(actual, list) else [actual]
    return any(_value_matches(rule, value) for rule in expected for value in candidates)


def _value_matches(rule: Any, value: Any) -> bool:
    if not isinstance(rule, Mapping):
        return value is not _MISSING and rule == value
    ((operator, operand),) = rule.items()
    if operator == "exists":
        return (value is not _MISSING) == bool(operand)
    if value is _MISSING:
        return False
    if operator == "anything-but":
        return value not in (operand if isinstance(operand, list) else [operand])
    if not isinstance(value, str):
        return False
    checks: dict[str, Callable[[str, str], bool]] = {
        "prefix": str.startswith,
        "suffix": str.endswith,
        "contains": str.__contains__,
    }
    if operator not in checks:
        raise ValueError(f"unsupported pattern operator {operator!r}")
    return checks[operator](value, operand)


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: Mapping[str, Any]
    target: str  # what the rule delivers to (a function name in local mode)


class Bus:
    """Routes each event to the targets of every rule whose pattern matches it."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    def targets(self, event: Mapping[str, Any]) -> list[str]:
        return list(dict.fromkeys(r.target for r in self.rules if matches(r.pattern, event)))


def deliver_cross_account(
    event: Mapping[str, Any], hub_account_id: str, bus_name: str = "default"
) -> dict[str, Any]:
    """The event a member emitted, as the hub's bus `bus_name` receives it.

    Documented: a routed event carries `aliyunoriginalaccountid` = the source account. Our
    choices, the docs being silent: `aliyunaccountid` stays the member's (not rewritten to the
    receiver); `aliyuneventbusname` becomes the receiving bus; an event that already crossed
    once keeps its first origin; the region is kept (cross-region routing is contradicted in
    the docs); an event of the hub's own account is returned unchanged (no cross-account hop).
    """
    member = event.get("aliyunaccountid")
    if not isinstance(member, str) or not member:
        raise ValueError("the event names no aliyunaccountid: it was not emitted by an account")
    delivered = copy.deepcopy(dict(event))
    if member == hub_account_id:
        return delivered
    delivered["aliyunoriginalaccountid"] = event.get("aliyunoriginalaccountid") or member
    delivered["aliyuneventbusname"] = bus_name
    return delivered
