"""Hypothesis profiles for the fuzz suite, and the examples it ran in the terminal summary.

Choose a profile with ROLEBINDER_FUZZ_PROFILE. `max_examples` is the budget of one target (the
event intake, the mapping loader, the handler path), shared between that target's tests
(`tests/fuzz/harness.py`):

- fuzz-ci (default): 10,000 examples per target, derandomized so a CI failure reproduces on the
  next run, with no example database so nothing is written into the repository;
- fuzz-quick: 1,000 per target, for a fast local loop;
- fuzz-deep: 100,000 per target with fresh randomness each run (a soak run, not for CI).

Pathological slowness fails a test: one parse may take at most a second (harness.timed, which
times a slow parse again before it blames the input). The slowest legitimate inputs (the
largest accepted batch, a mapping text at the file-size limit) take a third to two thirds of that;
the summary shows the slowest of each run. Hypothesis' deadline, five seconds for a whole
example (which may parse its input several times), is only a backstop, and a real hang is
stopped by the harness' watchdog instead of stalling CI until its global timeout.

The summary lists the examples each test really ran (counted inside the property, so rejected
or cut-short inputs do not count) and the slowest single parse among them. Under fuzz-ci, a run
of whole test files that falls short of 10,000 examples for a target it ran fails the session,
and a run of the whole fuzz suite fails unless every target reached 10,000: a target whose tests
were all skipped, deselected or deleted is a missing budget, not a met one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Generator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.fuzz.harness import BUDGETED, DEFAULT_PROFILE, TALLY, profile_name

_COMMON: dict[str, Any] = {"database": None, "deadline": timedelta(seconds=5)}
settings.register_profile(DEFAULT_PROFILE, max_examples=10_000, derandomize=True, **_COMMON)
settings.register_profile("fuzz-quick", max_examples=1_000, derandomize=True, **_COMMON)
settings.register_profile("fuzz-deep", max_examples=100_000, derandomize=False, **_COMMON)

_PROPERTY = "fuzz_examples"
# target -> test node id -> (examples run, examples planned, slowest parse in seconds); filled
# on the controller from the reports. Planned is what the share asked for: Hypothesis runs fewer
# when a strategy has fewer distinct inputs (the huge and oversized ones).
_RAN: dict[str, dict[str, tuple[int, int, float]]] = defaultdict(dict)
_SHORT: list[str] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """Attach the examples this test ran to its report (reports cross xdist to the controller)."""
    before = Counter(TALLY.examples)
    TALLY.slowest = 0.0
    try:
        return (yield)
    finally:
        plan = getattr(getattr(item, "obj", None), "fuzz_plan", None)
        if plan is not None:
            target, planned = plan
            ran = TALLY.examples[target] - before[target]
            item.user_properties.append((_PROPERTY, (target, ran, planned, TALLY.slowest)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == _PROPERTY:
            target, ran, planned, slowest = value
            _RAN[target][report.nodeid] = (ran, planned, slowest)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under the CI profile, a run of whole test files short of a target's budget fails."""
    config = session.config
    if _is_worker(config) or profile_name() != DEFAULT_PROFILE or _selective(config):
        return
    if exitstatus != pytest.ExitCode.OK:  # a failure says more than a count cut short by it
        return
    budget = settings.get_profile(DEFAULT_PROFILE).max_examples
    # The whole suite must cover every target; a run of some files, the targets it touched.
    required = BUDGETED if _whole_suite(config) else [t for t in BUDGETED if t in _RAN]
    for target in required:
        ran = sum(count for count, _, _ in _RAN.get(target, {}).values())
        if ran < budget:  # no test at all, shares too small, or strategies exhausted early
            _SHORT.append(f"{target}: {ran:,} examples, fewer than the {budget:,} required")
    if _SHORT:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _whole_suite(config: pytest.Config) -> bool:
    """Whether the run covers all of tests/fuzz (no argument, or it or a folder above it)."""
    fuzz_dir = Path(__file__).resolve().parent
    here = config.invocation_params.dir
    chosen = [Path(here, str(arg)).resolve() for arg in config.args]
    return not config.args or any(path == fuzz_dir or path in fuzz_dir.parents for path in chosen)


def _selective(config: pytest.Config) -> bool:
    """Whether only some tests of a file were chosen (-k, -m, --deselect, a test id)."""
    chosen = config.option
    narrowed = chosen.keyword or chosen.markexpr or getattr(chosen, "deselect", None)
    return bool(narrowed) or any("::" in str(arg) for arg in config.args)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _is_worker(config) or not _RAN:
        return
    write = terminalreporter.write_line
    budget = settings.get_profile(profile_name()).max_examples
    terminalreporter.write_sep("-", f"fuzz examples run (profile {profile_name()})")
    for target in sorted(_RAN):
        tests = _RAN[target]
        total = sum(ran for ran, _, _ in tests.values())
        goal = f" (budget {budget:,})" if target in BUDGETED else ""
        slowest = _seconds(max(slow for _, _, slow in tests.values()))
        write(f"{target}: {total:,} examples in {len(tests)} tests{goal}, slowest parse {slowest}")
        for nodeid, (ran, planned, slow) in sorted(tests.items()):
            write(f"  {ran:>6,} of {planned:<6,} {_seconds(slow):>6}  {nodeid}")
    for line in _SHORT:
        terminalreporter.write_line(f"FUZZ BUDGET NOT MET: {line}", red=True)


def _seconds(slowest: float) -> str:
    return f"{slowest:.2f} s" if slowest else "-"  # "-": the test times no parse


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")
