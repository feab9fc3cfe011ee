"""Every command given a missing file, a directory, an unreadable file or a bad argument exits 2
with one clear line on stderr, and makes no API call."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakecloud import FakeCloud
from tests.functional.conftest import EXAMPLE_MAPPING
from tests.support import make_unreadable

EVENT = "events/eventbridge-ecs-instance-statechange-running.json"
REGION = ["--region", "cn-hangzhou"]

# command -> how to run it with FILE in the place of its input file
COMMANDS = {
    "validate-mapping": ["validate-mapping", "{file}"],
    "replay (event)": ["replay", "{file}", "--mapping", str(EXAMPLE_MAPPING)],
    "replay (mapping)": ["replay", EVENT, "--mapping", "{file}"],
    "plan": ["plan", *REGION, "--mapping", "{file}"],
    "apply": ["apply", *REGION, "--mapping", "{file}"],
    "adopt": ["adopt", *REGION, "--mapping", "{file}"],
    "explain": ["explain", "i-bp1payments0000000001", *REGION, "--mapping", "{file}"],
    "policy": ["policy", "--account-id", "1234567890123456", "--mapping", "{file}"],
    "build": ["build", "--mapping", "{file}", "--out", "{tmp}/dist"],
    "local": ["local", "--mapping", "{file}", "--port", "0"],
    "fake-cloud (seed)": ["fake-cloud", "--seed", "{file}", "--port", "0"],
    "fake-cloud (faults)": ["fake-cloud", "--faults", "{file}", "--port", "0"],
    "invoke": ["invoke", "instance_events", "{file}", *REGION, "--account-id", "1234567890123456"],
}


def argv(command: str, file: Path, tmp: Path) -> list[str]:
    return [a.format(file=file, tmp=tmp) for a in COMMANDS[command]]


@pytest.fixture
def unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "unreadable.yaml"
    path.write_text("version: 1\n")
    return make_unreadable(path, monkeypatch)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("kind", ["missing", "directory", "unreadable"])
def test_a_bad_input_file_exits_2_with_one_line(
    seeded: FakeCloud,
    handler_env,
    cli,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    command: str,
    kind: str,
) -> None:
    file = {
        "missing": lambda: tmp_path / "nope.yaml",
        "directory": lambda: tmp_path,
        "unreadable": lambda: request.getfixturevalue("unreadable"),
    }[kind]()

    done = cli(*argv(command, file, tmp_path))

    assert done.code == 2, done.err
    assert len(done.err_lines) == 1, done.err
    if kind == "unreadable":  # the PermissionError path itself, not some other refusal
        assert "permission denied" in done.err.lower(), done.err
    assert seeded.calls.all() == []


@pytest.mark.parametrize("command", sorted({c.split()[0] for c in COMMANDS}))
def test_an_unknown_option_exits_2_with_one_line(
    seeded: FakeCloud, handler_env, cli, command: str
) -> None:
    done = cli(command, "--no-such-option")

    assert done.code == 2
    assert len(done.err_lines) == 1, done.err
    assert seeded.calls.all() == []
