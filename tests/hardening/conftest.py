"""Fixtures and figures for the hardening campaign: faults, delivery races, bad input, attacks.

The functional suite's fixtures are re-exported (pytest applies a conftest's fixtures to its
own directory only). Every test records what it did in `figures` (faults injected, instances
checked, instances left in the wrong state, ...). The numbers travel to the controlling process
as `user_properties` of the test report (so they survive `-n 2`), are added up in module-level
counters there, and are printed in the terminal summary. With ROLEBINDER_HARDENING_FIGURES
set to a file name, each test's figures are also written there as JSON.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fakecloud import FakeCloud
from rolebinder.entrypoints.invocation import RetryLaterError
from tests.functional.conftest import (  # noqa: F401 - fixtures, re-exported for this directory
    Run,
    engine_for,
    fresh_runtime,
    handler_env,
    invoke,
    seeded,
    use_mapping,
    write_mapping,
)

_PROPERTY = "hardening-figures"
FIGURES = {
    "cases": "cases run",
    "faults_injected": "faults injected",
    "instances_checked": "instances checked (a handler decided on them)",
    "instances_wrong": "of those, left in the wrong state",
    "deliveries": "handler invocations",
    "redeliveries": "FC redeliveries (handler raised RetryLaterError)",
    "sweeps": "follow-up sweeps",
    "attacks_refused": "escalation attempts refused",
}
# Module-level counters of the controlling process, filled from every hardening test's report.
TALLY: Counter[str] = Counter()
PER_TEST: dict[str, Counter[str]] = {}
# Names a file to write each test's figures to, as JSON (for docs/RELIABILITY.md).
FIGURES_FILE = "ROLEBINDER_HARDENING_FIGURES"
# FC's async retry waits before delivering again; the fake's clock moves as much meanwhile.
FC_RETRY_DELAY = 60.0

Figures = Counter[str]


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    """This test's figures; they reach the terminal summary through the test report."""
    counts: Figures = Counter()
    yield counts
    request.node.user_properties.append((_PROPERTY, dict(counts)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add up the figures of each hardening test (runs in the controller under xdist too)."""
    if not report.nodeid.startswith("tests/hardening/"):
        return
    if report.when == "call":
        TALLY["cases"] += 1
        PER_TEST.setdefault(report.nodeid, Counter())["cases"] += 1
    if report.when == "teardown":
        for name, value in report.user_properties:
            if name == _PROPERTY:
                TALLY.update(value)
                PER_TEST.setdefault(report.nodeid, Counter()).update(value)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write every test's figures to $ROLEBINDER_HARDENING_FIGURES (docs/RELIABILITY.md's rows)."""
    target = os.environ.get(FIGURES_FILE)
    if target and PER_TEST and not hasattr(session.config, "workerinput"):
        Path(target).write_text(json.dumps(PER_TEST, indent=1, sort_keys=True), encoding="utf-8")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY:
        return
    terminalreporter.write_sep("-", "hardening campaign")
    width = max(len(label) for label in FIGURES.values())
    for key, label in FIGURES.items():
        terminalreporter.write_line(f"{label:<{width}}  {TALLY[key]:>7,}")


def tag_change_event(instance_id: str, account: str = "1234567890123456") -> dict[str, Any]:
    """An EventBridge tag-change event naming one instance (the tags it carries are never read)."""
    return {
        "id": f"evt-tag-{instance_id}",
        "source": "acs.tag",
        "specversion": "1.0",
        "type": "tag:Tag:ChangeOnResource",
        "subject": f"acs:ecs:cn-hangzhou:{account}:instance/{instance_id}",
        "aliyunaccountid": account,
        "aliyunregionid": "cn-hangzhou",
        "data": {
            "product": "ecs",
            "resourceType": "instance",
            "resourceId": instance_id,
            "changedTagKeys": ["team"],
            "tags": {},
        },
    }


# -- the campaign's bookkeeping -------------------------------------------------------------------


def check_bindings(
    figures: Figures,
    cloud: FakeCloud,
    expected: dict[str, str | None],
    decided: Iterable[Run | dict[str, Any]],
    region: str = "cn-hangzhou",
) -> dict[str, tuple[str | None, str | None]]:
    """The instances not bound as `expected`, as {instance: (actual, expected)} for the test to
    assert empty. The figures count only the instances a handler decided on: those named by an
    outcome line of `decided` (runs, or outcome lines), so a check after no handler ran, or of
    an instance no handler looked at, adds nothing to "instances checked"."""
    actual = {i.instance_id: i.role for i in cloud.ecs(region).instances.values()}
    wrong = {i: (actual.get(i), role) for i, role in expected.items() if actual.get(i) != role}
    named = _named_instances(decided)
    figures["instances_checked"] += len(named & expected.keys())
    figures["instances_wrong"] += len(named & wrong.keys())
    return wrong


def _named_instances(decided: Iterable[Run | dict[str, Any]]) -> set[str]:
    lines = [
        line
        for item in decided
        for line in (item.outcomes if isinstance(item, Run) else [item])
        if line.get("kind") == "outcome"
    ]
    return {line["instance_id"] for line in lines if isinstance(line.get("instance_id"), str)}


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Poll `condition` until it holds or `seconds` pass; its last value."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def assert_nothing_swallowed(
    run: Run, cloud: FakeCloud, expected: dict[str, str | None], region: str = "cn-hangzhou"
) -> None:
    """The invariants of one delivery, whatever the faults:
    - it never crashes: it returns its summary, or raises RetryLaterError after journaling;
    - an instance the delivery named that is not bound as mapped has a `failed` line;
    - a failed line says what failed (an error code, or a retryable flag, or a role verdict);
    - the handler raises exactly when some failure is retryable."""
    assert run.error is None or isinstance(run.error, RetryLaterError), repr(run.error)
    assert run.summary["kind"] == "summary"
    lines = run.by_instance()
    bound = {i.instance_id: i.role for i in cloud.ecs(region).instances.values()}
    for instance, role in expected.items():
        if instance in lines and bound.get(instance) != role:
            assert lines[instance]["outcome"] == "failed", lines[instance]
    failed = [line for line in run.outcomes if line["outcome"] == "failed"]
    for line in failed:
        assert isinstance(line["retryable"], bool), line
        explained = line.get("error_code") or line["retryable"] or line["reason"].startswith("role")
        assert explained, line
    retryable = any(line["retryable"] for line in failed)
    assert retryable == isinstance(run.error, RetryLaterError), (retryable, run.error)
