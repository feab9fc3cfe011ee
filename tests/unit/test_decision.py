"""The pure decision: rule matching, precedence, policies and the full decision table."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rolebinder.domain import reasons
from rolebinder.domain.decision import Action, Decision, decide, evaluate
from rolebinder.domain.instance import CLASSIC, VPC, Instance
from rolebinder.mapping.model import (
    RoleMapping,
    Rule,
    TagCondition,
    mapping_from_document,
    parse_mapping,
)
from rolebinder.mapping.scopes import SCOPES

# Reader and Pay are managed (the allow-list); Admin never is.
MAPPING = parse_mapping(
    """
    version: 1
    roles: [Reader, Pay, Ops]
    rules:
      - {name: pay, priority: 100, when: {tags: {team: pay}}, role: Pay}
      - name: by-tag
        priority: 50
        when: {tags: {ram-role: "*"}}
        role_from_tag: ram-role
        allowed_roles: [Reader, Pay]
      - {name: legacy, priority: 50, when: {tags: {legacy: "*"}}, role: Reader}
      - {name: gpu, priority: 20, when: {tags: {gpu: "*"}}, role: Reader}
      - {name: ml, priority: 20, when: {tags: {ml: "*"}}, role: Pay}
      - {name: bi, priority: 20, when: {tags: {bi: "*"}}, role: Reader}
      - {name: owned, when: {tags: {owner: "*"}}, role: Reader}
    """
)


def instance(
    tags: dict[str, str] | None = None,
    role: str | None = None,
    network: str = VPC,
    **fields: Any,
) -> Instance:
    values: dict[str, Any] = {
        "instance_id": "i-bp1test",
        "region": "cn-hangzhou",
        "network_type": network,
        "status": "Running",
        "tags": tags or {},
        "vpc_id": "vpc-bp1main" if network == VPC else None,
        "resource_group_id": "rg-acfmmain",
        "role": role,
    }
    return Instance(**{**values, **fields})


def policy(existing_and_no_match: str) -> RoleMapping:
    """MAPPING with its policies set from "on_existing_role/on_no_match", e.g. "replace/keep"."""
    on_existing_role, on_no_match = existing_and_no_match.split("/")
    return MAPPING._replace(on_existing_role=on_existing_role, on_no_match=on_no_match)


SKIP, ATTACH, REPLACE, DETACH, UNCHANGED = (
    Action.SKIP,
    Action.ATTACH,
    Action.REPLACE,
    Action.DETACH,
    Action.UNCHANGED,
)
MATCHED, BOUND, CLASSIC_NET = reasons.RULE_MATCHED, reasons.ALREADY_BOUND, reasons.CLASSIC_NETWORK
NO_RULE, KEPT = reasons.NO_MATCHING_RULE, reasons.EXISTING_ROLE_KEPT
REFUSED, CONFLICT = reasons.ROLE_NOT_ALLOWED, reasons.CONFLICTING_RULES
NOT_OWNED, CONTESTED = reasons.NOT_OWNED, reasons.CONTESTED
MINE_PAY, MINE_READER = {"rolebinder:role": "Pay"}, {"rolebinder:role": "Reader"}
PAY = {"team": "pay"}
PAY_MR, PAY_MP = {**PAY, **MINE_READER}, {**PAY, **MINE_PAY}  # marker names Reader / Pay
FOREIGN = {"ram-role": "Admin"}  # a tag naming a role outside the allow-list
TIE = {"gpu": "a", "ml": "b"}  # two rules at priority 20 naming different roles
AGREE = {"gpu": "a", "bi": "b"}  # two rules at priority 20 naming the same role
TAG_PAY, TAG_READER = {"ram-role": "Pay"}, {"ram-role": "Reader"}
LEGACY, OWNED = {"legacy": "y"}, {"owner": "x"}
FOREIGN_TIE, READER_TIE = {**FOREIGN, **LEGACY}, {**TAG_READER, **LEGACY}  # by-tag ties legacy
KK, KD, RK, RD = "keep/keep", "keep/detach", "replace/keep", "replace/detach"

# id, tags, network, current role, policy, action, role, previous_role, reason, rule
MATRIX: list[tuple[Any, ...]] = [
    # 1. classic network: always skipped; the desired role is still reported
    ("classic", PAY, CLASSIC, None, KK, SKIP, "Pay", None, CLASSIC_NET, "pay"),
    ("classic, has role", PAY, CLASSIC, "Reader", RD, SKIP, "Pay", "Reader", CLASSIC_NET, "pay"),
    ("classic, no rule", {}, CLASSIC, "Pay", KD, SKIP, None, "Pay", CLASSIC_NET, None),
    ("classic, foreign tag", FOREIGN, CLASSIC, None, KK, SKIP, None, None, CLASSIC_NET, None),
    ("classic, conflict", TIE, CLASSIC, None, KK, SKIP, None, None, CLASSIC_NET, None),
    # 2. no rule matches
    ("no rule, no role", {"env": "prod"}, VPC, None, KK, SKIP, None, None, NO_RULE, None),
    ("no rule, no role, detach", {}, VPC, None, RD, SKIP, None, None, NO_RULE, None),
    ("no rule, keep", {}, VPC, "Pay", KK, SKIP, None, "Pay", NO_RULE, None),
    ("no rule, keep, foreign", {}, VPC, "Admin", KK, SKIP, None, "Admin", NO_RULE, None),
    ("no rule, detach", MINE_PAY, VPC, "Pay", KD, DETACH, None, "Pay", NO_RULE, None),
    ("no rule, detach, unmarked", {}, VPC, "Pay", KD, SKIP, None, "Pay", NOT_OWNED, None),
    ("no rule, detach, contested", MINE_READER, VPC, "Pay", KD, SKIP, None, "Pay", CONTESTED, None),
    ("no rule, detach, foreign", {}, VPC, "Admin", RD, SKIP, None, "Admin", KEPT, None),
    # 3. a winning role_from_tag names a role outside the allow-list
    ("foreign tag", FOREIGN, VPC, None, KK, SKIP, "Admin", None, REFUSED, "by-tag"),
    ("foreign tag, has role", FOREIGN, VPC, "Pay", RD, SKIP, "Admin", "Pay", REFUSED, "by-tag"),
    ("foreign before tie", FOREIGN_TIE, VPC, None, KK, SKIP, "Admin", None, REFUSED, "by-tag"),
    ("foreign tag loses", {**FOREIGN, **PAY}, VPC, None, KK, ATTACH, "Pay", None, MATCHED, "pay"),
    ("case-sensitive", {"ram-role": "pay"}, VPC, None, KK, SKIP, "pay", None, REFUSED, "by-tag"),
    ("outside the rule", {"ram-role": "Ops"}, VPC, None, KK, SKIP, "Ops", None, REFUSED, "by-tag"),
    # 4. winners disagree
    ("tie", TIE, VPC, None, KK, SKIP, None, None, CONFLICT, None),
    ("tie, has role", TIE, VPC, "Pay", RD, SKIP, None, "Pay", CONFLICT, None),
    ("tie, tag vs fixed", {**TAG_PAY, **LEGACY}, VPC, None, KK, SKIP, None, None, CONFLICT, None),
    ("tie, same role", AGREE, VPC, None, KK, ATTACH, "Reader", None, MATCHED, "gpu"),
    ("tie, tag agrees", READER_TIE, VPC, None, KK, ATTACH, "Reader", None, MATCHED, "by-tag"),
    ("priority ends tie", {**TIE, **PAY}, VPC, None, KK, ATTACH, "Pay", None, MATCHED, "pay"),
    # 5. one desired role
    ("attach", PAY, VPC, None, KK, ATTACH, "Pay", None, MATCHED, "pay"),
    ("attach from tag", TAG_READER, VPC, None, KK, ATTACH, "Reader", None, MATCHED, "by-tag"),
    ("bound", PAY, VPC, "Pay", KD, UNCHANGED, "Pay", "Pay", BOUND, "pay"),
    ("bound, replace", PAY, VPC, "Pay", RK, UNCHANGED, "Pay", "Pay", BOUND, "pay"),
    ("other, keep", PAY, VPC, "Reader", KK, SKIP, "Pay", "Reader", KEPT, "pay"),
    ("other, replace", PAY_MR, VPC, "Reader", RK, REPLACE, "Pay", "Reader", MATCHED, "pay"),
    ("other, replace, unmarked", PAY, VPC, "Reader", RK, SKIP, "Pay", "Reader", NOT_OWNED, "pay"),
    ("other, replace, contested", PAY_MP, VPC, "Reader", RK, SKIP, "Pay", "Reader", CONTESTED,
     "pay"),
    ("attach over stale marker", PAY_MR, VPC, None, KK, ATTACH, "Pay", None, MATCHED, "pay"),
    ("foreign, keep", PAY, VPC, "Admin", KK, SKIP, "Pay", "Admin", KEPT, "pay"),
    ("foreign, replace", PAY, VPC, "Admin", RD, SKIP, "Pay", "Admin", KEPT, "pay"),
    ("priority over order", {**OWNED, **PAY}, VPC, None, KK, ATTACH, "Pay", None, MATCHED, "pay"),
    ("low priority alone", {**OWNED, **MINE_PAY}, VPC, "Pay", RK, REPLACE, "Reader", "Pay", MATCHED,
     "owned"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tags", "network", "current", "policies", "action", "role", "previous", "reason", "rule"),
    [case[1:] for case in MATRIX],
    ids=[case[0] for case in MATRIX],
)
def test_decision_matrix(
    tags: dict[str, str],
    network: str,
    current: str | None,
    policies: str,
    action: Action,
    role: str | None,
    previous: str | None,
    reason: str,
    rule: str | None,
) -> None:
    # GIVEN an instance and a mapping policy
    subject = instance(tags, current, network)
    # WHEN
    decision = decide(subject, policy(policies))
    # THEN
    assert (decision.action, decision.role, decision.previous_role) == (action, role, previous)
    assert (decision.reason, decision.rule) == (reason, rule)
    assert decision.detail


@pytest.mark.parametrize(
    ("tags", "current", "policies", "detail"),
    [
        ({}, "Pay", KK, "no rule matched; role Pay kept"),
        ({}, "Admin", KD, "Admin is not in the allow-list, so never touched"),
        (MINE_PAY, "Pay", KD, "on_no_match is detach: detach Pay"),
        ({}, "Pay", KD, "role Pay was not bound by rolebinder (no rolebinder:role marker)"),
        (MINE_READER, "Pay", KD, "rolebinder bound Reader but the instance now has Pay"),
        (FOREIGN, None, KK, "tag ram-role='Admin' (rule by-tag) names a role outside the rule"),
        (TIE, None, KK, "priority 20 name different roles: gpu -> Reader, ml -> Pay"),
        (AGREE, None, KK, "rules gpu, bi matched; attach Reader"),
        (PAY, "Admin", RK, "Admin, which is not in the allow-list, so never replaced"),
        ({**PAY, **MINE_READER}, "Reader", RK, "rule pay matched; replace Reader with Pay"),
        (PAY, "Pay", KK, "Pay is already attached"),
        (PAY, "Reader", KK, "instance has role Reader and on_existing_role is keep"),
    ],
)
def test_detail_explains_the_decision(
    tags: dict[str, str], current: str | None, policies: str, detail: str
) -> None:
    decision = decide(instance(tags, current), policy(policies))
    assert detail in decision.detail


# --- matching ------------------------------------------------------------------------------------


def scoped_mapping(when: dict[str, Any]) -> RoleMapping:
    return mapping_from_document(
        {
            "version": 1,
            "roles": ["Reader", "Pay"],
            "rules": [{"name": "only", "when": when, "role": "Pay"}],
        }
    )


@pytest.mark.parametrize(
    ("when", "tags", "matched"),
    [
        ({"tags": {"env": "prod"}}, {"env": "prod"}, True),
        ({"tags": {"env": "prod"}}, {"env": "Prod"}, False),  # values are case-sensitive
        ({"tags": {"env": "prod"}}, {"Env": "prod"}, False),  # keys too
        ({"tags": {"env": "prod"}}, {"env": "prod2"}, False),  # exact, not a prefix
        ({"tags": {"env": ["prod", "qa"]}}, {"env": "qa"}, True),
        ({"tags": {"env": ["prod", "qa"]}}, {"env": "dev"}, False),
        ({"tags": {"env": "*"}}, {"env": ""}, True),  # present with an empty value
        ({"tags": {"env": "*"}}, {"other": "x"}, False),
        ({"tags": {"env": ""}}, {"env": ""}, True),
        ({"tags": {"env": "prod", "team": "*"}}, {"env": "prod"}, False),  # all keys must match
        ({"tags": {"env": "prod", "team": "*"}}, {"env": "prod", "team": "a", "x": "y"}, True),
    ],
)
def test_tag_matching(when: dict[str, Any], tags: dict[str, str], matched: bool) -> None:
    (verdict,) = evaluate(instance(tags), scoped_mapping(when)).verdicts
    assert verdict.matched is matched
    assert verdict.role == ("Pay" if matched else None)


@pytest.mark.parametrize(
    ("when", "fields", "matched"),
    [
        ({"regions": ["cn-hangzhou", "cn-shanghai"]}, {}, True),
        ({"regions": ["cn-shanghai"]}, {}, False),
        ({"vpc_ids": ["vpc-bp1main"]}, {}, True),
        ({"vpc_ids": ["vpc-bp1other"]}, {}, False),
        ({"vpc_ids": ["vpc-bp1main"]}, {"vpc_id": None}, False),
        ({"resource_group_ids": ["rg-acfmmain"]}, {}, True),
        ({"resource_group_ids": ["rg-acfmother"]}, {}, False),
        ({"resource_group_ids": ["rg-acfmmain"]}, {"resource_group_id": None}, False),
        ({"regions": ["cn-hangzhou"], "vpc_ids": ["vpc-bp1other"]}, {}, False),
        ({"tags": {"env": "*"}, "regions": ["cn-hangzhou"]}, {"tags": {"env": "x"}}, True),
        ({"tags": {"env": "*"}, "regions": ["cn-beijing"]}, {"tags": {"env": "x"}}, False),
    ],
)
def test_scope_matching(when: dict[str, Any], fields: dict[str, Any], matched: bool) -> None:
    subject = instance(**fields)
    decision = decide(subject, scoped_mapping(when))
    assert decision.action is (Action.ATTACH if matched else Action.SKIP)


def test_role_from_tag_requires_the_tag_even_when_other_conditions_match() -> None:
    # GIVEN a rule conditioned on team whose role comes from another tag
    mapping = mapping_from_document(
        {
            "version": 1,
            "roles": ["Pay"],
            "rules": [
                {
                    "name": "r",
                    "when": {"tags": {"team": "*"}},
                    "role_from_tag": "ram-role",
                    "allowed_roles": ["Pay"],
                }
            ],
        }
    )
    # WHEN / THEN without the tag it does not match; with it, the tag's value is the role
    (missing,) = evaluate(instance({"team": "a"}), mapping).verdicts
    assert (missing.matched, missing.why) == (False, "tag ram-role (role_from_tag) is missing")
    (present,) = evaluate(instance({"team": "a", "ram-role": "Pay"}), mapping).verdicts
    assert (present.matched, present.role) == (True, "Pay")


# --- evaluate (rolebinder explain) ---------------------------------------------------------------

EXPLAINED = parse_mapping(
    """
    version: 1
    roles: [Reader, Pay]
    rules:
      - {name: prod, priority: 5, when: {tags: {env: [prod, staging]}}, role: Pay}
      - {name: exact, when: {tags: {env: prod}}, role: Pay}
      - {name: team, when: {tags: {team: "*"}}, role: Reader}
      - {name: region, when: {regions: [cn-hangzhou, cn-shanghai]}, role: Reader}
      - {name: vpc, when: {vpc_ids: [vpc-bp1main]}, role: Reader}
      - {name: group, when: {resource_group_ids: [rg-acfmmain]}, role: Reader}
      - {name: by-tag, when: {tags: {owner: "*"}}, role_from_tag: ram-role, allowed_roles: [Reader]}
    """
)


def test_evaluate_explains_every_rule() -> None:
    # GIVEN a dev instance in cn-beijing without a VPC id
    subject = instance({"env": "dev", "owner": "x"}, region="cn-beijing", vpc_id=None)
    # WHEN
    evaluation = evaluate(subject, EXPLAINED)
    # THEN every rule says why, in mapping order
    assert [(v.rule.name, v.matched, v.why) for v in evaluation.verdicts] == [
        ("prod", False, "tag env: 'dev' is not one of prod, staging"),
        ("exact", False, "tag env: 'dev' is not 'prod'"),
        ("team", False, "tag team is missing"),
        ("region", False, "region cn-beijing not in scope (cn-hangzhou, cn-shanghai)"),
        ("vpc", False, "VPC unknown, so not in scope"),
        ("group", True, "matched"),
        ("by-tag", False, "tag ram-role (role_from_tag) is missing"),
    ]
    assert [v.rule.name for v in evaluation.winners] == ["group"]


def test_winners_are_the_matched_rules_with_the_top_priority() -> None:
    subject = instance({"env": "prod", "team": "a"})
    evaluation = evaluate(subject, EXPLAINED)
    assert [v.rule.name for v in evaluation.verdicts if v.matched] == [
        "prod",
        "exact",
        "team",
        "region",
        "vpc",
        "group",
    ]
    assert [(v.rule.name, v.role) for v in evaluation.winners] == [("prod", "Pay")]


def test_ties_all_win_in_mapping_order() -> None:
    subject = instance({"team": "a"})
    winners = evaluate(subject, EXPLAINED).winners
    assert [v.rule.name for v in winners] == ["team", "region", "vpc", "group"]
    assert decide(subject, EXPLAINED).rule == "team"


def test_no_rules_match_gives_no_winners() -> None:
    evaluation = evaluate(
        instance(region="us-west-1", vpc_id=None, resource_group_id=None), EXPLAINED
    )
    assert evaluation.winners == ()
    assert not any(verdict.matched for verdict in evaluation.verdicts)


# --- defensive behaviour -------------------------------------------------------------------------


def hand_made(
    role: str | None,
    roles: tuple[str, ...] = ("Reader",),
    existing: str = "keep",
    no_match: str = "keep",
) -> RoleMapping:
    """A RoleMapping built without the loader: one rule matching any instance with tag `a`."""
    rule = Rule("r", 0, (TagCondition("a", None),), (), role, None)
    return RoleMapping(1, roles, (rule,), existing, no_match)


def test_a_fixed_role_outside_the_allow_list_is_refused_too() -> None:
    # A RoleMapping built by hand skips the loader's checks; the decision still holds the line.
    decision = decide(instance({"a": "1"}), hand_made("Admin"))
    assert (decision.action, decision.reason) == (Action.SKIP, reasons.ROLE_NOT_ALLOWED)


def test_unknown_policy_values_mean_keep() -> None:
    replace_typo = hand_made("Reader", ("Reader", "Pay"), existing="Replace")
    assert decide(instance({"a": "1"}, "Pay"), replace_typo).action is Action.SKIP
    detach_typo = hand_made("Reader", ("Reader", "Pay"), no_match="yes")
    assert decide(instance({}, "Pay"), detach_typo).action is Action.SKIP


def test_an_unknown_network_type_is_treated_as_classic() -> None:
    decision = decide(instance({"a": "1"}, network="", vpc_id="vpc-1"), hand_made("Reader"))
    assert decision.reason == reasons.CLASSIC_NETWORK


def test_the_decision_is_a_frozen_value() -> None:
    decision = decide(instance(PAY), MAPPING)
    assert decision == Decision(
        Action.ATTACH, "Pay", None, reasons.RULE_MATCHED, "pay", decision.detail
    )
    assert Action.ATTACH == "attach"  # str-valued: serialises as-is in outcome lines
    with pytest.raises(AttributeError):
        decision.role = "Admin"  # type: ignore[misc]


ROLES = ["Reader", "Pay", "Admin", "Legacy"]
KEYS = ["team", "env", "ram-role"]
VALUES = ["pay", "prod", "Reader", "Admin", ""]

conditions = st.builds(
    TagCondition,
    st.sampled_from(KEYS),
    st.none() | st.lists(st.sampled_from(VALUES), min_size=1, max_size=3).map(tuple),
)
scopes = st.none() | st.frozensets(
    st.sampled_from(["cn-hangzhou", "vpc-a", "rg-a", ""]), min_size=1
)
rules = st.builds(
    Rule,
    name=st.sampled_from(["a", "b", "c"]),
    priority=st.integers(-2, 2),
    tags=st.lists(conditions, max_size=3).map(tuple),
    scopes=st.tuples(*(scopes for _ in SCOPES)).map(
        lambda drawn: tuple(
            (s.key, ids) for s, ids in zip(SCOPES, drawn, strict=True) if ids is not None
        )
    ),
    role=st.none() | st.sampled_from(ROLES),
    role_from_tag=st.none() | st.sampled_from(KEYS),
)
mappings = st.builds(
    RoleMapping,
    version=st.just(1),
    roles=st.lists(st.sampled_from(ROLES), max_size=3).map(tuple),
    rules=st.lists(rules, max_size=5).map(tuple),
    on_existing_role=st.sampled_from(["keep", "replace", "bogus"]),
    on_no_match=st.sampled_from(["keep", "detach", "bogus"]),
)
instances = st.builds(
    Instance,
    instance_id=st.just("i-1"),
    region=st.sampled_from(["cn-hangzhou", "cn-beijing", ""]),
    network_type=st.sampled_from([VPC, CLASSIC, "other"]),
    status=st.sampled_from(["Running", "Stopped", "Pending"]),
    tags=st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3),
    vpc_id=st.none() | st.sampled_from(["vpc-a", "vpc-b"]),
    resource_group_id=st.none() | st.sampled_from(["rg-a", "rg-b"]),
    role=st.none() | st.sampled_from(ROLES),
)


@settings(max_examples=500, deadline=None)
@given(instances, mappings)
def test_decide_never_raises_and_never_touches_a_role_outside_the_allow_list(
    subject: Instance, mapping: RoleMapping
) -> None:
    decision = decide(subject, mapping)
    assert decision.previous_role == subject.role
    assert decision.reason
    if decision.action in (Action.ATTACH, Action.REPLACE):
        assert mapping.allows(decision.role)  # type: ignore[arg-type]
        assert subject.is_vpc
    if decision.action in (Action.REPLACE, Action.DETACH):
        assert mapping.allows(subject.role)  # type: ignore[arg-type]
    if decision.action is Action.ATTACH:
        assert subject.role is None
    if decision.action is Action.UNCHANGED:
        assert decision.role == subject.role
    if not subject.is_vpc:
        assert decision.reason == reasons.CLASSIC_NETWORK
