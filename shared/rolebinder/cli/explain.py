"""`rolebinder explain INSTANCE_ID --region R [--accounts A,B|rd]`: which rules matched, which
won, and why. With --accounts, the instance is looked for in each account in turn.

Reads the instance and its current role from the API (read-only), then shows every rule's
verdict, the winners, the decision and whether the role to attach passes the role checks.
Exit 0 when explained, 1 when the instance does not exist.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from rolebinder.cli import EXIT_FAILED, EXIT_OK
from rolebinder.cli.options import (
    accounts,
    add_fleet_options,
    as_json,
    fleet,
    open_runtime,
    regions,
)
from rolebinder.cli.options import console as session_console
from rolebinder.cli.text import cell, markup_safe
from rolebinder.domain import ids
from rolebinder.domain.decision import Action, Decision, Evaluation, decide, evaluate
from rolebinder.domain.instance import Instance
from rolebinder.domain.ownership import same_role
from rolebinder.entrypoints.fleet import Fleet
from rolebinder.entrypoints.wiring import Gateways
from rolebinder.errors import CloudError, InputError

_INSTANCE_ID = ids.matcher(ids.INSTANCE_ID)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "explain",
        help="why an instance gets (or not) a role",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("instance_id", metavar="INSTANCE_ID")
    add_fleet_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not _INSTANCE_ID.fullmatch(args.instance_id):
        raise InputError(f"{args.instance_id!r} is not an ECS instance id (i-...)")
    runtime = open_runtime(args)
    found = _find(args, fleet(args, runtime))
    if found is None:
        where = ", ".join(regions(args))
        print(f"{args.instance_id}: not found in {where}")
        return EXIT_FAILED
    gates, instance = found
    evaluation = evaluate(instance, runtime.mapping)
    decision = decide(instance, runtime.mapping, deployment=runtime.settings.deployment)
    role_check = _role_check(decision, runtime, gates)
    if args.json:
        print(json.dumps(_document(instance, evaluation, decision, role_check), indent=2))
    else:
        _print(instance, evaluation, decision, role_check, runtime.settings.deployment)
    return EXIT_OK


def _find(args: argparse.Namespace, running: Fleet) -> tuple[Gateways, Instance] | None:
    """The instance and the gateways of its account: the first account and region holding it."""
    for account in accounts(args, running):
        gates = running.gateways(account)
        for region in regions(args):
            instance = _read(gates, args.instance_id, region)
            if instance is not None:
                return gates, instance
    return None


def _read(gates: Gateways, instance_id: str, region: str) -> Instance | None:
    ecs = gates.ecs(region)
    found = ecs.describe_instances([instance_id])
    if not found:
        return None
    instance = found[0]
    if not instance.is_vpc:
        return instance
    roles = ecs.describe_roles([instance.instance_id])
    return Instance(**{**as_json(instance), "role": roles.get(instance.instance_id)})


def _role_check(decision: Decision, runtime: Any, gates: Any) -> str:
    if decision.action not in (Action.ATTACH, Action.REPLACE) or decision.role is None:
        return "not needed"
    try:
        verdict = runtime.roles_of(gates.account_id).verdict(decision.role, gates.ram())
    except CloudError as error:
        return f"could not check: {error.code}"
    return "passed (exists, trusts ecs.aliyuncs.com)" if verdict is None else verdict


def _document(
    instance: Instance, evaluation: Evaluation, decision: Decision, role_check: str
) -> dict[str, Any]:
    return {
        "instance": as_json(instance),
        "rules": [
            {
                "rule": v.rule.name,
                "priority": v.rule.priority,
                "matched": v.matched,
                "why": v.why,
                "role": v.role,
            }
            for v in evaluation.verdicts
        ],
        "winners": [v.rule.name for v in evaluation.winners],
        "decision": {**as_json(decision), "action": decision.action.value},
        "role_check": role_check,
    }


def _print(
    instance: Instance,
    evaluation: Evaluation,
    decision: Decision,
    role_check: str,
    deployment: str,
) -> None:
    console = session_console(highlight=False)
    safe = markup_safe  # every value below comes from the cloud or the mapping
    tags = ", ".join(f"{k}={v}" for k, v in instance.tags.items()) or "(none)"
    console.print(
        f"[bold]{safe(instance.instance_id)}[/bold] in {safe(_place(instance))}: "
        f"{safe(instance.network_type)}, {safe(instance.status)}, "
        f"vpc {safe(instance.vpc_id or '-')}, "
        f"resource group {safe(instance.resource_group_id or '-')}"
    )
    console.print(f"tags: {safe(tags)}")
    console.print(f"current role: {safe(instance.role or '(none)')}")
    console.print(f"ownership: {safe(_ownership(instance, deployment))}")
    table = Table(title="rules, in mapping order")
    for column in ("rule", "priority", "matched", "role", "why"):
        table.add_column(column)
    winners = {v.rule.name for v in evaluation.winners}
    for v in evaluation.verdicts:
        mark = "won" if v.rule.name in winners else ("yes" if v.matched else "no")
        row = (v.rule.name, str(v.rule.priority), mark, v.role or "-", v.why)
        table.add_row(*map(cell, row))
    console.print(table)
    console.print(
        f"decision: [bold]{decision.action.value}[/bold] "
        f"{safe(decision.role or '')} ({decision.reason}): {safe(decision.detail)}"
    )
    console.print(
        f"mode: {decision.mode}"
        + (" (decided and logged, never written)" if decision.mode == "audit" else "")
    )
    policy = decision.policy or "(none: the role's full permissions)"
    console.print(f"policy: {safe(policy)}")
    console.print(f"role check: {safe(role_check)}")


def _ownership(instance: Instance, deployment: str) -> str:
    if instance.role is None:
        return "no role bound"
    if instance.contested(deployment) and instance.owner() != deployment:
        return f"bound by another rolebinder deployment ({instance.owner()})"
    if instance.contested(deployment):
        return f"contested: rolebinder's marker names {instance.marker}"
    if same_role(instance.marker, instance.role):
        return "bound by rolebinder (marker matches)"
    return "not bound by rolebinder (no marker)"


def _place(instance: Instance) -> str:
    if instance.account_id is None:
        return instance.region
    return f"{instance.region} of account {instance.account_id}"
