"""A command imports what it needs: only local and fake-cloud load the fake cloud."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import PYTHONPATH, ROOT

RUN = """
import contextlib, io, json, sys
from rolebinder.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
fake = ("fakecloud", "rolebinder.local")
loaded = [m for m in sys.modules if m.split(".")[0] == "fakecloud" or m.startswith(fake[1])]
print(json.dumps({"code": code, "loaded": sorted(loaded)}))
"""
PARSE = """
import sys
from rolebinder.cli import build_parser
build_parser(sys.argv[1:])
print("fakecloud" in sys.modules)
"""


def child(script: str, *argv: str) -> str:
    mapping = str(ROOT / "examples" / "mapping.yaml")
    env = {"PYTHONPATH": PYTHONPATH, "ROLEBINDER_MAPPING": mapping}
    command = [sys.executable, "-c", script, *argv]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(
    "argv",
    [
        ("policy", "--guard"),
        ("policy", "--account-id", "1234567890123456"),
        ("validate-mapping", "examples/mapping.yaml"),
    ],
)
def test_an_operator_command_does_not_import_the_fake(argv: tuple[str, ...]) -> None:
    assert json.loads(child(RUN, *argv)) == {"code": 0, "loaded": []}


@pytest.mark.parametrize(
    ("argv", "imports_fake"),
    [(("fake-cloud",), True), (("local",), False), (("plan",), False), ((), True)],
)
def test_only_the_fake_cloud_command_and_the_full_list_import_it_to_parse(
    argv: tuple[str, ...], imports_fake: bool
) -> None:
    # fake-cloud takes its options from the fake; --help (no command) lists every command
    assert child(PARSE, *argv) == str(imports_fake)
