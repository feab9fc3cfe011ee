"""A local EventBridge: rules with event patterns, delivering to targets (local mode, tests).

Pattern semantics (EventBridge "event patterns" doc): a pattern has the event's nesting; keys are
ANDed, the values listed for one key are ORed; matching is exact and case-sensitive. Supported
value forms: a literal string/number/bool/null, {"prefix": s}, {"suffix": s}, {"contains": s},
{"anything-but": value or list}, {"exists": bool}. Not modelled: numeric and cidr matching.
"""

from __future__ import annotations

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
