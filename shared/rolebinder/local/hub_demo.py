"""The hub part of the demo: a member account launches instances, the hub binds them from its
events; the timer sweep fans out one invocation per account; a member that never deployed
member.yml fails alone. Everything through the real SDKs, against the local fake."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aliyunsdkcore.client import AcsClient
from rich.table import Table

from rolebinder.cli.options import console as session_console
from rolebinder.cli.text import cell
from rolebinder.local.org import MEMBER_VSWITCH, Member
from rolebinder.local.steps import OutcomeTap, launch, say, settle
from rolebinder.local.steps import roles as bound_roles

if TYPE_CHECKING:
    from rolebinder.local.bus import LocalBus

# name -> (tags at launch, role expected under examples/mapping.yaml)
MEMBER_FLEET = {
    "member-payments": ({"team": "payments", "env": "prod"}, "Payments"),
    "member-reports": ({"ram-role": "AppReader"}, "AppReader"),
}


@dataclass
class HubDemo:
    client: AcsClient
    member: Member
    broken: list[Member]
    ids: dict[str, str]

    def report(self, tap: OutcomeTap) -> bool:
        """Print the member's bindings and the broken members' lines; True when as promised."""
        roles = bound_roles(self.client, list(self.ids.values()))
        table = Table(title="the hub's bindings in its member accounts")
        for column in ("account", "instance", "name", "role", "outcome", "ok"):
            table.add_column(column, no_wrap=column in ("account", "instance"))
        good = True
        for name, instance_id in self.ids.items():
            line = tap.last.get(instance_id, {})
            ok = roles.get(instance_id) == MEMBER_FLEET[name][1]
            good = good and ok
            outcome = f"{line.get('outcome', '-')} ({line.get('reason', '-')})"
            row = (self.member.account_id, instance_id, name, roles.get(instance_id, "-"))
            table.add_row(*map(cell, (*row, outcome, "yes" if ok else "NO")))
        for member in self.broken:
            line = tap.unreached.get(member.account_id, {})
            ok = line.get("reason") == "assume-role-denied"
            good = good and ok
            outcome = f"{line.get('outcome', '-')} ({line.get('reason', '-')})"
            row = (member.account_id, "-", "(no member role)", "-", outcome, "yes" if ok else "NO")
            table.add_row(*map(cell, row))
        console = session_console()
        console.print(table)
        console.print("every member is served; the broken one failed alone" if good else "NOT")
        return good


def run_hub_demo(
    url: str,
    bus: LocalBus,
    functions: Any,
    region: str,
    members: Sequence[Member],
    tap: OutcomeTap,
) -> HubDemo:
    """Launch instances in the first onboarded member, let its events reach the hub, then run
    the timer sweep, which fans out one invocation per account."""
    member = next(m for m in members if m.onboarded)
    client = _member_client(url, region, member)
    say(
        f"hub: member account {member.account_id} launches "
        + ", ".join(f"{n} {t}" for n, (t, _) in MEMBER_FLEET.items())
    )
    ids = {
        name: launch(client, name, tags, MEMBER_VSWITCH) for name, (tags, _) in MEMBER_FLEET.items()
    }
    settle(client, bus, list(ids.values()))
    accounts = 1 + len(members)
    say(f"hub: the timer sweep fans out one invocation per account ({accounts})")
    bus.invoke_timer()
    # The fan-out reaches the bus through the fake's FC API, on the fake's threads: wait for
    # the timer's run, then for FC to hand each invocation over, then for those runs.
    bus.wait_idle(1.0)
    functions.wait(timeout=30)
    bus.wait_idle(1.0)
    broken = [m for m in members if not m.onboarded]
    return HubDemo(client, member, broken, ids)


def _member_client(url: str, region: str, member: Member) -> Any:
    client = AcsClient(member.access_key_id, member.access_key_secret, region, auto_retry=False)
    client.add_endpoint(region, "Ecs", url)
    return client
