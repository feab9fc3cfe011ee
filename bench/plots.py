"""The plots, drawn from a results document (so a partial re-run redraws from merged results).

sweeps_scaling.png: calls and wall time against N (log-log), with the lower bounds, and the
rate-limited sweeps against their rate bound. sweeps_memory.png: peak memory against N.
calls_vs_bounds.png: calls per scenario against the bound and the baselines. burst.png:
instances with their role over time in the burst, against the bound.
matplotlib (the `bench` extra) is optional: without it no plot is drawn and the run says so.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

Rows = list[dict[str, Any]]


def draw(document: dict[str, Any], out: Path) -> list[Path]:
    """Draw every plot the document has data for; returns the files written."""
    try:
        import matplotlib  # noqa: PLC0415 - optional: the `bench` extra

        matplotlib.use("Agg")
    except ImportError:
        return []
    rows = [row for family in document["families"].values() for row in family["rows"]]
    out.mkdir(parents=True, exist_ok=True)
    drawn = []
    for name, plot in (
        ("sweeps_scaling.png", _scaling),
        ("sweeps_memory.png", _memory),
        ("calls_vs_bounds.png", _calls),
        ("burst.png", _burst),
    ):
        figure = plot(rows)
        if figure is not None:
            figure.savefig(out / name, dpi=110, bbox_inches="tight")
            drawn.append(out / name)
    return drawn


def size_of(scenario: str) -> int | None:
    found = re.search(r"of ([\d,]+)", scenario)
    return int(found.group(1).replace(",", "")) if found else None


def _select(rows: Rows, family: str, scenario: str, metric: str) -> Rows:
    picked = [
        r
        for r in rows
        if r["family"] == family and scenario in r["scenario"] and r["metric"] == metric
    ]
    return sorted(picked, key=lambda r: size_of(r["scenario"]) or 0)


def _scaling(rows: Rows) -> Any:
    import matplotlib.pyplot as plt  # noqa: PLC0415

    calls = _select(rows, "sweeps", "(first: all attach)", "API calls")
    if not calls:
        return None
    steady = _select(rows, "sweeps", "(steady state", "API calls")
    wall = _select(rows, "sweeps", "(first: all attach)", "wall time")
    limited = _select(rows, "sweeps", "rate-limited", "wall time")
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    n = [size_of(r["scenario"]) for r in calls]
    _loglog(axes[0], n, [r["measured"] for r in calls], "rolebinder, first sweep", "o-")
    _loglog(axes[0], n, [r["bound"] for r in calls], "lower bound (batch limits)", "k--")
    if steady:
        steady_n = [size_of(r["scenario"]) for r in steady]
        _loglog(axes[0], steady_n, [r["measured"] for r in steady], "rolebinder, steady", "s-")
        _loglog(axes[0], steady_n, [r["bound"] for r in steady], "lower bound, steady", "k:")
    axes[0].set(title="API calls per sweep", xlabel="instances", ylabel="calls")
    n = [size_of(r["scenario"]) for r in wall]
    _loglog(axes[1], n, [r["measured"] for r in wall], "rolebinder", "o-")
    _loglog(axes[1], n, [r["bound"] for r in wall], "fewest calls x call time", "k--")
    axes[1].set(title="Sweep wall time (no rate limit)", xlabel="instances", ylabel="seconds")
    if limited:
        n = [size_of(r["scenario"]) for r in limited]
        _loglog(axes[2], n, [r["measured"] for r in limited], "rolebinder", "o-")
        _loglog(axes[2], n, [r["bound"] for r in limited], "rate-limit bound", "k--")
        _loglog(axes[2], n, [1.2 * r["bound"] for r in limited], "target: 1.2x bound", "g:")
        axes[2].set(title="Sweep wall time, rate-limited", xlabel="instances", ylabel="seconds")
    for axis in axes:
        axis.legend(fontsize=8)
        axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    return figure


def _loglog(axis: Any, x: list[Any], y: list[Any], label: str, style: str) -> None:
    axis.loglog(x, y, style, label=label)


def _memory(rows: Rows) -> Any:
    import matplotlib.pyplot as plt  # noqa: PLC0415

    peaks = _select(rows, "sweeps", "(first: all attach)", "peak RSS")
    if not peaks:
        return None
    calls = {
        size_of(r["scenario"]): r
        for r in _select(rows, "sweeps", "(first: all attach)", "API calls")
    }
    n = [size_of(r["scenario"]) for r in peaks]
    traced = [
        (calls.get(size) or {}).get("detail", {}).get("tracemalloc", {}).get("peak_traced_mb")
        for size in n
    ]
    steady = _select(rows, "sweeps", "(steady state", "peak RSS")
    figure, axis = plt.subplots(figsize=(7, 4.6))
    axis.semilogx(n, [r["measured"] for r in peaks], "o-", label="peak RSS, first sweep")
    if steady:
        axis.semilogx(
            [size_of(r["scenario"]) for r in steady],
            [r["measured"] for r in steady],
            "^-",
            label="peak RSS, steady-state sweep",
        )
    axis.semilogx(n, [r["bound"] for r in peaks], "k--", label="RSS after imports (floor)")
    if all(t is not None for t in traced):
        axis.semilogx(n, traced, "s-", label="peak traced Python heap (tracemalloc)")
    axis.axhline(200, color="red", linestyle=":", label="target: 200 MB")
    axis.set(
        title="Sweep peak memory (handler process only)",
        xlabel="instances",
        ylabel="MB",
        ylim=(0, 220),
    )
    axis.legend(fontsize=8)
    axis.grid(True, which="both", alpha=0.3)
    return figure


def _calls(rows: Rows) -> Any:
    import matplotlib.pyplot as plt  # noqa: PLC0415

    groups = [r for r in rows if r["family"] == "calls"]
    baselines = [r for r in rows if r["family"] == "baselines" and r["metric"] == "API calls"]
    if not groups and not baselines:
        return None
    labels = [r["scenario"].replace(" (warm container)", "").replace(" (warm)", "") for r in groups]
    series: dict[str, list[float | None]] = {
        "rolebinder": [r["measured"] for r in groups],
        "lower bound": [r["bound"] for r in groups],
    }
    if baselines:
        labels.append("mixed fleet of " + f"{size_of(baselines[0]['scenario']):,}")
        by_pattern = {r["scenario"].split(":")[0]: r["measured"] for r in baselines}
        series["rolebinder"].append(by_pattern.get("rolebinder"))
        series["lower bound"].append(baselines[0]["bound"])
        for pattern, value in by_pattern.items():
            if pattern != "rolebinder":
                series.setdefault(pattern, [None] * (len(labels) - 1)).append(value)
    figure, axis = plt.subplots(figsize=(11, 4.8))
    width = 0.8 / len(series)
    for k, (name, values) in enumerate(series.items()):
        xs = [i + k * width for i, v in enumerate(values) if v]
        bars = axis.bar(xs, [v for v in values if v], width, label=name)
        axis.bar_label(bars, fmt="%d", fontsize=7)
    axis.set_yscale("log")
    axis.set_ylim(bottom=1)
    axis.set_xticks([i + 0.4 - width / 2 for i in range(len(labels))])
    axis.set_xticklabels([_wrap(label) for label in labels], fontsize=8)
    axis.set(
        title="API calls per scenario: rolebinder, the lower bound and the baselines",
        ylabel="calls (log)",
    )
    axis.legend(fontsize=8)
    axis.grid(True, axis="y", which="both", alpha=0.3)
    return figure


def _wrap(label: str, width: int = 22) -> str:
    words, lines, line = label.split(), [], ""
    for word in words:
        if line and len(line) + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def _burst(rows: Rows) -> Any:
    import matplotlib.pyplot as plt  # noqa: PLC0415

    found = [r for r in rows if r["family"] == "burst" and r["metric"] == "time to all roles"]
    if not found or not found[0]["detail"].get("timeline"):
        return None
    row = found[0]
    timeline = row["detail"]["timeline"]
    figure, axis = plt.subplots(figsize=(8, 4.6))
    axis.step(
        [t for t, _ in timeline],
        [c for _, c in timeline],
        where="post",
        label="instances with their role",
    )
    axis.axvline(row["bound"], color="black", linestyle="--", label=f"bound {row['bound']:.2f} s")
    axis.axvline(1.3 * row["bound"], color="green", linestyle=":", label="target: 1.3x bound")
    if timeline[-1][0] > 30:  # minutes against a bound of a second: a log scale shows both
        axis.set_xscale("symlog", linthresh=1.0)
    axis.set_xlim(left=0)
    axis.set(
        title=f"Burst: {row['scenario']}",
        xlabel="seconds since the first RunInstances",
        ylabel="instances with their role",
    )
    axis.legend(fontsize=8, loc="lower right")
    axis.grid(True, which="both", alpha=0.3)
    return figure
