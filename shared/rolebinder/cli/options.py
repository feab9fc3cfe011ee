"""What the operator commands share: options, settings from the environment, gateways, engine."""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any

from rich.console import Console

from rolebinder.aliyun.retry import Deadline
from rolebinder.entrypoints import config
from rolebinder.entrypoints.fleet import Fleet
from rolebinder.entrypoints.wiring import (
    Runtime,
    credentials_from,
    runtime_from,
)
from rolebinder.errors import InputError

# Operator commands may run long (a sweep of a large fleet); handlers get FC's timeout instead.
CLI_BUDGET_SECONDS = 6 * 3600.0


def add_mapping_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mapping", help=f"mapping file (default: ${config.MAPPING})")


def add_fleet_options(parser: argparse.ArgumentParser) -> None:
    add_mapping_option(parser)
    parser.add_argument(
        "--region", required=True, help="region id, e.g. cn-hangzhou (several: A,B)"
    )
    parser.add_argument(
        "--accounts",
        metavar="A,B|rd",
        help=f"member accounts to act in through their {config.DEFAULT_MEMBER_ROLE} role (or "
        f"${config.MEMBER_ROLE}), or rd for every Resource Directory member; needs "
        f"${config.ACCOUNT_ID} (default: only the account of your credentials)",
    )
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")


def environment(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    if getattr(args, "mapping", None):
        env[config.MAPPING] = args.mapping
    if getattr(args, "accounts", None) is not None:
        config.parse_accounts(args.accounts, "--accounts")  # InputError (exit 2) when bad
        env[config.ACCOUNTS] = args.accounts
    return env


def regions(args: argparse.Namespace) -> list[str]:
    """--region's regions (InputError when one is not a region id)."""
    found = config.parse_regions(args.region)
    if not found:
        raise InputError("--region: name at least one region, e.g. cn-hangzhou")
    return list(found)


def fleet(args: argparse.Namespace, runtime: Runtime, dry_run: bool = True) -> Fleet:
    """The accounts the command acts in, each with its credentials (assumed when a member)."""
    settings = runtime.settings._replace(dry_run=dry_run)
    return Fleet(
        runtime,
        credentials_from(environment(args)),
        regions(args)[0],
        Deadline(CLI_BUDGET_SECONDS),
        settings=settings,
        allow_changes=getattr(args, "allow_changes", None),
    )


def accounts(args: argparse.Namespace, fleet: Fleet) -> list[str | None]:
    """The accounts named by --accounts (rd: the own one and every member), or the own one."""
    if getattr(args, "accounts", None) is None:
        return [fleet.own]
    listed = config.parse_accounts(args.accounts, "--accounts")
    return list(fleet.accounts()) if listed is None else list(listed)


def open_runtime(args: argparse.Namespace) -> Runtime:
    """Settings and the validated mapping; InputError (exit 2) before any API call."""
    return runtime_from(environment(args))


def console(**options: Any) -> Console:
    """A console for tables: the terminal's width, or a wide page when piped or captured, so
    instance ids and reasons are never cut or wrapped."""
    terminal = Console(**options)
    return terminal if terminal.is_terminal else Console(width=160, **options)


def as_json(value: Any) -> Any:
    """JSON-friendly copy of values (NamedTuples and dataclasses), sets and tuples."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {name: as_json(v) for name, v in value._asdict().items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [as_json(v) for v in items]
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: as_json(v) for k, v in value.items()}
    return value
