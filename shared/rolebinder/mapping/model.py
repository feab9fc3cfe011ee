"""The tag-to-role mapping: which roles rolebinder may manage and which instances get which role.

`load_mapping(path)`, `parse_mapping(text)` and `mapping_from_document(document)` return a frozen
`RoleMapping`, or raise one `MappingError` carrying every problem found, each at a path such as
`rules[1].when.tags.env`. Any other exception escaping from here is a bug: the loader is fuzzed.

Checks run in two passes, as in Cloud Custodian: the closed JSON Schema
(`schemas/mapping.schema.json`, see `rolebinder.mapping.schema`), then the semantic checks below
that
a schema cannot express. The format is documented for users in docs/MAPPING.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from rolebinder.errors import MappingError, Problem
from rolebinder.mapping import scoped_policy
from rolebinder.mapping.schema import Found, format_problems, names, schema_problems, show
from rolebinder.mapping.scoped_policy import compact
from rolebinder.mapping.scopes import SCOPES
from rolebinder.mapping.text import parse_text, read_text
from rolebinder.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any

KEEP = "keep"
REPLACE = "replace"
DETACH = "detach"
ANY_VALUE = "*"
ENFORCE = "enforce"
AUDIT = "audit"
DEFAULT_MAX_FLIPS = 3
DEFAULT_FLIP_WINDOW = 3600


class TagCondition(Value):
    """A tag the instance must have, with one of `values` (None: any value, written "*")."""

    key: str
    values: tuple[str, ...] | None


class Rule(Value):
    """One validated rule; a None scope is unrestricted; exactly one of role / role_from_tag."""

    name: str
    priority: int
    tags: tuple[TagCondition, ...]
    # (scope key, ids) for each scope of rolebinder.mapping.scopes the rule names, in SCOPES
    # order; a scope it does not name is unrestricted.
    scopes: tuple[tuple[str, frozenset[str]], ...]
    role: str | None
    role_from_tag: str | None
    # The roles a role_from_tag rule's tag may choose (None for a fixed-role rule): a tag is
    # never more powerful than the rule that reads it.
    allowed_roles: frozenset[str] | None = None
    mode: str | None = None  # enforce | audit; None: the mapping's
    # Compact JSON of the RAM policy narrowing the instance's credentials (AttachInstanceRamRole
    # `Policy`); None: the role's full permissions.
    policy: str | None = None

    def scope(self, key: str) -> frozenset[str] | None:
        """The ids the rule's `key` scope allows; None when it does not name that scope."""
        return dict(self.scopes).get(key)

    def may_grant(self, role: object) -> bool:
        """Whether this rule may lead to `role`: its fixed role, or one of its allowed_roles."""
        if self.role_from_tag is None:
            return role == self.role
        return isinstance(role, str) and role in (self.allowed_roles or ())


class Limits(Value):
    """Blast-radius limits: changes per run (None: unlimited) and flap damping per instance."""

    max_changes: int | None = None
    max_detaches: int | None = None
    max_flips: int = DEFAULT_MAX_FLIPS
    flip_window: int = DEFAULT_FLIP_WINDOW


class RoleMapping(Value):
    """A validated mapping: the role allow-list, the rules, and the policies."""

    version: int
    roles: tuple[str, ...]
    rules: tuple[Rule, ...]
    on_existing_role: str  # keep | replace
    on_no_match: str  # keep | detach
    # Treat allow-listed roles bound without rolebinder's marker as its own (migrations).
    adopt_unmarked: bool = False
    mode: str = ENFORCE  # the default of rules that name none
    limits: Limits = Limits()

    def mode_of(self, rule: Rule | None) -> str:
        """The mode a decision won by `rule` (None: no rule, e.g. a detach) runs in."""
        return (rule.mode if rule is not None else None) or self.mode

    def allows(self, role: str) -> bool:
        """Whether rolebinder may attach, replace or detach `role` (it is in the allow-list)."""
        return role in self.roles

    def manages(self, role: str) -> bool:
        """Whether a bound role (as ECS names it) is one of `roles`, in any case: RAM role names
        are case-insensitive, so `payments` in the mapping is ECS's `Payments`."""
        return role.lower() in {name.lower() for name in self.roles}


def load_mapping(path: str | os.PathLike[str]) -> RoleMapping:
    """Read, parse and validate a mapping file (JSON if it ends in .json, else YAML)."""
    try:
        source = os.fspath(path)
    except TypeError as exc:
        raise MappingError(repr(path), [Problem("", "is not a file path")]) from exc
    return parse_mapping(read_text(source), source)


def parse_mapping(text: str, source: str = "<mapping>") -> RoleMapping:
    """Parse YAML text (JSON when `source` ends in .json) and validate it as a mapping."""
    source = str(source)
    if not isinstance(text, str):
        raise MappingError(source, [Problem("", f"expected text, got {type(text).__name__}")])
    document = parse_text(text, source)
    if document is None:
        raise MappingError(source, [Problem("", "is empty: expected a mapping with version: 1")])
    return mapping_from_document(document, source)


def mapping_from_document(document: object, source: str = "<mapping>") -> RoleMapping:
    """Validate a parsed document (schema first, then semantic checks) into a RoleMapping."""
    try:
        found = schema_problems(document)
        if not found:
            mapping = _build(document)  # type: ignore[arg-type] - the schema vouches for the shape
            found = _semantic_problems(mapping)
            if not found:
                return mapping
        problems = format_problems(document, found)
    except RecursionError as exc:  # the depth guard in schema_problems makes this a last resort
        raise MappingError(source, [Problem("", "is nested too deeply")]) from exc
    raise MappingError(source, problems)


def _build(document: dict[str, Any]) -> RoleMapping:
    return RoleMapping(
        version=int(document["version"]),
        roles=tuple(document["roles"]),
        rules=tuple(_build_rule(raw) for raw in document["rules"]),
        on_existing_role=document.get("on_existing_role", KEEP),
        on_no_match=document.get("on_no_match", KEEP),
        adopt_unmarked=bool(document.get("adopt_unmarked", False)),
        mode=document.get("mode", ENFORCE),
        limits=Limits(**document.get("limits", {})),
    )


def _build_rule(raw: dict[str, Any]) -> Rule:
    when = raw["when"]
    return Rule(
        name=raw["name"],
        priority=int(raw.get("priority", 0)),  # int(): JSON Schema counts 100.0 as an integer
        tags=tuple(_condition(key, match) for key, match in when.get("tags", {}).items()),
        scopes=tuple((s.key, frozenset(when[s.key])) for s in SCOPES if s.key in when),
        role=raw.get("role"),
        role_from_tag=raw.get("role_from_tag"),
        allowed_roles=frozenset(raw["allowed_roles"]) if "allowed_roles" in raw else None,
        mode=raw.get("mode"),
        policy=compact(raw["policy"]) if "policy" in raw else None,
    )


def _condition(key: str, match: str | list[str]) -> TagCondition:
    if isinstance(match, str):
        return TagCondition(key, None if match == ANY_VALUE else (match,))
    return TagCondition(key, tuple(match))


def _semantic_problems(mapping: RoleMapping) -> list[Found]:
    """Rules the schema cannot express (cf. Cloud Custodian's check_unique)."""
    return [
        *_duplicate_names(mapping),
        *_unlisted_roles(mapping),
        *_rule_authority(mapping),
        *_rule_policies(mapping),
        *_unlisted_tag_values(mapping),
        *_certain_conflicts(mapping),
    ]


def _duplicate_names(mapping: RoleMapping) -> Iterator[Found]:
    first: dict[str, int] = {}
    for index, rule in enumerate(mapping.rules):
        if rule.name in first:
            also = f"rules[{first[rule.name]}].name"
            yield ("rules", index, "name"), f"duplicate rule name {show(rule.name)} (also {also})"
        first.setdefault(rule.name, index)


def _unlisted_roles(mapping: RoleMapping) -> Iterator[Found]:
    for index, rule in enumerate(mapping.rules):
        if rule.role is not None and not mapping.allows(rule.role):
            text = (
                f"role {show(rule.role)} is not in roles (the allow-list: {names(mapping.roles)})"
            )
            yield ("rules", index, "role"), text


def _rule_authority(mapping: RoleMapping) -> Iterator[Found]:
    """A role_from_tag rule names the roles its tag may choose, all of them in the allow-list."""
    for index, rule in enumerate(mapping.rules):
        if rule.role_from_tag is not None and rule.allowed_roles is None:
            text = (
                f"rule {show(rule.name)} uses role_from_tag but does not say which roles its tag "
                f"may choose: add allowed_roles: [{', '.join(mapping.roles[:3])}] listing only "
                f"the roles this tag may grant (a subset of roles: {names(mapping.roles)})"
            )
            yield ("rules", index, "allowed_roles"), text
        elif rule.role_from_tag is None and rule.allowed_roles is not None:
            text = "only applies to role_from_tag rules; a fixed-role rule grants its role alone"
            yield ("rules", index, "allowed_roles"), text
        for role in sorted(rule.allowed_roles or ()):
            if not mapping.allows(role):
                text = f"role {show(role)} is not in roles (the allow-list: {names(mapping.roles)})"
                yield ("rules", index, "allowed_roles"), text


def _rule_policies(mapping: RoleMapping) -> Iterator[Found]:
    """A rule's policy must be a RAM policy document AttachInstanceRamRole accepts."""
    for index, rule in enumerate(mapping.rules):
        for problem in scoped_policy.problems(rule.policy) if rule.policy is not None else ():
            yield ("rules", index, "policy"), problem


def _unlisted_tag_values(mapping: RoleMapping) -> Iterator[Found]:
    """A role_from_tag rule that lists accepted values of that tag must list grantable roles."""
    for index, rule in enumerate(mapping.rules):
        for condition in rule.tags:
            if condition.key != rule.role_from_tag or condition.values is None:
                continue
            for value in condition.values:
                in_rule = rule.allowed_roles is None or value in rule.allowed_roles
                if not (mapping.allows(value) and in_rule):
                    text = (
                        f"value {show(value)} names a role (role_from_tag) that is not in this "
                        "rule's allowed_roles or in roles; it would always be refused"
                    )
                    yield ("rules", index, "when", "tags", condition.key), text


def _certain_conflicts(mapping: RoleMapping) -> Iterator[Found]:
    """Fixed-role rules with identical conditions and priority but different roles always tie."""
    first: dict[tuple[Any, ...], int] = {}
    for index, rule in enumerate(mapping.rules):
        if rule.role is None:
            continue
        tags = frozenset(
            (c.key, None if c.values is None else frozenset(c.values)) for c in rule.tags
        )
        key = (rule.priority, tags, rule.scopes)
        other = first.setdefault(key, index)
        if other != index and mapping.rules[other].role != rule.role:
            text = (
                f"has the same conditions and priority as rules[{other}] but a different role "
                f"({mapping.rules[other].role} vs {rule.role}): instances matching them would "
                "always be skipped as conflicting"
            )
            yield ("rules", index), text
