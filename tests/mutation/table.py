"""The mutations `python3 dev.py mutate` must see killed: one row per safety-critical behaviour.

To add one, append a `Mutation` to MUTATIONS:
- `id`: short, unique, kebab-case; printed in the report and accepted by `--only`;
- `file`: the file to change, relative to the repository root;
- `original`: source text that occurs EXACTLY ONCE in that file (else the runner reports an
  error and fails); it may span lines ("\\n"), indentation included;
- `replacement`: what replaces it; keep the file importable (it must still parse);
- `tests`: the pytest selection (paths or node ids, as on pytest's command line) that must fail
  once the mutation is applied. Pick fast tests that pin the behaviour: the runner stops at the
  first failure (`-x`), and `dev.py mutate` first runs every selection unmutated: it must pass.
  Never select tests/unit/test_mutation_table.py: it fails on any applied mutation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    id: str
    file: str
    original: str
    replacement: str
    tests: tuple[str, ...]


DECISION = "shared/rolebinder/domain/decision.py"
RAM = "shared/rolebinder/aliyun/ram.py"
ECS = "shared/rolebinder/aliyun/ecs.py"
EVENTS = "shared/rolebinder/intake/events.py"
PERMISSIONS = "shared/rolebinder/mapping/permissions.py"
# The end-to-end decisions through the handlers, and the pure decision matrix.
DECISION_TESTS = ("tests/unit/test_decision.py", "tests/functional/test_decisions_end_to_end.py")
TRUST_TESTS = ("tests/functional/test_trust.py",)
BATCH_TESTS = ("tests/functional/test_batching.py",)
# The bench's own call counts, checked in CI: must catch the same regressions on their own.
BENCH_SMOKE = ("tests/bench/test_bench_smoke.py",)
POLICY_TESTS = ("tests/functional/test_operator_cli.py",)
SAFETY_TESTS = ("tests/functional/test_safety_model.py",)
GOVERNANCE_TESTS = ("tests/functional/test_governance.py",)
HUB_TESTS = ("tests/functional/test_hub.py",)

MUTATIONS: tuple[Mutation, ...] = (
    # --- the decision ------------------------------------------------------------------------
    Mutation(
        "allow-list-check",
        DECISION,
        "refused = [winner for winner in winners if not _grantable(mapping, winner)]",
        "refused: list[RuleVerdict] = []",
        DECISION_TESTS,
    ),
    Mutation(
        "classic-network-skip",
        DECISION,
        "if not instance.is_vpc:",
        "if False:",
        DECISION_TESTS,
    ),
    Mutation(
        "keep-existing-role",
        DECISION,
        "if mapping.on_existing_role != REPLACE:",
        "if False:",
        DECISION_TESTS,
    ),
    Mutation(
        "replace-only-allow-listed",
        DECISION,
        'if not _managed(mapping, current):\n        detail = f"instance has role',
        'if False:\n        detail = f"instance has role',
        DECISION_TESTS,
    ),
    Mutation(
        "no-match-keeps",
        DECISION,
        "if mapping.on_no_match != DETACH:",
        "if False:",
        DECISION_TESTS,
    ),
    Mutation(
        "detach-only-allow-listed",
        DECISION,
        'if not _managed(mapping, current):\n        detail = f"no rule matched; role',
        'if False:\n        detail = f"no rule matched; role',
        DECISION_TESTS,
    ),
    Mutation(  # the loader's half of the allow-list: a fixed role must be listed in `roles`
        "mapping-fixed-role-listed",
        "shared/rolebinder/mapping/model.py",
        "if rule.role is not None and not mapping.allows(rule.role):",
        "if False:",
        ("tests/unit/test_mapping.py",),
    ),
    Mutation(
        "mapping-role-tag-values-listed",
        "shared/rolebinder/mapping/model.py",
        "if not (mapping.allows(value) and in_rule):",
        "if False:",
        ("tests/unit/test_mapping.py",),
    ),
    # --- the role's trust policy -------------------------------------------------------------
    Mutation(
        "trust-effect-allow",
        RAM,
        'return any(statement.get("Effect") == "Allow" for statement in statements)',
        "return bool(statements)",
        TRUST_TESTS,
    ),
    Mutation(
        "trust-deny-wins",
        RAM,
        "return _allows(covering) and not _denies(covering)",
        "return _allows(covering)",
        TRUST_TESTS,
    ),
    Mutation(
        "trust-action-assume-role",
        RAM,
        '"sts:AssumeRole" in _as_list(actions) and service in named',
        "service in named",
        TRUST_TESTS,
    ),
    Mutation(
        "trust-service-ecs",
        RAM,
        '"sts:AssumeRole" in _as_list(actions) and service in named',
        '"sts:AssumeRole" in _as_list(actions) and bool(named)',
        TRUST_TESTS,
    ),
    # --- where events come from --------------------------------------------------------------
    Mutation(
        "foreign-account-exclusion",
        EVENTS,
        "if not isinstance(trigger, InstanceCheck) or own is None or trigger.account_id in served:",
        "if True:",
        ("tests/unit/test_events.py", "tests/hardening/test_escalation.py"),
    ),
    Mutation("bind-batch", ECS, "BIND_BATCH = 100", "BIND_BATCH = 50", BATCH_TESTS),
    Mutation("role-batch", ECS, "ROLE_BATCH = 50", "ROLE_BATCH = 25", BATCH_TESTS),
    Mutation("describe-batch", ECS, "DESCRIBE_BATCH = 100", "DESCRIBE_BATCH = 50", BATCH_TESTS),
    Mutation("bind-batch-bench", ECS, "BIND_BATCH = 100", "BIND_BATCH = 50", BENCH_SMOKE),
    Mutation("role-batch-bench", ECS, "ROLE_BATCH = 50", "ROLE_BATCH = 25", BENCH_SMOKE),
    Mutation(
        "describe-batch-bench", ECS, "DESCRIBE_BATCH = 100", "DESCRIBE_BATCH = 50", BENCH_SMOKE
    ),
    Mutation(  # a per-instance result's Code is "200" or 200 (the docs show both)
        "bind-code-either-shape",
        ECS,
        'code = str(item_get(answer, item, where, "Code", (str, int), ""))',
        'code = str(item_get(answer, item, where, "Code", str, ""))',
        ("tests/functional/test_bind_code_shapes.py",),
    ),
    # --- the functions' own least-privilege policy --------------------------------------------
    Mutation(
        "passrole-scoped-to-allow-list",
        PERMISSIONS,
        'return [f"acs:ram:*:{account_id}:role/{name}" for name in spellings]',
        'return [f"acs:ram:*:{account_id}:role/*"]',
        POLICY_TESTS,
    ),
    Mutation(
        "detach-granted-only-when-needed",
        PERMISSIONS,
        "bind_actions = [ATTACH_ACTION, DETACH_ACTION] if can_detach(mapping) else [ATTACH_ACTION]",
        "bind_actions = [ATTACH_ACTION, DETACH_ACTION]",
        POLICY_TESTS,
    ),
    # --- safety model v2: per-rule authority, ownership, regions (issue 9) --------------------
    Mutation(
        "per-rule-authority",
        "shared/rolebinder/mapping/model.py",
        "return isinstance(role, str) and role in (self.allowed_roles or ())",
        "return isinstance(role, str)",
        SAFETY_TESTS,
    ),
    Mutation(
        "mapping-requires-allowed-roles",
        "shared/rolebinder/mapping/model.py",
        "if rule.role_from_tag is not None and rule.allowed_roles is None:",
        "if False:",
        SAFETY_TESTS,
    ),
    Mutation(
        "ownership-not-owned",
        DECISION,
        "if not instance.owned_by_rolebinder(mapping.adopt_unmarked, deployment):",
        "if False:",
        SAFETY_TESTS,
    ),
    Mutation(
        "ownership-contested",
        DECISION,
        "if instance.contested(deployment):",
        "if False:",
        SAFETY_TESTS,
    ),
    Mutation(
        "marker-before-attach",
        "shared/rolebinder/service/binder.py",
        "if p.instance_id in marked\n",
        "if p.decision.action == Action.ATTACH\n",
        ("tests/functional/test_safety_model.py", "tests/functional/test_batching.py"),
    ),
    Mutation(
        "marker-only-events",
        EVENTS,
        "if isinstance(changed, list) and only_reserved(changed):",
        "if False:",
        SAFETY_TESTS,
    ),
    Mutation(
        "region-confinement",
        EVENTS,
        "if not isinstance(trigger, InstanceCheck) or (trigger.region or home) in allowed:",
        "if True:",
        ("tests/functional/test_handlers.py", *SAFETY_TESTS),
    ),
    Mutation(
        "timer-cannot-widen-regions-or-accounts",
        "shared/rolebinder/entrypoints/sweeping.py",
        "return [item for item in asked if item in allowed]",
        "return list(asked)",
        ("tests/functional/test_sweep.py", *HUB_TESTS),
    ),
    Mutation(
        "delivery-cap",
        "shared/rolebinder/entrypoints/invocation.py",
        "if named > MAX_DELIVERY_INSTANCES:",
        "if False:",
        SAFETY_TESTS,
    ),
    Mutation(
        "policy-confines-regions",
        PERMISSIONS,
        'f"acs:ecs:{region}:{account_id}:instance/*" for region in regions or (ANY_REGION,)',
        'f"acs:ecs:*:{account_id}:instance/*" for region in regions or (ANY_REGION,)',
        SAFETY_TESTS,
    ),
    # --- governance (issue 10) ----------------------------------------------------------------
    Mutation(
        "audit-writes-nothing",
        "shared/rolebinder/service/plan.py",
        "elif plan.decision.action in _WRITES and plan.decision.mode != AUDIT:",
        "elif plan.decision.action in _WRITES:",
        GOVERNANCE_TESTS,
    ),
    Mutation(
        "circuit-breaker",
        "shared/rolebinder/service/breaker.py",
        "        if over:\n",
        "        if False:\n",
        GOVERNANCE_TESTS,
    ),
    Mutation(
        "flap-damping",
        DECISION,
        "if changed < limits.max_flips:",
        "if True:",
        GOVERNANCE_TESTS,
    ),
    Mutation(
        "ownership-per-deployment",
        "shared/rolebinder/domain/instance.py",
        "return not same_role(self.marker, self.role) or self.owner() != deployment",
        "return not same_role(self.marker, self.role)",
        ("tests/functional/test_attacks_v2.py",),
    ),
    # --- a hub: members only, each alone, credentials once ----------------------------------
    Mutation(
        "hub-unlisted-account",
        "shared/rolebinder/entrypoints/invocation.py",
        "return exclude_foreign(triggers, self.account_id, members)",
        "return triggers",
        HUB_TESTS,
    ),
    Mutation(
        "hub-member-fails-alone",
        "shared/rolebinder/entrypoints/fleet.py",
        "        except (CloudError, NotServedError) as error:\n"
        "            yield self.unreachable(",
        "        except NotServedError as error:\n            yield self.unreachable(",
        HUB_TESTS,
    ),
    Mutation(
        "hub-assume-once",
        "shared/rolebinder/service/accounts.py",
        "if cached is not None and self._clock() < cached.expires_at - margin:",
        "if False:",
        HUB_TESTS,
    ),
    Mutation(
        "hub-fanout-never-recurses",
        "shared/rolebinder/entrypoints/sweeping.py",
        "if function and len(accounts) > 1 else []",
        "if function else []",
        HUB_TESTS,
    ),
    Mutation(  # the second layer behind the intake's exclusion: the fleet serves members only
        "hub-fleet-serves-members-only",
        "shared/rolebinder/entrypoints/fleet.py",
        "if account is None or account not in self.members():",
        "if account is None:",
        ("tests/functional/test_attacks_hub.py",),
    ),
    Mutation(
        "hub-needs-its-own-account",
        "shared/rolebinder/entrypoints/fleet.py",
        "if self.settings.is_hub and self.own is None:",
        "if False:",
        HUB_TESTS,
    ),
    Mutation(
        "hub-expired-credentials-dropped",
        "shared/rolebinder/entrypoints/fleet.py",
        "if outcome.error_code not in EXPIRED_CODES or self.is_own(account):",
        "if True:",
        HUB_TESTS,
    ),
    Mutation(
        "hub-account-scope",
        ECS,
        "            account_id=self.account_id,\n",
        "            account_id=None,\n",
        HUB_TESTS,
    ),
    Mutation(
        "hub-routed-event-sender",
        EVENTS,
        'event.opt_account("aliyunoriginalaccountid") or event.opt_account("aliyunaccountid")',
        'event.opt_account("aliyunaccountid")',
        ("tests/unit/test_hub_units.py",),
    ),
)
