"""Every sample in events/ through the real handlers, against the fake seeded with seed.yaml.

Each file's row says which handler receives it, the outcome lines it must produce, the
bindings it must leave, and the API calls it may cost. A new file in events/ without a row
fails `test_every_event_file_has_a_row`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

from fakecloud import FakeCloud
from tests.functional.conftest import ecs_state, event_bytes
from tests.support import EVENTS

PAY1 = "i-bp1payments0000000001"
PAY2 = "i-bp1payments0000000002"
READER = "i-bp1reader00000000001"
CLASSIC = "i-bp1classic0000000001"
NOTAGS = "i-bp1notags00000000001"
SEED_BINDINGS: dict[str, str | None] = dict.fromkeys((PAY1, PAY2, READER, CLASSIC, NOTAGS))

# (instance_id, outcome, reason, role, rule, event_id); previous_role is None everywhere, since
# no seeded instance has a role.
Line = tuple[str | None, str, str, str | None, str | None, str | None]


def attached(instance: str, role: str, rule: str, event_id: str) -> Line:
    return (instance, "attached", "rule-matched", role, rule, event_id)


def payments(instance: str, event_id: str) -> Line:
    return attached(instance, "Payments", "payments-prod", event_id)


def reader(event_id: str) -> Line:
    return attached(READER, "AppReader", "by-role-tag", event_id)


def no_match(instance: str, event_id: str) -> Line:
    return (instance, "skipped", "no-matching-rule", None, None, event_id)


def ignored(instance: str | None, reason: str, event_id: str) -> Line:
    return (instance, "ignored", reason, None, None, event_id)


@dataclass(frozen=True)
class Row:
    handler: str
    lines: list[Line]
    # Instances whose binding the event changes (the rest keep their seeded binding: none).
    bound: dict[str, str] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)


def reads(instances: int = 1, roles: int = 1) -> dict[str, int]:
    return {"DescribeInstances": instances, "DescribeInstanceRamRole": roles}


def binds(checks: int = 1, roles: int = 1) -> dict[str, int]:
    """The calls of `checks` instance checks that attach `roles` distinct roles (cold cache):
    each role's ownership marker, then its attach."""
    return {
        **reads(checks, checks),
        "GetRole": roles,
        "TagResources": roles,
        "AttachInstanceRamRole": roles,
    }


TIMER_ID = "timer:rolebinder-sweep:2024-05-14T02:40:00Z"
ROWS: dict[str, Row] = {
    "actiontrail-ecs-addtags.json": Row(
        "tag_events",
        [payments(PAY1, "0C4E8A2D-6F9B-4135-A7C0-9E3B5D1F7A62")],
        {PAY1: "Payments"},
        binds(),
    ),
    "actiontrail-ecs-removetags.json": Row(
        "tag_events", [no_match(NOTAGS, "9A3D7F1B-5C8E-4024-B6A9-2F4C8E0D6B17")], {}, reads()
    ),
    "actiontrail-ecs-runinstances.json": Row(
        "instance_events",
        [
            payments(PAY1, "5E1B7C9A-3F2D-4A8B-9C6E-1D4F7A2B8E53"),
            payments(PAY2, "5E1B7C9A-3F2D-4A8B-9C6E-1D4F7A2B8E53"),
        ],
        {PAY1: "Payments", PAY2: "Payments"},
        binds(),  # one DescribeInstances and one Attach for both instances
    ),
    "batch-mixed-events.json": Row(
        "instance_events",
        [
            reader("d2f6b0c4-8e3b-4a95-9c7d-3f9b5e1a7c40"),
            ignored(None, "malformed-event", "7F4B0D8E-2A6C-4E19-B3F5-8C1E7A4D0B92"),
            payments(PAY1, "3D9F5B1A-7C2E-4860-A4D8-0B6F2C8E4A13"),
            ignored(None, "unsupported-api-call", "5C1A7E3D-9B4F-4208-86C1-4E0A2D8B6F35"),
        ],
        {READER: "AppReader", PAY1: "Payments"},
        # Both checks are merged into one batch: one read of each kind, one Attach per role.
        binds(checks=1, roles=2),
    ),
    "cloudmonitor-ecs-instance-statechange-starting.json": Row(
        "instance_events",
        [no_match(NOTAGS, "2A9F6B1C-4D7E-4F3A-8B2C-9E1D5F7A3C64")],
        {},
        reads(),
    ),
    # The event claims ram-role=Admin; the API says AppReader, and only the API counts.
    "cloudmonitor-tag-changeonresource.json": Row(
        "tag_events",
        [reader("6E3C8A2F-91B4-4D5E-A7F0-3B8D1C6E9A25")],
        {READER: "AppReader"},
        binds(),
    ),
    "eventbridge-actiontrail-ecs-createinstance.json": Row(
        "instance_events",
        [no_match(NOTAGS, "8d2f6b0a-4c17-4e93-9a5d-1b7e3f8c0d46")],
        {},
        reads(),
    ),
    "eventbridge-actiontrail-ecs-runinstances-failed.json": Row(
        "instance_events",
        [ignored(None, "failed-api-call", "4e8b2f6d-0a35-4c71-9e4b-6f0d8a2c5e19")],
    ),
    "eventbridge-actiontrail-ecs-runinstances.json": Row(
        "instance_events",
        [reader("3a7e9c1b-5d24-4f86-b0e3-7c2a9f4d1e68")],
        {READER: "AppReader"},
        binds(),
    ),
    "eventbridge-actiontrail-ecs-tagresources.json": Row(
        "tag_events",
        [reader("1f5c9e3a-7b26-4d08-a3f1-5e9b2d7c4a80")],
        {READER: "AppReader"},
        binds(),
    ),
    "eventbridge-actiontrail-ecs-untagresources.json": Row(
        "tag_events",
        [payments(PAY2, "6b0e4a8c-2d59-4f13-8c7e-0a4d6b2f9e35")],
        {PAY2: "Payments"},
        binds(),
    ),
    "eventbridge-ecs-instance-statechange-created.json": Row(
        "instance_events",
        [payments(PAY1, "7c4f1e2a-9b3d-4e8f-a1c6-5d2b8e0f3a91")],
        {PAY1: "Payments"},
        binds(),
    ),
    # Classic network: the intended role is reported, nothing is asked of RAM or written.
    "eventbridge-ecs-instance-statechange-data-content.json": Row(
        "instance_events",
        [
            (
                CLASSIC,
                "skipped",
                "classic-network",
                "Payments",
                "payments-prod",
                "c2e9f741-6a05-4b38-9d1f-83a6e5c0b7d2",
            )
        ],
        {},
        {"DescribeInstances": 1},
    ),
    "eventbridge-ecs-instance-statechange-foreign-account.json": Row(
        "instance_events",
        [ignored(PAY1, "foreign-account", "e8a3c6f0-7d14-4b92-b5e1-2f9c0a4d8b63")],
    ),
    # A member's event routed to this bus: this deployment is not a hub, so it is foreign.
    "eventbridge-ecs-instance-statechange-routed-from-member.json": Row(
        "instance_events",
        [
            ignored(
                "i-bp1member000000001", "foreign-account", "4b7e1c9a-2d58-4f03-9e6b-8a1c5d3f7e20"
            )
        ],
    ),
    "eventbridge-ecs-instance-statechange-running.json": Row(
        "instance_events",
        [reader("0d8a5b3e-2c71-4f96-8e4a-b7c19d2f6e08")],
        {READER: "AppReader"},
        binds(),
    ),
    "eventbridge-ecs-instance-statechange-stopped.json": Row(
        "instance_events",
        [ignored(PAY2, "irrelevant-state", "5b1d7e93-4f28-4c0a-a6e2-19f8d3b5c7e4")],
    ),
    "eventbridge-oss-object-created.json": Row(
        "instance_events",
        [ignored(None, "unsupported-event", "2c6a0e4b-8d17-4f59-b3c2-7e1a5d9f0b84")],
    ),
    "eventbridge-streaming-batch.json": Row(
        "instance_events",
        [
            payments(PAY2, "a9c3e7f1-5b08-4d62-8f4a-0c6e2b8d4f17"),
            no_match(NOTAGS, "b0d4f8a2-6c19-4e73-9a5b-1d7f3c9e5a28"),
            ignored(CLASSIC, "irrelevant-state", "c1e5a9b3-7d2a-4f84-8b6c-2e8a4d0f6b39"),
        ],
        {PAY2: "Payments"},
        # The batch's checks are merged: one read of each kind for both instances.
        binds(),
    ),
    "eventbridge-tag-changeonresource.json": Row(
        "tag_events",
        [payments(PAY2, "9f2b4d6a-1e83-4c57-8a0b-d4e6f1c3a759")],
        {PAY2: "Payments"},
        binds(),
    ),
    # The sweep: one page of instances, one role read for the four VPC instances. Outcomes that
    # need no write come first; writes wait for full batches (here: the end of the sweep).
    "fc-timer-sweep.json": Row(
        "reconcile",
        [
            (CLASSIC, "skipped", "classic-network", "Payments", "payments-prod", TIMER_ID),
            no_match(NOTAGS, TIMER_ID),
            payments(PAY1, TIMER_ID),
            payments(PAY2, TIMER_ID),
            attached(READER, "AppReader", "by-role-tag", TIMER_ID),
        ],
        {PAY1: "Payments", PAY2: "Payments", READER: "AppReader"},
        binds(roles=2),
    ),
    # rolebinder's own marker write echoes back: recognised from the record alone, no call.
    "eventbridge-actiontrail-ecs-tagresources-marker.json": Row(
        "tag_events",
        [ignored(READER, "marker-only", "3c9e1a7f-5b2d-4e86-a0c4-7f1b3d9e5a20")],
    ),
}
EVENT_FILES = sorted(path.name for path in EVENTS.glob("*.json"))


def projection(line: dict[str, object]) -> Line:
    return (
        line["instance_id"],  # type: ignore[return-value]
        line["outcome"],
        line["reason"],
        line["role"],
        line["rule"],
        line["event_id"],
    )


def test_every_event_file_has_a_row() -> None:
    assert sorted(ROWS) == EVENT_FILES


@pytest.mark.parametrize("name", EVENT_FILES)
def test_event_file(name: str, seeded: FakeCloud, invoke) -> None:
    # GIVEN the seeded world (no instance has a role) and the example mapping
    row = ROWS[name]

    # WHEN the file is delivered, as bytes, to the handler that subscribes to it
    run = invoke(row.handler, event_bytes(name))

    # THEN the handler returns its summary, with one outcome line per instance or ignored event
    assert run.error is None
    assert [projection(line) for line in run.outcomes] == row.lines
    for line in run.outcomes:
        assert line["previous_role"] is None
        assert line["dry_run"] is False
        assert line["function"] == row.handler
        assert "error_code" not in line
    assert run.result == run.summary
    assert run.summary["outcomes"] == dict(Counter(line[1] for line in row.lines))
    # AND the cloud holds exactly the bindings the row names, reached with the calls it names
    assert ecs_state(seeded) == {**SEED_BINDINGS, **row.bound}
    assert dict(seeded.calls.counts()) == row.calls
    assert all(call.ok for call in seeded.calls.all())


def test_admin_tag_in_an_event_never_reaches_ram(seeded: FakeCloud, invoke) -> None:
    # WHEN the tag event claiming ram-role=Admin is handled
    invoke("tag_events", event_bytes("cloudmonitor-tag-changeonresource.json"))

    # THEN only AppReader (what the API shows) was looked up and attached: Admin was never named
    named = {
        call.params.get("RoleName") or call.params.get("RamRoleName") for call in seeded.calls.all()
    }
    assert named == {None, "AppReader"}
    marker, attach = seeded.calls.writes()
    assert marker.params["Tag.1.Value"] == attach.params["RamRoleName"] == "AppReader"


def test_all_files_in_sequence_converge(seeded: FakeCloud, invoke) -> None:
    # WHEN every sample is delivered in turn to a warm container
    runs = [invoke(ROWS[name].handler, event_bytes(name)) for name in EVENT_FILES]

    # THEN every handler returned, and each instance was attached once, by the first event
    # naming it; later events found it already bound
    assert [run.error for run in runs] == [None] * len(runs)
    attached_lines = [
        line for run in runs for line in run.outcomes if line["outcome"] == "attached"
    ]
    assert sorted(line["instance_id"] for line in attached_lines) == sorted([PAY1, PAY2, READER])
    unchanged = Counter(
        line["instance_id"]
        for run in runs
        for line in run.outcomes
        if line["outcome"] == "unchanged"
    )
    assert unchanged == {PAY1: 4, PAY2: 4, READER: 5}
    assert ecs_state(seeded) == {
        PAY1: "Payments",
        PAY2: "Payments",
        READER: "AppReader",
        CLASSIC: None,
        NOTAGS: None,
    }
    # AND no write was repeated or undone, and each role was checked once (the container's cache)
    writes = seeded.calls.writes()
    assert Counter(call.action for call in writes) == {
        "AttachInstanceRamRole": 3,
        "TagResources": 3,
    }
    assert len(seeded.calls.writes(ok_only=False)) == len(writes) == 6
    assert seeded.calls.count("GetRole") == 2
