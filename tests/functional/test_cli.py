"""`rolebinder replay` and `rolebinder validate-mapping` through `rolebinder.cli.main`.

Exit codes: 0 done, 1 some instance failed, 2 unusable input reported on one stderr line with
no API call made.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakecloud import FakeCloud
from tests.functional.conftest import EXAMPLE_MAPPING, ecs_state
from tests.support import EVENTS

PAY1 = "i-bp1payments0000000001"
PAY2 = "i-bp1payments0000000002"
CREATED = str(EVENTS / "eventbridge-ecs-instance-statechange-created.json")
RUN_INSTANCES = str(EVENTS / "actiontrail-ecs-runinstances.json")


# -- replay -------------------------------------------------------------------------------------


def test_replay_runs_the_handler_path_and_exits_0(seeded: FakeCloud, handler_env, cli) -> None:
    # WHEN two event files are replayed
    result = cli("replay", CREATED, RUN_INSTANCES)

    # THEN stdout holds only the outcome lines, in file order; the summaries go to stderr
    assert result.code == 0
    assert [(line["instance_id"], line["outcome"]) for line in result.lines] == [
        (PAY1, "attached"),
        (PAY1, "unchanged"),
        (PAY2, "attached"),
    ]
    assert {line["kind"] for line in result.lines} == {"outcome"}
    summaries = [json.loads(line) for line in result.err_lines]
    assert [s["kind"] for s in summaries] == ["summary", "summary"]
    assert [s["event_file"] for s in summaries] == [CREATED, RUN_INSTANCES]
    assert ecs_state(seeded)[PAY1] == ecs_state(seeded)[PAY2] == "Payments"


def test_replay_dry_run_writes_nothing(seeded: FakeCloud, handler_env, cli) -> None:
    result = cli("replay", "--dry-run", RUN_INSTANCES)

    assert result.code == 0
    assert [(line["outcome"], line["dry_run"]) for line in result.lines] == [
        ("attached", True),
        ("attached", True),
    ]
    assert seeded.calls.writes(ok_only=False) == []


def test_replay_exits_1_when_an_instance_failed(
    seeded: FakeCloud, handler_env, write_mapping, cli
) -> None:
    # GIVEN a mapping whose role for payments does not trust ECS
    bad_role = write_mapping(
        {
            "version": 1,
            "roles": ["FcOnly"],
            "rules": [{"name": "p", "when": {"tags": {"team": "payments"}}, "role": "FcOnly"}],
        }
    )

    result = cli("replay", "--mapping", str(bad_role), CREATED)

    assert result.code == 1
    [line] = result.lines
    assert (line["outcome"], line["reason"]) == ("failed", "role-not-trusted")
    assert seeded.calls.count("AttachInstanceRamRole") == 0


def test_replay_exits_1_on_a_transient_failure_too(seeded: FakeCloud, handler_env, cli) -> None:
    # GIVEN an Attach that throttles one instance's item (the handler would raise RetryLater)
    seeded.faults.fail_instances("AttachInstanceRamRole", [PAY2], "Throttling")

    result = cli("replay", RUN_INSTANCES)

    assert result.code == 1
    assert {line["instance_id"]: line["outcome"] for line in result.lines} == {
        PAY1: "attached",
        PAY2: "failed",
    }


@pytest.fixture
def bad_inputs(tmp_path: Path) -> dict[str, list[str]]:
    malformed = tmp_path / "malformed.json"
    malformed.write_text('{"specversion": "1.0", "source": ', encoding="utf-8")
    invalid_mapping = tmp_path / "invalid.yaml"
    invalid_mapping.write_text("version: 2\nroles: []\n", encoding="utf-8")
    return {
        "malformed-file": ["replay", str(malformed)],
        "malformed-batch-element": ["replay", str(EVENTS / "batch-mixed-events.json")],
        "directory": ["replay", str(tmp_path)],
        "missing-file": ["replay", str(tmp_path / "absent.json")],
        "good-then-missing": ["replay", CREATED, str(tmp_path / "absent.json")],
        "invalid-mapping": ["replay", "--mapping", str(invalid_mapping), CREATED],
        "missing-mapping": ["replay", "--mapping", str(tmp_path / "absent.yaml"), CREATED],
        "no-event-file": ["replay"],
        "unknown-option": ["replay", "--bogus", CREATED],
        "unknown-command": ["frobnicate"],
    }


@pytest.mark.parametrize(
    "case",
    [
        "malformed-file",
        "malformed-batch-element",
        "directory",
        "missing-file",
        "good-then-missing",
        "invalid-mapping",
        "missing-mapping",
        "no-event-file",
        "unknown-option",
        "unknown-command",
    ],
)
def test_unusable_input_exits_2_with_one_line_and_no_call(
    seeded: FakeCloud, handler_env, cli, bad_inputs: dict[str, list[str]], case: str
) -> None:
    result = cli(*bad_inputs[case])

    assert result.code == 2
    assert len(result.err_lines) == 1, result.err
    assert "error" in result.err_lines[0]
    assert result.out == ""
    assert seeded.calls.all() == []
    assert set(ecs_state(seeded).values()) == {None}


def test_replay_without_credentials_exits_2_before_any_call(
    seeded: FakeCloud, handler_env, cli
) -> None:
    handler_env.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
    handler_env.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")

    result = cli("replay", CREATED, RUN_INSTANCES)

    assert result.code == 2
    assert len(result.err_lines) == 1
    assert "no credentials" in result.err
    assert seeded.calls.all() == []


def test_the_error_line_names_the_file(seeded: FakeCloud, handler_env, cli, tmp_path) -> None:
    absent = tmp_path / "absent.json"

    result = cli("replay", str(absent))

    assert result.err_lines == [
        f"rolebinder replay: error: {absent}: cannot read: No such file or directory"
    ]


# -- validate-mapping ---------------------------------------------------------------------------


def test_validate_mapping_accepts_the_example(cli) -> None:
    result = cli("validate-mapping", str(EXAMPLE_MAPPING))

    assert result.code == 0
    assert result.out == (f"{EXAMPLE_MAPPING}: valid: 3 rule(s), allow-list: AppReader, Payments\n")
    assert result.err == ""


def test_validate_mapping_json(cli) -> None:
    result = cli("validate-mapping", "--json", str(EXAMPLE_MAPPING))

    assert result.code == 0
    assert json.loads(result.out) == {
        "valid": True,
        "file": str(EXAMPLE_MAPPING),
        "roles": ["AppReader", "Payments"],
        "rules": ["payments-prod", "by-role-tag", "build-agents"],
    }


def test_validate_mapping_lists_every_problem(cli, write_mapping) -> None:
    # GIVEN two structural problems (semantic checks only run on a well-formed mapping)
    rule = {"name": "p", "priority": "high", "when": {"tags": {"team": "x"}}, "role": "AppReader"}
    path = write_mapping(
        {"version": 1, "roles": ["AppReader"], "rules": [rule], "on_no_match": "remove"}
    )

    result = cli("validate-mapping", str(path))

    assert result.code == 2
    assert result.out == ""
    assert result.err_lines == [
        f"{path}: invalid mapping (2 problems)",
        '  on_no_match: must be one of keep, detach, got "remove"',
        '  rules[0].priority: expected an integer, got string "high"',
    ]


def test_validate_mapping_of_a_missing_file(cli, tmp_path: Path) -> None:
    absent = tmp_path / "absent.yaml"

    result = cli("validate-mapping", str(absent))

    assert result.code == 2
    assert result.err_lines == [f"{absent}: invalid mapping: file not found"]
