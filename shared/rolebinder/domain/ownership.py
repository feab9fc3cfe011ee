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
# When rolebinder last changed the instance's role: epoch seconds, comma-separated, newest
# last. Kept on the instance, so flap damping holds across function instances.
CHANGES_KEY = RESERVED_PREFIX + "changes"
# Which rolebinder deployment wrote the marker (ROLEBINDER_DEPLOYMENT): two deployments in one
# account never treat each other's bindings as their own, so they cannot fight over one.
OWNER_KEY = RESERVED_PREFIX + "owner"
# The deployment a marker without an owner tag is taken to belong to.
DEFAULT_DEPLOYMENT = "rolebinder"
# How far in the future a recorded change may lie and still count (clock skew between FC
# instances); anything later is treated as forged and ignored.
_SKEW = 300


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


def recent_changes(value: str | None, now: float, window: float) -> list[int]:
    """The change times of a `rolebinder:changes` value within `window` seconds of `now`.

    Unreadable entries are dropped: the tag is rolebinder's own, and a damaged one must not
    stop rolebinder from binding (the guard policy keeps others from writing it).
    """
    times = []
    for entry in (value or "").split(","):
        if entry.isdigit() and len(entry) <= 12 and now - window <= int(entry) <= now + _SKEW:
            times.append(int(entry))
    return sorted(times)


def with_change(value: str | None, now: float, window: float, keep: int) -> str:
    """The `rolebinder:changes` value after one more change at `now`: the last `keep` times."""
    times = [*recent_changes(value, now, window), int(now)]
    return ",".join(str(t) for t in times[-keep:])
