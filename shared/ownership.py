"""Ownership of bindings: the reserved tags rolebinder writes on the instances it binds.

When rolebinder attaches a role it first tags the instance `rolebinder:role=<role>`. Only a
binding whose marker names the bound role is rolebinder's to replace or detach; a role bound
by anyone else is left alone (`not-owned`), and a marker naming another role than the bound one
means someone changed the binding behind rolebinder's back (`contested`): it never fights back.
Pure: names and predicates only. Mapping rules may not read `rolebinder:` keys (the schema
refuses them), so a marker can never choose a role.
"""

from __future__ import annotations

from collections.abc import Iterable

RESERVED_PREFIX = "rolebinder:"
MARKER_KEY = RESERVED_PREFIX + "role"


def same_role(a: object, b: object) -> bool:
    """Whether two role names name the same RAM role: RAM names are case-insensitive, and ECS
    reports a bound role by its canonical name, whatever spelling the mapping or marker uses."""
    return isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower()


def is_reserved(key: object) -> bool:
    """Whether a tag key belongs to rolebinder (written by it alone, never matched by rules)."""
    return isinstance(key, str) and key.startswith(RESERVED_PREFIX)


def only_reserved(keys: Iterable[object]) -> bool:
    """True when `keys` is non-empty and every key is rolebinder's own (its marker writes)."""
    listed = list(keys)
    return bool(listed) and all(is_reserved(key) for key in listed)
