"""What the operator commands share: options, settings from the environment, gateways, engine."""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any

from rich.console import Console

from rolebinder.aliyun.retry import Deadline
from rolebinder.aliyun.transport import CallLimits
from rolebinder.entrypoints import config
from rolebinder.entrypoints.wiring import (
    Gateways,
    Runtime,
    build_engine,
    credentials_from,
    runtime_from,
)
from rolebinder.service.engine import Engine

# Operator commands may run long (a sweep of a large fleet); handlers get FC's timeout instead.
CLI_BUDGET_SECONDS = 6 * 3600.0


def add_mapping_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mapping", help=f"mapping file (default: ${config.MAPPING})")


def add_fleet_options(parser: argparse.ArgumentParser) -> None:
    add_mapping_option(parser)
    parser.add_argument("--region", required=True, help="region id, e.g. cn-hangzhou")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")


def environment(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    if getattr(args, "mapping", None):
        env[config.MAPPING] = args.mapping
    return env


def open_runtime(args: argparse.Namespace) -> Runtime:
    """Settings and the validated mapping; InputError (exit 2) before any API call."""
    return runtime_from(environment(args))


def engine(args: argparse.Namespace, runtime: Runtime, dry_run: bool) -> Engine:
    settings = dataclasses.replace(runtime.settings, dry_run=dry_run)
    credentials = credentials_from(environment(args))
    deadline = Deadline(CLI_BUDGET_SECONDS)
    allow = getattr(args, "allow_changes", None)
    return build_engine(runtime, credentials, args.region, deadline, settings, allow)


def gateways(args: argparse.Namespace, runtime: Runtime) -> Gateways:
    credentials = credentials_from(environment(args))
    limits = CallLimits(api_timeout=runtime.settings.api_timeout)
    return Gateways(runtime.pool, credentials, Deadline(CLI_BUDGET_SECONDS), limits, args.region)


def console(**options: Any) -> Console:
    """A console for tables: the terminal's width, or a wide page when piped or captured, so
    instance ids and reasons are never cut or wrapped."""
    terminal = Console(**options)
    return terminal if terminal.is_terminal else Console(width=160, **options)


def as_json(value: Any) -> Any:
    """JSON-friendly copy of dataclasses, sets and tuples."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [as_json(v) for v in items]
    if isinstance(value, dict) or hasattr(value, "items"):
        return {k: as_json(v) for k, v in value.items()}
    return value
