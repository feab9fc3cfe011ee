"""Apply each mutation of `tests/mutation/table.py` to a copy of the checkout and run its tests.

A mutation is *killed* when its selection fails (pytest exit code 1) and *survives* when the
selection passes. Anything else is an error: the original text is missing or not unique, the
mutated file no longer compiles, the selection collects nothing, crashes or runs past the
timeout. The run first checks, in an unmutated copy, that the copy's code is what the tests
import and that every selection passes; otherwise a "kill" would prove nothing.
Exit status: 0 when every mutation was killed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.mutation.table import MUTATIONS, Mutation

ROOT = Path(__file__).resolve().parents[2]
# Never copied: the environment, caches and build output (the copy imports the venv's packages
# but its own code).
SKIPPED = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache", "dist"}
SKIPPED_PATHS = {ROOT / "build", ROOT / "bench" / "out", ROOT / ".rolebinder"}
DEFAULT_TIMEOUT = 240.0
KILLED, SURVIVED, ERROR = "killed", "survived", "error"


@dataclass(frozen=True)
class Result:
    mutation_id: str
    verdict: str
    seconds: float
    note: str


def check_table(mutations: Sequence[Mutation], root: Path = ROOT) -> list[str]:
    """Problems with the table itself: duplicate ids, originals missing or not unique."""
    problems = []
    ids = [m.id for m in mutations]
    problems += [f"{i}: duplicate id" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for mutation in mutations:
        path = root / mutation.file
        text = path.read_text(encoding="utf-8") if path.is_file() else None
        count = 0 if text is None else text.count(mutation.original)
        if count != 1:
            where = "no such file" if text is None else f"found {count} times, expected once"
            problems.append(f"{mutation.id}: original text in {mutation.file}: {where}")
        if not mutation.tests:
            problems.append(f"{mutation.id}: no tests selected")
    return problems


def copy_checkout(destination: Path) -> Path:
    """The checkout's source tree (no venv, no git, no caches) copied under `destination`."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder)
        return {n for n in names if n in SKIPPED or n.endswith(".egg-info")} | {
            n for n in names if here / n in SKIPPED_PATHS
        }

    target = destination / "checkout"
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def apply(mutation: Mutation, checkout: Path) -> None:
    path = checkout / mutation.file
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(mutation.original, mutation.replacement, 1), encoding="utf-8")
    compile(path.read_text(encoding="utf-8"), str(path), "exec")  # a SyntaxError is an error


def environment(checkout: Path) -> dict[str, str]:
    # The copy first on the path, ahead of the editable install that points at the checkout.
    path = os.pathsep.join((str(checkout / "shared"), str(checkout)))
    return {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}


def pytest_command(tests: Iterable[str], workers: int = 0) -> list[str]:
    spread = ["-n", str(workers)] if workers else []
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *spread, *tests]


def run_tests(
    checkout: Path, tests: Sequence[str], timeout: float, workers: int = 0
) -> tuple[int | None, str]:
    """pytest's exit code (None on timeout) and the tail of its output."""
    try:
        done = subprocess.run(
            pytest_command(tests, workers),
            cwd=checkout,
            env=environment(checkout),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"no verdict within {timeout:.0f} s"
    return done.returncode, done.stdout + done.stderr


def first_failure(output: str) -> str:
    """The first FAILED/ERROR line pytest printed: which test killed the mutation."""
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" - ")[0]
    return output.strip().splitlines()[-1] if output.strip() else ""


def mutate_once(mutation: Mutation, timeout: float) -> Result:
    """Apply one mutation in a fresh copy and judge it by its tests."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mutate-{mutation.id}-") as folder:
        checkout = copy_checkout(Path(folder))
        try:
            apply(mutation, checkout)
        except SyntaxError as error:
            return Result(
                mutation.id, ERROR, time.monotonic() - start, f"does not compile: {error}"
            )
        code, output = run_tests(checkout, mutation.tests, timeout)
    seconds = time.monotonic() - start
    if code == 1:
        return Result(mutation.id, KILLED, seconds, first_failure(output))
    if code == 0:
        return Result(mutation.id, SURVIVED, seconds, "every selected test passed")
    return Result(mutation.id, ERROR, seconds, f"pytest exit {code}: {first_failure(output)}")


def baseline(mutations: Sequence[Mutation], timeout: float, selections: bool = True) -> str | None:
    """None when an unmutated copy imports its own code and (unless `selections` is off, as
    after a full suite run) passes every selection."""
    tests = sorted({test for mutation in mutations for test in mutation.tests})
    with tempfile.TemporaryDirectory(prefix="mutate-baseline-") as folder:
        checkout = copy_checkout(Path(folder))
        probe = [sys.executable, "-c", "import rolebinder; print(rolebinder.__file__)"]
        done = subprocess.run(
            probe,
            cwd=checkout,
            env=environment(checkout),
            capture_output=True,
            text=True,
            check=False,
        )
        imported = Path(done.stdout.strip() or "?").resolve()
        if checkout.resolve() not in imported.parents:
            return f"the copy imports rolebinder from {imported}, not from itself"
        if not selections:
            return None
        code, output = run_tests(checkout, tests, timeout * 2, workers=2)
    if code != 0:
        return f"unmutated selections do not pass (pytest exit {code}): {first_failure(output)}"
    return None


def report(results: Sequence[Result], seconds: float) -> None:
    for result in results:
        print(
            f"{result.verdict:<9} {result.mutation_id:<34} {result.seconds:6.1f} s  {result.note}"
        )
    verdicts = [r.verdict for r in results]
    print(
        f"mutations: {verdicts.count(KILLED)} killed, {verdicts.count(SURVIVED)} survived, "
        f"{verdicts.count(ERROR)} errors, of {len(results)}, in {seconds:.0f} s"
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dev.py mutate", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutations")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="per mutation")
    parser.add_argument("--jobs", type=int, default=2, help="mutations run at once")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the unmutated run of the selections (the copy is still checked)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    problems = check_table(MUTATIONS)
    chosen = [m for m in MUTATIONS if not args.only or m.id in args.only]
    problems += [
        f"{i}: no such mutation" for i in args.only or () if i not in {m.id for m in MUTATIONS}
    ]
    if problems:
        print("\n".join(f"error: {problem}" for problem in problems))
        return 1
    if args.list:
        print("\n".join(f"{m.id:<34} {m.file}  {' '.join(m.tests)}" for m in chosen))
        return 0
    start = time.monotonic()
    problem = baseline(chosen, args.timeout, selections=not args.no_baseline)
    if problem is not None:
        print(f"error: baseline: {problem}")
        return 1
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda m: mutate_once(m, args.timeout), chosen))
    report(results, time.monotonic() - start)
    return 0 if all(r.verdict == KILLED for r in results) else 1
