"""`rolebinder plan` and `rolebinder apply`: the sweep of one region, shown as a table.

`plan` decides and writes nothing (a dry run); `apply` writes. Both print one row per instance
that is (or would be) changed, skipped or failed, with the mode its rule runs in (audit rows are
never written), and a summary; `--all` adds unchanged ones. When the planned writes exceed the
mapping's limits, nothing is written (`circuit-open`); `apply --allow-changes N` raises the
limits to N for this one run. Exit 0 when nothing failed, 1 when some instance failed or the
circuit breaker opened.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from rolebinder.cli import EXIT_FAILED, EXIT_OK
from rolebinder.cli.options import accounts, add_fleet_options, fleet, open_runtime, regions
from rolebinder.cli.options import console as session_console
from rolebinder.cli.text import cell, markup_safe
from rolebinder.domain.outcome import FAILED, UNCHANGED, Outcome
from rolebinder.entrypoints.fleet import Shard, ShardDone

_ACTION = {
    "attached": "attach",
    "replaced": "replace",
    "detached": "detach",
    "unchanged": "none",
    "skipped": "skip",
    "failed": "fail",
    "ignored": "ignore",
}


def register(commands: Any) -> None:
    for name, help_text in (
        ("plan", "what a sweep of a region would change (writes nothing)"),
        ("apply", "sweep a region for real and show what changed"),
    ):
        parser = commands.add_parser(
            name,
            help=help_text,
            description=__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_fleet_options(parser)
        parser.add_argument("--all", action="store_true", help="also list unchanged instances")
        if name == "apply":
            parser.add_argument(
                "--allow-changes",
                type=_count,
                metavar="N",
                help="raise limits.max_changes and max_detaches to N for this run (a rollout)",
            )
        parser.set_defaults(run=run, dry_run=name == "plan")


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of changes (0 or more)")
    return int(text)


def run(args: argparse.Namespace) -> int:
    runtime = open_runtime(args)
    running = fleet(args, runtime, dry_run=args.dry_run)
    shards = [(a, r) for a in accounts(args, running) for r in regions(args)]
    sweep = running.sweep(shards, f"cli:{args.command}")
    counts: Counter[str] = Counter()
    rows: list[Outcome] = []
    for outcome in _with_progress(sweep, shards, quiet=args.json):
        counts[outcome.outcome] += 1
        if args.json:
            print(json.dumps(outcome.record(), separators=(",", ":")))
        elif args.all or outcome.outcome != UNCHANGED:
            rows.append(outcome)
    tripped = [e.breaker.tripped for e in running.engines() if e.breaker.tripped is not None]
    if args.json:
        summary = {"kind": "summary", "outcomes": dict(counts), "dry_run": args.dry_run}
        summary.update(mode=runtime.mapping.mode, circuit_open=bool(tripped), shards=len(shards))
        print(json.dumps(summary))
    else:
        _print_table(rows, counts, args, many=args.accounts is not None)
        for trip in tripped:
            session_console().print(f"circuit open: {markup_safe(trip.sentence())}")
    return EXIT_FAILED if counts[FAILED] or tripped else EXIT_OK


def _with_progress(items: Iterator[Outcome | ShardDone], shards: list[Shard], quiet: bool) -> Any:
    """Yield the outcomes; on a terminal, a progress line per shard on stderr (large fleets)."""
    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield from (item for item in items if not isinstance(item, ShardDone))
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} instances"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        tasks = {s: progress.add_task(markup_safe(_shard_name(s)), total=None) for s in shards}
        for item in items:
            if isinstance(item, ShardDone):
                progress.update(tasks[item.shard], description=f"done {_shard_name(item.shard)}")
                continue
            progress.advance(tasks.get((item.account_id, item.region or ""), tasks[shards[0]]))
            yield item


def _shard_name(shard: Shard) -> str:
    account, region = shard
    return f"{account}/{region}" if account else region


def _print_table(
    rows: list[Outcome], counts: Counter[str], args: argparse.Namespace, many: bool
) -> None:
    console = session_console()
    title = f"{args.command} {markup_safe(args.region)}" + (
        " (dry run: nothing written)" if args.dry_run else ""
    )
    table = Table(title=title)
    if many:
        table.add_column("account", no_wrap=True)
    table.add_column("instance", no_wrap=True)  # ids are never cut short
    for column in ("current role", "desired role", "action", "reason", "mode"):
        table.add_column(column)
    for o in rows:
        row = (
            *((o.account_id or "-",) if many else ()),
            o.instance_id or "",
            o.previous_role or "-",
            o.role or "-",
            _ACTION.get(o.outcome, o.outcome),
            _reason(o),
            o.mode,
        )
        table.add_row(*map(cell, row))
    if rows:
        console.print(table)
    total = sum(counts.values())
    summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    unread = sum(1 for o in rows if o.instance_id is None)
    noun = f"line(s), {unread} for an account or region not read" if unread else "instance(s)"
    console.print(f"{total} {noun}: {summary or 'none'}")
    sys.stdout.flush()


def _reason(outcome: Outcome) -> str:
    if outcome.error_code:
        return f"{outcome.reason} ({outcome.error_code})"
    return outcome.reason
