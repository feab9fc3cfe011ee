"""`rolebinder replay EVENT_FILE...`: run exactly the handlers' path for each file, in order.

Every file is read and parsed before the first API call; an unreadable or malformed event, or an
invalid mapping, exits 2 having written nothing. Outcome lines (JSON) go to stdout, summaries to
stderr. Exit 0 when every outcome is attached, replaced, detached, unchanged, skipped or
ignored; 1 when any failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from rolebinder.cli import EXIT_FAILED, EXIT_OK
from rolebinder.domain import reasons
from rolebinder.entrypoints import config
from rolebinder.entrypoints.invocation import Invocation, RetryLaterError, runtime_from
from rolebinder.errors import EventError, InputError
from rolebinder.intake.events import IgnoredEvent, Trigger, parse_delivery
from rolebinder.local.fc_context import FunctionMeta, LocalContext
from rolebinder.output.journal import Journal

MAX_EVENT_BYTES = 16 * 1024 * 1024


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "replay",
        help="run event files through the handler path",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("events", nargs="+", type=Path, metavar="EVENT_FILE")
    parser.add_argument("--mapping", help=f"mapping file (default: ${config.MAPPING})")
    parser.add_argument("--dry-run", action="store_true", help="decide and log, write nothing")
    parser.add_argument(
        "--region", help=f"region for events that name none (default ${config.FC_REGION})"
    )
    parser.add_argument(
        "--account-id", help=f"the function's own account (default ${config.ACCOUNT_ID})"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    env = _environment(args)
    runtime = runtime_from(env)  # an invalid mapping stops here, before any call
    events = [(path, read_event(path)) for path in args.events]
    triggers = [trigger for path, raw in events for trigger in check_event(path, raw)]
    region = args.region or env.get(config.FC_REGION) or _first_region(triggers)
    failed = False
    for path, raw in events:
        context = LocalContext(region=region, function=FunctionMeta(f"replay:{path.name}"))
        journal = Journal(sys.stdout, sys.stderr, function="replay", event_file=str(path))
        # RetryLaterError: the failed outcomes are already on stdout, and count below.
        with contextlib.suppress(RetryLaterError):
            Invocation(runtime, context, "replay", env, journal).run(raw)
        failed = failed or journal.failed > 0
    return EXIT_FAILED if failed else EXIT_OK


def _environment(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    if args.mapping:
        env[config.MAPPING] = args.mapping
    if args.dry_run:
        env[config.DRY_RUN] = "1"
    if args.account_id:
        env[config.ACCOUNT_ID] = args.account_id
    return env


def read_event(path: Path) -> bytes:
    """The file's bytes, or InputError naming the file and the problem."""
    try:
        if path.stat().st_size > MAX_EVENT_BYTES:
            raise InputError(f"{path}: larger than {MAX_EVENT_BYTES} bytes")
        return path.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not an event file") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror or error}") from None


def check_event(path: Path, raw: bytes) -> list[Trigger]:
    """Parse one delivery; malformed (also one malformed batch element) is unusable input."""
    try:
        triggers = parse_delivery(raw)
    except EventError as error:
        raise InputError(f"{path}: malformed event: {error}") from None
    for trigger in triggers:
        if isinstance(trigger, IgnoredEvent) and trigger.reason == reasons.MALFORMED_EVENT:
            raise InputError(f"{path}: malformed batch element: {trigger.detail}")
    return triggers


def _first_region(triggers: list[Trigger]) -> str | None:
    regions = (getattr(t, "region", None) for t in triggers)
    return next((r for r in regions if r), None)
