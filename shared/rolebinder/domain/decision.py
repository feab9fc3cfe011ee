"""The pure decision: which instance RAM role an instance should have, and what to do about it.

Plain values in (an `Instance` read from the API and a validated `RoleMapping`), a `Decision`
out: no I/O, no logging, no clock, and it never raises. `evaluate` also says why each rule did or
did not match, for `rolebinder explain`. The decision table is documented in docs/MAPPING.md.
"""

from __future__ import annotations

from enum import Enum

from rolebinder.domain import reasons
from rolebinder.domain.instance import Instance
from rolebinder.domain.ownership import DEFAULT_DEPLOYMENT, same_role
from rolebinder.mapping.model import (
    AUDIT,
    DETACH,
    ENFORCE,
    REPLACE,
    RoleMapping,
    Rule,
    TagCondition,
)
from rolebinder.mapping.scopes import SCOPES
from rolebinder.value import Value


class Action(str, Enum):
    """What the engine does for one instance."""

    ATTACH = "attach"
    REPLACE = "replace"  # detach the current role, then attach the desired one
    DETACH = "detach"
    UNCHANGED = "unchanged"  # already has the desired role: no API write
    SKIP = "skip"  # nothing is written; `reason` says why


class Decision(Value):
    """The outcome of `decide`: the action, the roles involved, why, and which rule won."""

    action: Action
    role: str | None  # the desired role, also when skipped, if one was resolved
    previous_role: str | None  # the instance's current role
    reason: str  # one of rolebinder.domain.reasons
    rule: str | None  # the winning rule's name
    detail: str  # one human sentence for the outcome line
    mode: str = ENFORCE  # audit: decided and logged, never written
    policy: str | None = None  # the winning rule's down-scoping Policy for the attach

    @property
    def writes(self) -> bool:
        """Whether carrying this decision out changes the instance's binding."""
        return self.action in WRITE_ACTIONS


class RuleVerdict(Value):
    """One rule judged against one instance: matched or not, why, and the role it resolves to."""

    rule: Rule
    matched: bool
    why: str  # "matched", or the first condition that failed
    role: str | None


class Evaluation(Value):
    """Every rule's verdict, in mapping order, and the matched rules with the highest priority."""

    verdicts: tuple[RuleVerdict, ...]
    winners: tuple[RuleVerdict, ...]


def evaluate(instance: Instance, mapping: RoleMapping) -> Evaluation:
    """Judge every rule against the instance and pick the winners (top priority, ties all win)."""
    verdicts = tuple(_judge(rule, instance) for rule in mapping.rules)
    matched = [verdict for verdict in verdicts if verdict.matched]
    if not matched:
        return Evaluation(verdicts, ())
    top = max(verdict.rule.priority for verdict in matched)
    return Evaluation(verdicts, tuple(v for v in matched if v.rule.priority == top))


WRITE_ACTIONS = frozenset({Action.ATTACH, Action.REPLACE, Action.DETACH})


def decide(
    instance: Instance,
    mapping: RoleMapping,
    now: float | None = None,
    deployment: str = DEFAULT_DEPLOYMENT,
) -> Decision:
    """Decide what to do with the instance's RAM role under the mapping; never raises.

    `now` (epoch seconds) turns on flap damping: a write to an instance rolebinder already
    changed `limits.max_flips` times within `limits.flip_window` becomes a `flapping` skip.
    `deployment` is who is deciding: only bindings its own markers name are its to change.
    """
    winners = evaluate(instance, mapping).winners
    decision = _decide(instance, mapping, winners, deployment)
    decision = decision._replace(mode=_mode(mapping, winners, decision))
    if now is None or not decision.writes:
        return decision
    return _damped(instance, mapping, decision, now)


def _mode(mapping: RoleMapping, winners: tuple[RuleVerdict, ...], decision: Decision) -> str:
    # Any audited winner audits the decision: when in doubt, write nothing.
    if decision.rule is None or not winners:
        return mapping.mode
    modes = {mapping.mode_of(winner.rule) for winner in winners}
    return AUDIT if AUDIT in modes else ENFORCE


def _damped(instance: Instance, mapping: RoleMapping, decision: Decision, now: float) -> Decision:
    limits = mapping.limits
    changed = instance.changes_within(now, limits.flip_window)
    if changed < limits.max_flips:
        return decision
    detail = (
        f"rolebinder changed this instance {changed} times in the last {limits.flip_window} s "
        f"(limits.max_flips {limits.max_flips}): left alone until that window passes; "
        f"wanted: {decision.detail}"
    )
    return decision._replace(action=Action.SKIP, reason=reasons.FLAPPING, detail=detail)


def _decide(
    instance: Instance, mapping: RoleMapping, winners: tuple[RuleVerdict, ...], deployment: str
) -> Decision:
    if not instance.is_vpc:
        return _classic(instance, mapping, winners)
    if not winners:
        return _no_match(instance, mapping, deployment)
    refused = [winner for winner in winners if not _grantable(mapping, winner)]
    if refused:
        return _not_allowed(instance, refused[0])
    if len(_distinct_grants(winners)) > 1:
        return _conflict(instance, winners)
    return _bind(instance, mapping, winners, deployment)


# --- matching ------------------------------------------------------------------------------------


def _judge(rule: Rule, instance: Instance) -> RuleVerdict:
    miss = _first_miss(rule, instance)
    if miss is not None:
        return RuleVerdict(rule, False, miss, None)
    role = rule.role if rule.role_from_tag is None else instance.tags.get(rule.role_from_tag)
    return RuleVerdict(rule, True, "matched", role)


def _first_miss(rule: Rule, instance: Instance) -> str | None:
    """The first condition the instance fails, as a sentence; None when the rule matches."""
    for condition in rule.tags:
        miss = _tag_miss(condition, instance)
        if miss is not None:
            return miss
    if rule.role_from_tag is not None and rule.role_from_tag not in instance.tags:
        return f"tag {rule.role_from_tag} (role_from_tag) is missing"
    for scope in SCOPES:
        miss = _scope_miss(scope.noun, getattr(instance, scope.attribute), rule.scope(scope.key))
        if miss is not None:
            return miss
    return None


def _tag_miss(condition: TagCondition, instance: Instance) -> str | None:
    # Keys and values are case-sensitive, as ECS tags are.
    if condition.key not in instance.tags:
        return f"tag {condition.key} is missing"
    value = instance.tags[condition.key]
    if condition.values is None or value in condition.values:
        return None
    if len(condition.values) == 1:
        return f"tag {condition.key}: {value!r} is not {condition.values[0]!r}"
    return f"tag {condition.key}: {value!r} is not one of {', '.join(map(str, condition.values))}"


def _scope_miss(label: str, value: object, scope: frozenset[str] | None) -> str | None:
    if scope is None:
        return None
    if not isinstance(value, str) or not value:  # an unknown value never matches a scope
        return f"{label} unknown, so not in scope"
    if value in scope:
        return None
    return f"{label} {value} not in scope ({', '.join(sorted(map(str, scope)))})"


# --- deciding ------------------------------------------------------------------------------------


def _allowed(mapping: RoleMapping, role: object) -> bool:
    # Checked for fixed roles too: a RoleMapping built by hand skips the loader's checks.
    return isinstance(role, str) and mapping.allows(role)


def _managed(mapping: RoleMapping, current: object) -> bool:
    # The bound role as ECS names it (canonical case): one of `roles` whatever their spelling.
    return isinstance(current, str) and mapping.manages(current)


def _grantable(mapping: RoleMapping, winner: RuleVerdict) -> bool:
    """In the allow-list and within the winning rule's own authority (its allowed_roles)."""
    return _allowed(mapping, winner.role) and winner.rule.may_grant(winner.role)


def _distinct_roles(winners: tuple[RuleVerdict, ...]) -> list[str | None]:
    return list(dict.fromkeys(winner.role for winner in winners))


def _distinct_grants(winners: tuple[RuleVerdict, ...]) -> list[tuple[str | None, str | None]]:
    # The same role under two different policies is a conflict too: which would apply?
    return list(dict.fromkeys((winner.role, winner.rule.policy) for winner in winners))


def _names(winners: tuple[RuleVerdict, ...]) -> str:
    return ", ".join(winner.rule.name for winner in winners)


def _classic(
    instance: Instance, mapping: RoleMapping, winners: tuple[RuleVerdict, ...]
) -> Decision:
    roles = _distinct_roles(winners)
    # Report the role rolebinder would have attached, so the outcome line still shows intent.
    grantable = all(_grantable(mapping, winner) for winner in winners)
    role = roles[0] if len(roles) == 1 and grantable else None
    rule = winners[0].rule.name if role is not None else None
    detail = "classic-network instances cannot have an instance RAM role"
    return Decision(Action.SKIP, role, instance.role, reasons.CLASSIC_NETWORK, rule, detail)


def _no_match(instance: Instance, mapping: RoleMapping, deployment: str) -> Decision:
    current = instance.role

    def skip(reason: str, detail: str) -> Decision:
        return Decision(Action.SKIP, None, current, reason, None, detail)

    if current is None:
        return skip(reasons.NO_MATCHING_RULE, "no rule matched and the instance has no role")
    if mapping.on_no_match != DETACH:  # anything but "detach" keeps: the safe default
        return skip(reasons.NO_MATCHING_RULE, f"no rule matched; role {current} kept")
    if not _managed(mapping, current):
        detail = f"no rule matched; role {current} is not in the allow-list, so never touched"
        return skip(reasons.EXISTING_ROLE_KEPT, detail)
    refusal = _ownership_refusal(instance, mapping, "detach", deployment)
    if refusal is not None:
        return skip(*refusal)
    detail = f"no rule matched and on_no_match is detach: detach {current}"
    return Decision(Action.DETACH, None, current, reasons.NO_MATCHING_RULE, None, detail)


_PAST = {"detach": "detached", "replace": "replaced"}


def _ownership_refusal(
    instance: Instance, mapping: RoleMapping, verb: str, deployment: str
) -> tuple[str, str] | None:
    """(reason, detail) when the current binding is not this deployment's to change, else None."""
    current = instance.role
    if instance.contested(deployment):
        detail = (
            f"{current} was bound by the rolebinder deployment {instance.owner()!r}, not this "
            f"one ({deployment!r}), so this one will not {verb} it"
            if instance.owner() != deployment
            else f"rolebinder bound {instance.marker} but the instance now has {current}: "
            f"someone else changed it, so rolebinder will not {verb} it (resolve by hand, then "
            "`rolebinder adopt`)"
        )
        return reasons.CONTESTED, detail
    if not instance.owned_by_rolebinder(mapping.adopt_unmarked, deployment):
        detail = (
            f"role {current} was not bound by rolebinder (no rolebinder:role marker), so it is "
            f"never {_PAST[verb]} (`rolebinder adopt` or adopt_unmarked: true hands it over)"
        )
        return reasons.NOT_OWNED, detail
    return None


def _not_allowed(instance: Instance, refused: RuleVerdict) -> Decision:
    # Security: a tag must not be able to name an arbitrary role (e.g. an admin role).
    rule = refused.rule
    if rule.role_from_tag is not None:
        detail = (
            f"tag {rule.role_from_tag}={refused.role!r} (rule {rule.name}) names a role outside "
            "the rule's allowed_roles"
        )
    else:
        detail = f"rule {rule.name} names role {refused.role!r} that is not in the allow-list"
    detail += "; nothing is attached"
    role = refused.role if isinstance(refused.role, str) else None
    return Decision(Action.SKIP, role, instance.role, reasons.ROLE_NOT_ALLOWED, rule.name, detail)


def _conflict(instance: Instance, winners: tuple[RuleVerdict, ...]) -> Decision:
    named = ", ".join(f"{winner.rule.name} -> {winner.role}" for winner in winners)
    priority = winners[0].rule.priority
    what = "roles" if len(_distinct_roles(winners)) > 1 else "policies for the same role"
    detail = f"rules tied at priority {priority} name different {what}: {named}"
    return Decision(Action.SKIP, None, instance.role, reasons.CONFLICTING_RULES, None, detail)


def _bind(
    instance: Instance, mapping: RoleMapping, winners: tuple[RuleVerdict, ...], deployment: str
) -> Decision:
    role, current, rule = winners[0].role, instance.role, winners[0].rule.name
    matched = f"rule {rule} matched" if len(winners) == 1 else f"rules {_names(winners)} matched"

    policy = winners[0].rule.policy

    def decision(action: Action, reason: str, detail: str) -> Decision:
        return Decision(action, role, current, reason, rule, f"{matched}; {detail}", policy=policy)

    if current is None:
        return decision(Action.ATTACH, reasons.RULE_MATCHED, f"attach {role}")
    if same_role(current, role):
        return decision(Action.UNCHANGED, reasons.ALREADY_BOUND, f"{role} is already attached")
    if mapping.on_existing_role != REPLACE:  # anything but "replace" keeps: the safe default
        detail = f"instance has role {current} and on_existing_role is keep"
        return decision(Action.SKIP, reasons.EXISTING_ROLE_KEPT, detail)
    if not _managed(mapping, current):
        detail = f"instance has role {current}, which is not in the allow-list, so never replaced"
        return decision(Action.SKIP, reasons.EXISTING_ROLE_KEPT, detail)
    refusal = _ownership_refusal(instance, mapping, "replace", deployment)
    if refusal is not None:
        return decision(Action.SKIP, *refusal)
    return decision(Action.REPLACE, reasons.RULE_MATCHED, f"replace {current} with {role}")
