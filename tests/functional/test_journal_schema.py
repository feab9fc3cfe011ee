"""Journal lines, as the handlers write them against the fake cloud, against
docs/outcome.schema.json: every kind validates, and the schema is closed, so a field or a value
the code starts writing without declaring it fails here (and the Log Service index, dashboard and
alerts, which are checked against the same schema in tests/deploy/test_log_service.py, follow).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from fakecloud import FakeCloud
from tests.functional.conftest import event_bytes, seed_world, state_event, timer_event, vm
from tests.support import ROOT

SCHEMA = json.loads((ROOT / "docs" / "outcome.schema.json").read_text(encoding="utf-8"))
ESCALATION = "i-bp1schemaescalate001"
REFUSED = "i-bp1schemarefused0001"
CLASSIC = "i-bp1schemaclassic0001"
PLAIN = "i-bp1schemaplain000001"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    return jsonschema.Draft202012Validator(SCHEMA)


@pytest.fixture
def journal_lines(cloud: FakeCloud, invoke) -> list[dict[str, Any]]:
    """The lines of a day's worth of situations: binds, refusals, failures, a sweep, an empty
    region, an unusable event and an event from another account."""
    seed_world(
        cloud,
        [
            vm(ESCALATION, {"ram-role": "Admin"}),
            vm(REFUSED, {"ram-role": "AppReader"}),
            vm(CLASSIC, {"team": "payments", "env": "prod"}, network="classic"),
            vm(PLAIN),
        ],
    )
    cloud.faults.fail_instances("AttachInstanceRamRole", [REFUSED], "Forbidden.RiskControl")
    runs = [
        invoke("instance_events", state_event(ESCALATION)),
        invoke("instance_events", state_event(REFUSED)),
        invoke("reconcile", timer_event()),
        invoke("reconcile", timer_event(["cn-beijing"])),
        invoke("instance_events", b'{"specversion": "1.0", "source": '),
        invoke(
            "instance_events",
            event_bytes("eventbridge-ecs-instance-statechange-foreign-account.json"),
        ),
    ]
    return [line for run in runs for line in run.lines]


def test_every_line_the_handlers_write_fits_the_schema(
    journal_lines: list[dict[str, Any]], validator: jsonschema.Draft202012Validator
) -> None:
    # GIVEN the lines of many situations, of every kind
    kinds = {line["kind"] for line in journal_lines}
    outcomes = {line["outcome"] for line in journal_lines if line["kind"] == "outcome"}
    reasons = {line["reason"] for line in journal_lines if line["kind"] == "outcome"}
    assert kinds == {"outcome", "summary", "error", "warning"}
    assert {"skipped", "failed", "ignored", "attached"} <= outcomes
    assert {"role-not-allowed", "classic-network", "foreign-account"} <= reasons
    # THEN each one validates
    problems = [
        f"{line}: {error.message}"
        for line in journal_lines
        for error in validator.iter_errors(line)
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        ("outcome", {"surprise": 1}),
        ("outcome", {"reason": "made-up-reason"}),
        ("outcome", {"mode": "yolo"}),
        ("summary", {"calls": -1}),
        ("summary", {"outcomes": {"exploded": 1}}),
        ("warning", {"warning": "not-a-warning-code"}),
        ("error", {"instance_id": "i-1"}),
    ],
)
def test_the_schema_is_closed(
    journal_lines: list[dict[str, Any]],
    validator: jsonschema.Draft202012Validator,
    kind: str,
    change: dict[str, Any],
) -> None:
    # GIVEN a real line of that kind with an undeclared field or value
    line = copy.deepcopy(next(x for x in journal_lines if x["kind"] == kind))
    assert validator.is_valid(line)
    line.update(change)
    # THEN the schema refuses it
    assert not validator.is_valid(line)


def test_the_coming_fields_are_already_declared(
    journal_lines: list[dict[str, Any]], validator: jsonschema.Draft202012Validator
) -> None:
    line = next(x for x in journal_lines if x["kind"] == "outcome")
    for mode in ("audit", "enforce"):
        assert validator.is_valid({**line, "mode": mode, "account_id": "1234567890123456"})
