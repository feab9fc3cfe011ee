"""One benchmark result: a measured value beside its lower bound, the ratio and the target."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """A measured value, its lower bound (or reference), and whether the target is met.

    `bound_kind` says what the bound is: "lower bound" (nothing can do better), "floor" (what
    the dependencies cost by themselves) or "target" (no meaningful lower bound exists, so the
    ratio is measured / target).
    """

    family: str
    scenario: str
    metric: str
    unit: str
    measured: float
    bound: float | None
    target: str = ""
    met: bool | None = None
    bound_kind: str = "lower bound"
    detail: dict[str, Any] = field(default_factory=dict)
    # The target as a number, on the measured value or on the ratio (for the gap of a miss).
    goal: float | None = None
    goal_on: str = "measured"

    @property
    def ratio(self) -> float | None:
        if self.bound is None or self.bound == 0:
            return None
        return self.measured / self.bound

    def gap(self) -> str:
        """By how much a missed target is missed, in words; "" when met or not a target."""
        if self.met is not False or self.goal is None:
            return ""
        value = self.ratio if self.goal_on == "ratio" else self.measured
        if value is None or math.isnan(value):  # no ratio, or NaN: did not finish
            return "did not finish"
        if self.goal_on == "ratio":
            return (
                f"{value:.2f}x the bound against {self.goal:g}x"
                f" ({value / self.goal:.2f}x the target)"
            )
        unit = f" {self.unit}"
        if not self.goal:
            return f"{show(value)}{unit} against 0"
        over = value - self.goal
        return (
            f"{show(value)}{unit} against {show(self.goal)}{unit}:"
            f" {show(over)}{unit} over ({value / self.goal:.2f}x the target)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "scenario": self.scenario,
            "metric": self.metric,
            "unit": self.unit,
            "measured": _round(self.measured),
            "bound": _round(self.bound),
            "ratio": _round(self.ratio),
            "bound_kind": self.bound_kind,
            "target": self.target,
            "met": self.met,
            "gap": self.gap(),
            "detail": self.detail,
        }

    def line(self) -> str:
        """The console line: measured beside bound and ratio."""
        ratio = "-" if self.ratio is None else f"{self.ratio:.2f}x"
        bound = "-" if self.bound is None else f"{show(self.bound)}"
        verdict = {True: "met", False: "MISSED", None: ""}[self.met]
        return (
            f"{self.scenario:<44} {self.metric:<22} {show(self.measured):>10} {self.unit:<6}"
            f" bound {bound:>10}  ratio {ratio:>7}  {self.target} {verdict}"
        )


def _round(value: float | None) -> float | None:
    if value is None:
        return None
    return round(value, 4) if abs(value) < 100 else round(value, 1)


def show(value: float) -> str:
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


@dataclass(frozen=True)
class Options:
    """What every scenario family gets: smoke-run sizes or full ones, and where to write."""

    quick: bool
    out: Path
