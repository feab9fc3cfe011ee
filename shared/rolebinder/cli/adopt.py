"""`rolebinder adopt --region R [--accounts A,B|rd]`: hand today's allow-listed bindings over to
rolebinder, once.

rolebinder replaces and detaches only the bindings it owns: those whose `rolebinder:role` marker
names the bound role. Bindings made by hand or before rolebinder (no marker), and contested ones
resolved by hand (a marker naming another role), stay out of its reach until an operator adopts
them. `adopt` marks every VPC instance of the region whose bound role is in the allow-list and
whose marker does not name it (TagResources, 50 instances a call); roles outside the allow-list
are never marked. `--dry-run` lists what it would mark. Exit 0, or 1 when a marker write failed.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from rolebinder.aliyun.ecs import EcsGateway
from rolebinder.cli import EXIT_FAILED, EXIT_OK
from rolebinder.cli.options import accounts, add_fleet_options, fleet, open_runtime, regions
from rolebinder.cli.options import console as session_console
from rolebinder.cli.text import cell, markup_safe
from rolebinder.domain.instance import Instance
from rolebinder.domain.ownership import same_role
from rolebinder.entrypoints.wiring import Runtime
from rolebinder.errors import CloudError
from rolebinder.mapping.model import RoleMapping
from rolebinder.service.markers import Markers

Row = tuple[str, str, str, str, str]  # account, instance, role, marker before, result


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "adopt",
        help="mark today's allow-listed bindings as rolebinder's own",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_fleet_options(parser)
    parser.add_argument("--dry-run", action="store_true", help="list, mark nothing")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    runtime = open_runtime(args)
    running = fleet(args, runtime)
    rows: list[Row] = []
    for account in accounts(args, running):
        try:
            gates = running.gateways(account)
        except CloudError as error:  # a member whose role cannot be assumed fails alone
            rows.append((account or "-", "-", "", "-", f"failed: {error.code}"))
            continue
        for region in regions(args):
            rows.extend(_adopt(gates.ecs(region), runtime, args.dry_run, account))
    if args.json:
        for account, instance_id, role, marker, result in rows:
            record = {"instance_id": instance_id, "role": role, "marker": marker, "result": result}
            print(json.dumps(record | ({"account_id": account} if args.accounts else {})))
    else:
        _print(rows, args)
    return EXIT_FAILED if any(row[-1].startswith("failed") for row in rows) else EXIT_OK


def _adopt(ecs: EcsGateway, runtime: Runtime, dry_run: bool, account: str | None) -> list[Row]:
    candidates = list(_unowned(ecs, runtime.mapping))
    results = {i.instance_id: "would mark" for i in candidates}
    if not dry_run:
        results = _mark(ecs, candidates, runtime.settings.deployment)
    return [
        (account or "-", i.instance_id, i.role or "", i.marker or "-", results[i.instance_id])
        for i in candidates
    ]


def _unowned(ecs: EcsGateway, mapping: RoleMapping) -> Any:
    """VPC instances with an allow-listed role whose marker does not name it."""
    for page in ecs.list_instances():
        vpc = [i for i in page if i.is_vpc]
        roles = ecs.describe_roles([i.instance_id for i in vpc])
        for instance in vpc:
            role = roles.get(instance.instance_id)
            if role is not None and mapping.manages(role) and not same_role(instance.marker, role):
                yield instance._replace(role=role)


def _mark(ecs: EcsGateway, instances: list[Instance], deployment: str) -> dict[str, str]:
    """Mark each instance with its bound role (the binder's own marker writes, no change
    record: adopting changes no binding); a result per instance."""
    result = Markers(ecs, owner=deployment).mark((i, i.role or "") for i in instances)
    refused = {i: f"failed: {error.code}" for i, error in result.refused.items()}
    return {i: "marked" for i in result.marked} | dict.fromkeys(result.gone, "gone") | refused


def _print(rows: list[Row], args: argparse.Namespace) -> None:
    console = session_console()
    title = f"adopt {markup_safe(args.region)}" + (" (dry run)" if args.dry_run else "")
    table = Table(title=title)
    many = args.accounts is not None
    columns = ("account", "instance", "role", "marker before", "result")
    for column in columns[0 if many else 1 :]:
        table.add_column(column, no_wrap=column in ("account", "instance"))
    for row in rows:
        table.add_row(*map(cell, row[0 if many else 1 :]))
    if rows:
        console.print(table)
    console.print(f"{len(rows)} binding(s) to adopt")
