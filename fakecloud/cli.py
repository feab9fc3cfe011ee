"""`rolebinder fake-cloud`: serve the fake cloud on 127.0.0.1 until interrupted.

Defaults: port 8790, key pair LTAI5tFakeCloudTestKey / fake-cloud-test-secret, account
1234567890123456, real time with instances Pending for 1 s and Starting for 1 s.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import Any

from fakecloud.clock import ManualClock
from fakecloud.cloud import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_ACCOUNT_ID,
    FakeCloud,
)
from fakecloud.ecs import Lifecycle
from fakecloud.seed import apply_seed, load_seed_file
from fakecloud.server import FakeCloudServer

DEFAULT_PORT = 8790


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `rolebinder fake-cloud`."""
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--access-key-id",
        default=DEFAULT_ACCESS_KEY_ID,
        help=f"accepted AccessKey id (default {DEFAULT_ACCESS_KEY_ID})",
    )
    parser.add_argument(
        "--access-key-secret",
        default=DEFAULT_ACCESS_KEY_SECRET,
        help=f"its secret (default {DEFAULT_ACCESS_KEY_SECRET})",
    )
    parser.add_argument(
        "--security-token",
        default=None,
        help="make the key pair an STS credential that needs this token",
    )
    parser.add_argument(
        "--account-id",
        default=DEFAULT_ACCOUNT_ID,
        help=f"account of the key pair (default {DEFAULT_ACCOUNT_ID})",
    )
    parser.add_argument("--seed", type=Path, help="seed file (YAML or JSON) to load at start")
    parser.add_argument(
        "--events-out", type=Path, help="append every emitted event to this file as a JSON line"
    )
    parser.add_argument("--random-seed", default="0", help="seed for generated ids (default 0)")
    parser.add_argument(
        "--pending-seconds",
        type=float,
        default=1.0,
        help="how long new instances stay Pending (default 1)",
    )
    parser.add_argument(
        "--starting-seconds",
        type=float,
        default=1.0,
        help="how long instances stay Starting (default 1)",
    )
    parser.add_argument(
        "--manual-clock",
        action="store_true",
        help="freeze the clock; advance it with POST /_fake/clock",
    )
    parser.add_argument(
        "--faults",
        type=Path,
        help='JSON fault spec, as POST /_fake/faults takes: {"fail": [...], ...}',
    )
    parser.add_argument(
        "--rate-limit",
        action="append",
        default=[],
        metavar="ACTION=QPS",
        help="answer Throttling above QPS calls per second (repeatable; * for all)",
    )
    parser.add_argument(
        "--latency",
        action="append",
        default=[],
        metavar="ACTION=SECONDS",
        help="add latency to every call of ACTION (repeatable; * for all)",
    )
    parser.add_argument(
        "--list-roleless",
        action="store_true",
        help="DescribeInstanceRamRole lists role-less instances with an empty name",
    )


def build_cloud(args: argparse.Namespace) -> FakeCloud:
    """A FakeCloud configured from the parsed options (raises ValueError on bad values)."""
    cloud = FakeCloud(
        seed=args.random_seed,
        clock=ManualClock() if args.manual_clock else None,
        lifecycle=Lifecycle(pending=args.pending_seconds, starting=args.starting_seconds),
        add_default_key=False,
    )
    cloud.list_roleless = args.list_roleless
    cloud.add_key(
        args.access_key_id,
        args.access_key_secret,
        account_id=args.account_id,
        security_token=args.security_token,
    )
    if args.seed:
        apply_seed(cloud, {"account_id": args.account_id, **load_seed_file(args.seed)})
    if args.faults:
        cloud.faults.configure(_read_json(args.faults))
    for action, qps in map(_pair, args.rate_limit):
        cloud.faults.rate_limit(action, float(qps))
    for action, seconds in map(_pair, args.latency):
        cloud.faults.delay(action, float(seconds))
    if args.events_out:
        cloud.events.write_to(args.events_out)
    return cloud


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM."""
    cloud = build_cloud(args)
    server = FakeCloudServer(cloud, port=args.port).start()
    print(
        json.dumps(
            {
                "fake_cloud": server.url,
                "admin": f"{server.url}/_fake/state",
                "access_key_id": args.access_key_id,
                "account_id": args.account_id,
            }
        ),
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


def _pair(text: str) -> tuple[str, str]:
    action, sep, value = text.partition("=")
    if not sep or not action or not value:
        raise ValueError(f"expected ACTION=VALUE, got {text!r}")
    return action, value


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
