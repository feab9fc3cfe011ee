"""Sweeps of 1,000, 10,000 and 100,000 instances: wall time, calls and peak memory; then sweeps
under per-action rate limits and per-call latency, against the time the rate limits impose.

The fake cloud runs in this process; each sweep runs the reconcile handler in a child process
(`python -m bench.sweeps --child ...`), so its peak memory (VmHWM, the child's own peak RSS, and
tracemalloc in a separate run because tracing slows it down) is the handler's alone and sizes do not
contaminate each other. The fleet: VPC instances without roles, alternately for Payments and
AppReader (two roles, interleaved), so every instance needs an attach. Each size also runs a
steady-state sweep (everything already bound) and, on the full run, a cProfile of 10,000.
Targets: calls within 5% of the batch bound; memory flat (100,000 instances under 200 MB);
rate-limited wall time within 1.2x of the pipeline bound (bounds.pipeline_bound: the rate limits
with the order a sweep's calls must follow).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import math
import os
import pstats
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench import bounds
from bench.harness import (
    ROOT,
    ApiTimer,
    World,
    context,
    handler,
    handler_values,
    log,
    quiet_stdout,
    timer_event,
    uniform_fleet,
)
from bench.overhead import own_time_by_area, top_functions
from bench.result import Options, Row

FAMILY = "sweeps"
MEMORY_TARGET_MB = 200.0
# A quota profile for the rate-limited runs (calls per second, per action, bucket of 1), and
# the latency every call gets on top.
RATES = {
    bounds.DESCRIBE: 20.0,
    bounds.DESCRIBE_ROLES: 20.0,
    bounds.ATTACH: 10.0,
    bounds.GET_ROLE: 10.0,
}
LATENCY = 0.05
CHILD_TIMEOUT = 900.0


def rate_limits(rates: dict[str, float]) -> str:
    """The ROLEBINDER_RATE_LIMITS value for a quota profile."""
    return ",".join(f"{action}={rate:g}" for action, rate in rates.items())


FLAT_MB = 10.0  # "flat": what a 100x larger fleet may add to the peak


def run(options: Options) -> list[Row]:
    sizes = (300,) if options.quick else (1_000, 10_000, 100_000)
    limited = (300,) if options.quick else (1_000, 10_000)
    rows: list[Row] = []
    for n in sizes:
        rows += _scaling(n, options, profile=n == 10_000)
    rows.append(_growth([r for r in rows if r.metric == "peak RSS" and "first" in r.scenario]))
    for n in limited:
        rows.append(_rate_limited(n, options))
    return rows


# -- one size ---------------------------------------------------------------------------------


def _scaling(n: int, options: Options, profile: bool) -> list[Row]:
    members = uniform_fleet(n)
    bound = bounds.batch_bound(n, n, {"Payments": (n + 1) // 2, "AppReader": n // 2})
    with World() as world:
        ids = world.add_fleet(members)
        log(f"sweeps: {n:,} instances: first sweep")
        first = _child_sweep(world, options, f"sweep-{n}")
        log(f"sweeps: {n:,}: steady-state sweep")
        steady = _child_sweep(world, options, f"steady-{n}")
        traced: dict[str, Any] = {}
        if not options.quick:
            world.reset_roles(members, ids)
            log(f"sweeps: {n:,}: first sweep again, under tracemalloc")
            traced = _child_sweep(world, options, f"traced-{n}", "--tracemalloc")
        if profile:
            world.reset_roles(members, ids)
            log(f"sweeps: {n:,}: first sweep again, under cProfile")
            profiled = _child_sweep(world, options, f"profiled-{n}", "--profile")
            first["profile"] = profiled.get("profile")
    return _scaling_rows(n, bound, first, steady, traced)


def _scaling_rows(
    n: int, bound: dict[str, int], first: dict[str, Any], steady: dict[str, Any], traced: dict
) -> list[Row]:
    if "error" in first:
        return [_failed_row(n, first)]
    scenario = f"sweep of {n:,} (first: all attach)"
    wall_bound = sum(bound[a] * first["median_call_s"].get(a, 0.0) for a in bound)
    steady_bound = {a: c for a, c in bound.items() if a not in (bounds.ATTACH, bounds.MARK)}
    peak_mb = first["peak_rss_mb"]
    detail = {
        "first": first,
        "steady_state": steady,
        "tracemalloc": {
            "peak_traced_mb": traced.get("traced_peak_mb"),
            "wall_s_under_tracing": traced.get("wall_s"),
        },
        "bound_calls": bound,
    }
    return [
        Row(
            FAMILY,
            scenario,
            "API calls",
            "calls",
            first["calls_total"],
            bounds.total(bound),
            target="<= 1.05x bound",
            met=first["calls_total"] <= 1.05 * bounds.total(bound),
            detail=detail,
            goal=1.05,
            goal_on="ratio",
        ),
        Row(
            FAMILY,
            scenario,
            "wall time",
            "s",
            first["wall_s"],
            wall_bound,
            target="(reported)",
            bound_kind="fewest calls x call time",
        ),
        Row(
            FAMILY,
            scenario,
            "peak RSS",
            "MB",
            peak_mb,
            first["baseline_rss_mb"],
            target=f"flat; < {MEMORY_TARGET_MB:g} MB",
            met=peak_mb < MEMORY_TARGET_MB,
            bound_kind="RSS after imports",
            goal=MEMORY_TARGET_MB,
        ),
        Row(
            FAMILY,
            f"sweep of {n:,} (steady state: all bound)",
            "peak RSS",
            "MB",
            steady.get("peak_rss_mb", float("nan")),
            steady.get("baseline_rss_mb"),
            target=f"< {MEMORY_TARGET_MB:g} MB",
            met=steady.get("peak_rss_mb", 1e12) < MEMORY_TARGET_MB,
            bound_kind="RSS after imports",
            goal=MEMORY_TARGET_MB,
        ),
        Row(
            FAMILY,
            f"sweep of {n:,} (steady state: all bound)",
            "API calls",
            "calls",
            steady.get("calls_total", float("nan")),
            bounds.total(steady_bound),
            target="<= 1.05x bound",
            met=steady.get("calls_total", 1e12) <= 1.05 * bounds.total(steady_bound),
            goal=1.05,
            goal_on="ratio",
        ),
    ]


def _growth(peaks: list[Row]) -> Row:
    """Memory flat as N grows: the peak's growth from the smallest to the largest sweep."""
    growth = peaks[-1].measured - peaks[0].measured if len(peaks) > 1 else 0.0
    sizes = " -> ".join(p.scenario.split(" (")[0] for p in (peaks[0], peaks[-1]))
    return Row(
        FAMILY,
        f"peak RSS growth, {sizes}",
        "growth",
        "MB",
        growth,
        0.0,
        target=f"flat (<= {FLAT_MB:g} MB)",
        met=growth <= FLAT_MB,
        goal=FLAT_MB,
    )


def _failed_row(n: int, result: dict[str, Any]) -> Row:
    return Row(
        FAMILY,
        f"sweep of {n:,} (first: all attach)",
        "wall time",
        "s",
        result.get("wall_s", float("nan")),
        None,
        target="finish",
        met=False,
        detail=result,
    )


# -- rate limited -----------------------------------------------------------------------------


def _rate_limited(n: int, options: Options) -> Row:
    members = uniform_fleet(n)
    calls = bounds.batch_bound(n, n, {"Payments": (n + 1) // 2, "AppReader": n // 2})
    with World() as world:
        world.add_fleet(members)
        round_trip = world.round_trip() + LATENCY
        world.limit(RATES, LATENCY)
        mark = world.mark()
        log(f"sweeps: {n:,} instances under rate limits {RATES} and {LATENCY * 1000:g} ms latency")
        # The child's handler knows the quota, as an operator configures it from Quota Center.
        result = _child_sweep(world, options, f"limited-{n}", "--rate-limits", rate_limits(RATES))
        answers = world.answers(mark)
    throttled = sum(
        count
        for codes in answers.values()
        for code, count in codes.items()
        if code.startswith("Throttling")
    )
    # The pipeline bound: the rate limits plus what a sweep cannot reorder (pages in sequence,
    # role reads after the page that lists their instances, a batch after its role reads).
    bound = bounds.pipeline_bound(n, RATES, round_trip)
    result.update(
        {
            "concurrent_rate_bound_s": round(
                bounds.rate_bound(calls, RATES, burst=1.0, round_trip=round_trip), 3
            ),
            "throttled_answers": throttled,
            "answers": answers,
            "rates": RATES,
            "latency_s": LATENCY,
            "bound_calls": calls,
            "round_trip_s": round(round_trip, 4),
            "sequential_bound_s": round(bounds.sequential_bound(calls, round_trip), 2),
        }
    )
    wall = result.get("wall_s", float("nan"))
    return Row(
        FAMILY,
        f"rate-limited sweep of {n:,}",
        "wall time",
        "s",
        wall,
        bound,
        target="<= 1.2x bound",
        met=wall <= 1.2 * bound,
        detail=result,
        goal=1.2,
        goal_on="ratio",
    )


# -- the child process ------------------------------------------------------------------------


def _child_sweep(world: World, options: Options, name: str, *flags: str) -> dict[str, Any]:
    """Run the reconcile handler in a fresh interpreter against `world`; its measurements."""
    out = options.out / "sweeps"
    out.mkdir(parents=True, exist_ok=True)
    result_path = out / f"{name}.json"
    mark = world.mark()
    command = [
        sys.executable,
        "-m",
        "bench.sweeps",
        "--child",
        "--url",
        world.url,
        "--result",
        str(result_path),
        *flags,
    ]
    if "--profile" in flags:
        command += ["--profile-path", str(out / f"{name}.prof")]
    started = time.monotonic()
    try:
        subprocess.run(command, cwd=ROOT, check=True, timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {
            "error": f"did not finish in {CHILD_TIMEOUT:.0f} s",
            "calls_so_far": world.counts(mark),
        }
    except subprocess.CalledProcessError as error:
        return {"error": f"child exited {error.returncode}", "calls": world.counts(mark)}
    result = json.loads(result_path.read_text())
    counts = world.counts(mark)
    result.update(
        {
            "calls": counts,
            "calls_total": sum(counts.values()),
            "server_s": round(world.server_seconds(mark), 3),
            "child_process_s": round(time.monotonic() - started, 2),
        }
    )
    return result


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _peak_rss_mb() -> float:
    """This process's own peak RSS. Not ru_maxrss: Linux carries the parent's RSS at fork into
    an exec'd child's ru_maxrss, and the parent here holds the whole fake fleet."""
    peak = _status_mb("VmHWM")
    if math.isnan(peak):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return peak


def child(argv: list[str]) -> None:
    """One sweep in this (fresh) process; writes its measurements to --result."""
    parser = argparse.ArgumentParser(prog="bench.sweeps --child")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--url", required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-path", type=Path)
    parser.add_argument("--rate-limits", default="", help="ROLEBINDER_RATE_LIMITS for the handler")
    args = parser.parse_args(argv)
    os.environ.update(handler_values(args.url))
    if args.rate_limits:
        os.environ["ROLEBINDER_RATE_LIMITS"] = args.rate_limits
    reconcile = handler("reconcile")
    baseline = _rss_mb()
    payload, ctx = json.dumps(timer_event()).encode(), context("reconcile")
    profile = cProfile.Profile() if args.profile else None
    if args.tracemalloc:
        tracemalloc.start()
    with ApiTimer() as timer, quiet_stdout():
        started = time.perf_counter()
        with profile or contextlib.nullcontext():
            summary = reconcile(payload, ctx)
        wall = time.perf_counter() - started
    result = {
        "wall_s": round(wall, 3),
        "api_wait_s": round(timer.total(), 3),
        "engine_s": round(wall - timer.total(), 3),
        "median_call_s": {a: round(s, 5) for a, s in timer.median_by_action().items()},
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "outcomes": summary["outcomes"],
    }
    if args.tracemalloc:
        result["traced_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 2)
    if profile is not None and args.profile_path:
        profile.dump_stats(args.profile_path)
        stats = pstats.Stats(str(args.profile_path))
        instances = sum(summary["outcomes"].values())
        result["profile"] = {
            "own_us_per_instance_by_area": own_time_by_area(stats, instances),
            "top_own_time": top_functions(stats, instances),
        }
    args.result.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    child(sys.argv[1:])
