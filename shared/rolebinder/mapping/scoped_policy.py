"""A rule's down-scoped credentials: the RAM policy passed as AttachInstanceRamRole's `Policy`.

`AttachInstanceRamRole` takes an optional policy document that narrows what the instance's
credentials may do with the role (docs/research/api-facts.md section 1.1: 1-1024 characters).
Pure: `compact` turns a mapping's `policy:` (a mapping or JSON text) into the one compact JSON
text rolebinder sends; `problems` says, in operator words, what is wrong with it.
"""

from __future__ import annotations

import json

from rolebinder.mapping.schema import show

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any

MAX_POLICY_CHARS = 1024
_STATEMENT_KEYS = frozenset(
    {"Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)


def compact(value: object) -> str:
    """The policy as compact JSON text (JSON text is re-encoded; unparsable text is kept)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def problems(text: str) -> list[str]:
    """Everything wrong with a compact policy text; [] when RAM would accept its shape."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return ["is not valid JSON (write the policy as a mapping, or as JSON text)"]
    found = _document_problems(document)
    if len(text) > MAX_POLICY_CHARS:
        found.append(
            f"is {len(text)} characters as compact JSON; AttachInstanceRamRole accepts at most "
            f"{MAX_POLICY_CHARS}"
        )
    return found


def _document_problems(document: Any) -> list[str]:
    if not isinstance(document, dict):
        return ["must be a policy document: {Version: '1', Statement: [...]}"]
    found = []
    if document.get("Version") != "1":
        found.append('Version must be "1" (a string)')
    extra = sorted(map(str, set(document) - {"Version", "Statement"}))
    if extra:
        found.append(f"unknown key(s) {_names(extra)} (allowed: Version, Statement)")
    statements = document.get("Statement")
    if not isinstance(statements, list) or not statements:
        return [*found, "Statement must be a non-empty list of statements"]
    for index, statement in enumerate(statements):
        found += [f"Statement[{index}]: {p}" for p in _statement_problems(statement)]
    return found


def _statement_problems(statement: Any) -> list[str]:
    if not isinstance(statement, dict):
        return ["must be a mapping with Effect, Action and Resource"]
    found = []
    if statement.get("Effect") not in ("Allow", "Deny"):
        found.append("Effect must be Allow or Deny")
    extra = sorted(map(str, set(statement) - _STATEMENT_KEYS))
    if extra:
        found.append(f"unknown key(s) {_names(extra)}")
    for field, negated in (("Action", "NotAction"), ("Resource", "NotResource")):
        given = [key for key in (field, negated) if key in statement]
        if len(given) != 1:
            found.append(f"needs exactly one of {field} or {negated}")
        elif not _strings(statement[given[0]]):
            found.append(f"{given[0]} must be a string or a non-empty list of strings")
    if "Condition" in statement and not isinstance(statement["Condition"], dict):
        found.append("Condition must be a mapping")
    return found


def _strings(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)


def _names(keys: list[str]) -> str:
    # Keys come from the file: quoted and escaped (show), so a control character or a huge key
    # cannot break the one-line message.
    return ", ".join(show(key) for key in keys[:10]) + (", ..." if len(keys) > 10 else "")
