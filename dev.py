#!/usr/bin/env python3
"""Developer entry point that needs nothing but Python 3.10+.

    python3 dev.py demo    # the main job: the scripted demo in local mode, on the fake cloud
    python3 dev.py test    # the whole test suite (ruff, pytest, the fuzz suite, the mutations)
    python3 dev.py mutate  # one-line mutations of the safety-critical code; all must be killed
    python3 dev.py lint    # ruff only
    python3 dev.py bench   # the benchmarks (writes bench/results.json and docs/PERFORMANCE.md)
    python3 dev.py build   # the FC code packages dist/*.zip, template.yml checked first
    python3 dev.py shell   # print how to activate the virtual environment

Each command creates `.venv` on first use, or reuses it, and reinstalls the project into it
only when `pyproject.toml` changed since the last install.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".rolebinder-install"
# dev.py commands that are rolebinder commands with fixed options.
ROLEBINDER_COMMANDS = {"demo": ("local", "--demo"), "build": ("build", "--check")}


def _wanted_stamp(extras: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{digest} {extras}\n"


def ensure_venv(extras: str = "dev") -> None:
    """Create or refresh the virtual environment with the project installed (editable)."""
    if sys.version_info < (3, 10):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit("rolebinder needs Python 3.10 or newer")
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = _wanted_stamp(extras)
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    print("installing rolebinder and its dependencies into .venv", flush=True)
    pip = [str(PY), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f".[{extras}]"], check=True, cwd=ROOT)
    STAMP.write_text(wanted)


def run(*args: str) -> int:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(args, cwd=ROOT, env=env, check=False).returncode


def lint() -> int:
    return run(str(BIN / "ruff"), "check", ".") or run(str(BIN / "ruff"), "format", "--check", ".")


def mutate(*args: str) -> int:
    """The mutation check (tests/mutation): every mutation of the table must be killed."""
    return run(str(PY), "-m", "tests.mutation", *args)


def test(*rest: str) -> int:
    # The fuzz suite runs on its own so its example budget (>= 10,000 inputs per target)
    # is counted and enforced; under one run with the rest its hooks would not load.
    # The mutations run last, without their unmutated baseline run when the whole suites just
    # passed (with pytest options given, some selections may not have run: keep it).
    pytest = (str(PY), "-m", "pytest", "-n", "2", "-q")
    return (
        lint()
        or run(*pytest, "--ignore=tests/fuzz", *rest)
        or run(*pytest, "tests/fuzz", *rest)
        or (mutate() if rest else mutate("--no-baseline"))
    )


def shell() -> int:
    print(f"source {BIN / 'activate'}")
    return 0


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("test", [])
    if command in ROLEBINDER_COMMANDS:
        ensure_venv()
        return run(str(BIN / "rolebinder"), *ROLEBINDER_COMMANDS[command], *rest)
    if command == "bench":
        ensure_venv("dev,bench")
        return run(str(PY), "-m", "bench", *rest)
    commands = {
        "test": test,
        "mutate": mutate,
        "lint": lambda *_: lint(),
        "shell": lambda *_: shell(),
    }
    if command in commands:
        ensure_venv()
        return commands[command](*rest)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
