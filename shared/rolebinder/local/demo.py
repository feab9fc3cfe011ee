"""The scripted demo of local mode, driven entirely through the real SDK.

Creates roles, launches VPC and classic instances with various tags, changes tags, waits for
the handlers to settle, then prints the bindings and checks each one against what the example
mapping (examples/mapping.yaml) promises.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from aliyunsdkcore.client import AcsClient
from rich.table import Table

from rolebinder.cli.options import console as session_console
from rolebinder.cli.text import cell
from rolebinder.domain.ownership import MARKER_KEY, is_reserved
from rolebinder.local.bus import LocalBus
from rolebinder.local.hub_demo import run_hub_demo
from rolebinder.local.org import Member
from rolebinder.local.steps import (
    OutcomeTap,
    call,
    create_role,
    describe,
    launch,
    roles,
    say,
    settle,
    tag,
)

# name -> (tags at launch, VPC?, role expected at the end under examples/mapping.yaml)
FLEET = {
    "payments-api": ({"team": "payments", "env": "prod"}, True, "Payments"),
    "payments-canary": ({"team": "payments", "env": "prod"}, True, "Payments"),
    "reports": ({"ram-role": "AppReader"}, True, "AppReader"),
    "escalation-attempt": ({"ram-role": "Admin"}, True, None),  # Admin is not allow-listed
    "legacy-classic": ({"team": "payments", "env": "prod"}, False, None),  # classic: no roles
    "scratch": ({}, True, "AppReader"),  # gets a ram-role tag later
    # The build-agents rule runs in audit mode: decided and logged (AppReader), never written.
    "ci-runner": ({"ci-runner": "gitlab"}, True, None),
}
# Tag changes after launch: the scratch box asks for AppReader; the canary leaves prod but
# keeps Payments, because examples/mapping.yaml says on_no_match: keep.
RETAG = {"scratch": {"ram-role": "AppReader"}, "payments-canary": {"env": "dev"}}


def run_demo(
    url: str, bus: LocalBus, cloud: Any, region: str, vswitch: str, members: Sequence[Member] = ()
) -> bool:
    """Run the scenario (and the hub's, with `members`); True when every instance ends in the
    state the mapping promises."""
    tap = OutcomeTap(sys.stdout)
    sys.stdout = tap  # type: ignore[assignment] - the handlers print outcome lines to stdout
    try:
        client = _client(url, region)
        say("creating roles AppReader, Payments (allow-listed) and Admin (not)")
        for role in ("AppReader", "Payments", "Admin"):
            call(client, create_role(role))
        say("launching instances")
        ids = {
            name: launch(client, name, tags, vswitch if vpc else None)
            for name, (tags, vpc, _) in FLEET.items()
        }
        settle(client, bus, list(ids.values()))
        say("changing tags: " + "; ".join(f"{n} {t}" for n, t in RETAG.items()))
        for name, tags in RETAG.items():
            call(client, tag(ids[name], tags))
        settle(client, bus, list(ids.values()))
        _breaker_drill(region)
        hub = run_hub_demo(url, bus, cloud.functions, region, members, tap) if members else None
    finally:
        sys.stdout = tap.stream  # type: ignore[assignment]
    ok = _report(client, ids, tap)
    return ok and (hub is None or hub.report(tap))


def _breaker_drill(region: str) -> None:
    """A bad mapping change (payments-prod now grants AppReader, unmatched roles detached),
    limited to one change per run: the sweep plans more, so the breaker writes nothing."""
    import tempfile  # noqa: PLC0415 - demo only

    import yaml  # noqa: PLC0415

    from rolebinder.aliyun.retry import Deadline  # noqa: PLC0415
    from rolebinder.entrypoints import config  # noqa: PLC0415
    from rolebinder.entrypoints.wiring import (  # noqa: PLC0415
        build_engine,
        credentials_from,
        runtime_from,
    )

    with open(os.environ[config.MAPPING], encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    for rule in document["rules"]:
        if rule.get("role") == "Payments":
            rule["role"] = "AppReader"
    document.update(on_existing_role="replace", on_no_match="detach", limits={"max_changes": 1})
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as bad:
        yaml.safe_dump(document, bad)
    env = {**os.environ, config.MAPPING: bad.name}
    engine = build_engine(runtime_from(env), credentials_from(env), region, Deadline(60.0))
    held = [o for o in engine.sweep(region, "demo:breaker-drill") if o.reason == "circuit-open"]
    os.unlink(bad.name)
    tripped = engine.breaker.tripped
    verdict = tripped.sentence() if tripped else "the breaker stayed closed"
    say(f"breaker drill (a bad mapping change, limits.max_changes 1): {verdict}")
    say(f"breaker drill: {len(held)} instance(s) held back, nothing written")


def _client(url: str, region: str) -> AcsClient:
    from fakecloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET  # noqa: PLC0415

    client = AcsClient(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, region, auto_retry=False)
    client.add_endpoint(region, "Ecs", url)
    client.add_endpoint(region, "Ram", url)
    return client


def _report(client: AcsClient, ids: dict[str, str], tap: OutcomeTap) -> bool:
    instances = {i["InstanceId"]: i for i in describe(client, list(ids.values()))}
    vpc_ids = [i for i, d in instances.items() if d["InstanceNetworkType"] == "vpc"]
    bound = roles(client, vpc_ids)
    table = Table(title="bindings after the demo (read back through the SDK)")
    columns = ("instance", "name", "network", "tags", "role", "owned", "outcome", "mode", "ok")
    for column in columns:
        table.add_column(column, no_wrap=column == "instance")
    all_good = True
    for name, instance_id in ids.items():
        described = instances[instance_id]
        tags = {t["TagKey"]: t["TagValue"] for t in described.get("Tags", {}).get("Tag", [])}
        outcome = tap.last.get(instance_id, {})
        good = bound.get(instance_id) == FLEET[name][2]
        all_good = all_good and good
        shown = ", ".join(f"{k}={v}" for k, v in tags.items() if not is_reserved(k))
        marked = tags.get(MARKER_KEY)
        row = (
            instance_id,
            name,
            described["InstanceNetworkType"],
            shown or "-",
            bound.get(instance_id, "-"),
            "yes" if marked and marked == bound.get(instance_id) else "-",
            f"{outcome.get('outcome', '-')} ({outcome.get('reason', '-')})",
            outcome.get("mode", "-"),
            "yes" if good else "NO",
        )
        table.add_row(*map(cell, row))
    console = session_console()
    console.print(table)
    console.print(
        "every instance is in its mapped state"
        if all_good
        else "some instances are NOT in their mapped state"
    )
    return all_good
