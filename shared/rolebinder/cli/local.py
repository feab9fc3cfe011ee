"""`rolebinder local`: the fake cloud plus a local event bus driving the three handlers.

Starts the fake ECS/RAM API on 127.0.0.1:PORT (real time: new instances are Pending for 1 s and
Starting for 1 s), routes every event it emits to functions/*/index.py through the EventBridge
rules of template.yml, runs the reconcile handler on a timer, and streams the outcome lines.
Drive it with the real SDK or CLI pointed at the port (the key pair is printed at start).
With --demo it runs a scripted scenario, prints the resulting bindings and exits.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rolebinder.cli import EXIT_FAILED, EXIT_OK
from rolebinder.deploy.checkout import ROOT, TEMPLATE
from rolebinder.entrypoints import config
from rolebinder.errors import InputError
from rolebinder.mapping.model import load_mapping

if TYPE_CHECKING:
    from rolebinder.local.bus import LocalBus
    from rolebinder.local.org import Member

DEFAULT_MAPPING = ROOT / "examples" / "mapping.yaml"
ACCOUNT_ID = "1234567890123456"
# The network the local cloud starts with, so instances can be launched into a VPC at once.
LOCAL_VPC = "vpc-bp1local00000000001"
LOCAL_VSWITCH = "vsw-bp1local00000000001"


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "local",
        help="fake cloud + event bus + handlers, on this machine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--mapping",
        type=Path,
        help=f"mapping file (default ${config.MAPPING}, else {DEFAULT_MAPPING.name})",
    )
    parser.add_argument("--port", type=int, default=8790, help="API port on 127.0.0.1 (8790)")
    parser.add_argument("--seed", type=Path, help="seed file for the fake cloud (YAML or JSON)")
    parser.add_argument("--region", default="cn-hangzhou", help="region (cn-hangzhou)")
    parser.add_argument(
        "--sweep-interval",
        type=float,
        default=300.0,
        help="seconds between timer sweeps (300; 0 turns the timer off)",
    )
    parser.add_argument("--dry-run", action="store_true", help="handlers decide but write nothing")
    parser.add_argument(
        "--template",
        type=Path,
        default=TEMPLATE,
        help="template whose EventBridge rules route the events",
    )
    parser.add_argument(
        "--members",
        type=int,
        default=0,
        metavar="N",
        help="run as a hub serving N member accounts, each with its member role (the demo: 2, "
        "the second one never onboarded)",
    )
    parser.add_argument("--demo", action="store_true", help="run the scripted demo, then exit")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Local mode is the fake: imported here, so no other command pays for it.
    from fakecloud import FakeCloudServer  # noqa: PLC0415
    from rolebinder.local.bus import LocalBus, rules_from_template  # noqa: PLC0415
    from rolebinder.local.org import connect_functions  # noqa: PLC0415

    mapping_path = _mapping_path(args)
    load_mapping(mapping_path)  # invalid mapping: exit 2 before anything starts
    rules = rules_from_template(args.template)
    cloud = _local_cloud(args)
    members = _members(cloud, args)
    try:
        server = FakeCloudServer(cloud, port=args.port).start()
    except OSError as error:
        raise InputError(f"cannot listen on 127.0.0.1:{args.port}: {error.strerror}") from None
    _configure_handlers(server.url, mapping_path, args)
    if members:
        _configure_hub(server.url, [m.account_id for m in members])
    bus = LocalBus(
        rules, args.region, ACCOUNT_ID, members=frozenset(m.account_id for m in members)
    ).start()
    cloud.events.subscribe(bus.publish)
    connect_functions(cloud, bus, ACCOUNT_ID, args.region)
    _announce(server.url, mapping_path)
    try:
        if args.demo:
            return _demo(server.url, bus, cloud, args, members)
        return _serve(bus, args)
    finally:
        bus.stop()
        server.stop()


def _members(cloud: Any, args: argparse.Namespace) -> list[Member]:
    from rolebinder.local.org import seed_members  # noqa: PLC0415

    count = 2 if args.demo and not args.members else args.members
    if not 0 <= count <= 100:
        raise InputError(f"--members {count}: use 0 (one account) to 100")
    if not count:
        return []
    role = os.environ.get(config.MEMBER_ROLE) or config.DEFAULT_MEMBER_ROLE
    return seed_members(cloud, ACCOUNT_ID, args.region, count, role, broken=args.demo)


def _configure_hub(url: str, members: list[str]) -> None:
    """What template.yml's hub switch gives the functions: the members, the fan-out target,
    the function role's session credentials; the endpoints point at the local fake."""
    from rolebinder.local.org import HUB_KEY_ID, HUB_KEY_SECRET, HUB_TOKEN  # noqa: PLC0415

    os.environ.update(
        {
            config.ACCOUNTS: ",".join(members),
            config.RECONCILE_FUNCTION: "reconcile",
            config.STS_ENDPOINT: url,
            config.RESOURCEMANAGER_ENDPOINT: url,
            config.FC_ENDPOINT: url,
            config.ACCESS_KEY_ID: HUB_KEY_ID,
            config.ACCESS_KEY_SECRET: HUB_KEY_SECRET,
            config.SECURITY_TOKEN: HUB_TOKEN,
        }
    )


def _mapping_path(args: argparse.Namespace) -> Path:
    if args.mapping:
        return args.mapping
    return Path(os.environ.get(config.MAPPING) or DEFAULT_MAPPING)


def _local_cloud(args: argparse.Namespace) -> Any:
    from fakecloud import FakeCloud, apply_seed, load_seed_file  # noqa: PLC0415

    cloud = FakeCloud()
    network = {
        "vpcs": [
            {
                "vpc_id": LOCAL_VPC,
                "vswitches": [
                    {
                        "vswitch_id": LOCAL_VSWITCH,
                        "zone_id": f"{args.region}-h",
                        "cidr": "172.16.8.0/24",
                    }
                ],
            }
        ]
    }
    apply_seed(cloud, {"account_id": ACCOUNT_ID, "regions": {args.region: network}})
    if args.seed:
        apply_seed(cloud, {"account_id": ACCOUNT_ID, **load_seed_file(args.seed)})
    return cloud


def _configure_handlers(url: str, mapping: Path, args: argparse.Namespace) -> None:
    """The environment FC would give the functions, pointed at the local fake cloud."""
    from fakecloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET  # noqa: PLC0415

    os.environ.update(
        {
            config.MAPPING: str(mapping.resolve()),
            config.ECS_ENDPOINT: url,
            config.RAM_ENDPOINT: url,
            config.ACCESS_KEY_ID: DEFAULT_ACCESS_KEY_ID,
            config.ACCESS_KEY_SECRET: DEFAULT_ACCESS_KEY_SECRET,
            config.FC_REGION: args.region,
            config.ACCOUNT_ID: ACCOUNT_ID,
            config.REGIONS: args.region,
            config.DRY_RUN: "1" if args.dry_run else "0",
            config.VISIBILITY_WAIT: "5",
        }
    )
    os.environ.pop(config.SECURITY_TOKEN, None)


def _announce(url: str, mapping: Path) -> None:
    from fakecloud import DEFAULT_ACCESS_KEY_ID  # noqa: PLC0415

    print(
        f"# fake cloud on {url} (admin: {url}/_fake/state), account {ACCOUNT_ID}, "
        f"VPC {LOCAL_VPC} / vSwitch {LOCAL_VSWITCH}",
        file=sys.stderr,
    )
    # Secrets are never printed, not even the fake's own: its default pair is in README.
    print(
        f"# AccessKey id {DEFAULT_ACCESS_KEY_ID} (the fake's default test key), mapping {mapping}",
        file=sys.stderr,
    )


def _serve(bus: LocalBus, args: argparse.Namespace) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    interval = args.sweep_interval if args.sweep_interval > 0 else None
    while not stop.wait(interval):
        bus.invoke_timer()
    return EXIT_OK


def _demo(
    url: str, bus: LocalBus, cloud: Any, args: argparse.Namespace, members: list[Member]
) -> int:
    from rolebinder.local.demo import run_demo  # noqa: PLC0415

    ok = run_demo(url, bus, cloud, args.region, LOCAL_VSWITCH, members)
    return EXIT_OK if ok else EXIT_FAILED
