"""Engine overhead per event: the handler path's wall time minus the time spent waiting on the API.

A thousand creation events, each naming a different instance that needs its role (the common
path: DescribeInstances, DescribeInstanceRamRole, AttachInstanceRamRole), in a warm container.
The wait is timed at the gateways (`ApiTimer` around `AcsClient.do_action_with_exception`), so
the SDK's own request building and signing counts as waiting, and what is left is ours: event
parsing, the engine, decisions, outcome lines. A cProfile of a second pass, written to
`<out>/overhead.prof`, shows where that time goes. Target: median under 2 ms.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import (
    ApiTimer,
    World,
    context,
    handler,
    handler_env,
    log,
    percentile,
    quiet_stdout,
    state_event,
    uniform_fleet,
)
from bench.result import Options, Row

FAMILY = "overhead"
TARGET_MS = 2.0


def run(options: Options) -> list[Row]:
    events = 30 if options.quick else 1000
    profiled = 20 if options.quick else 300
    with World() as world, handler_env(world.url):
        ids = world.add_fleet(uniform_fleet(1 + events + profiled))
        payloads = [json.dumps(state_event(i)).encode() for i in ids]
        instance_events = handler("instance_events")
        with quiet_stdout():
            instance_events(payloads[0], context("instance_events"))  # warm the container
        log(f"overhead: {events} creation events")
        samples = _timed(world, instance_events, payloads[1 : 1 + events])
        profile = _profiled(instance_events, payloads[1 + events :], options.out / "overhead.prof")
    return _rows(samples, profile, events)


def _timed(
    world: World, function: Callable[[bytes, Any], Any], payloads: list[bytes]
) -> dict[str, list[float]]:
    contexts = [context("instance_events") for _ in payloads]
    samples: dict[str, list[float]] = {"wall": [], "wait": [], "server": [], "overhead": []}
    with ApiTimer() as timer, quiet_stdout():
        for payload, ctx in zip(payloads, contexts, strict=True):
            mark, waited = world.mark(), timer.thread_total()
            started = time.perf_counter()
            function(payload, ctx)
            wall = time.perf_counter() - started
            wait = timer.thread_total() - waited
            samples["wall"].append(wall * 1000)
            samples["wait"].append(wait * 1000)
            samples["server"].append(world.server_seconds(mark) * 1000)
            samples["overhead"].append((wall - wait) * 1000)
    return samples


def _profiled(
    function: Callable[[bytes, Any], Any], payloads: list[bytes], path: Path
) -> dict[str, Any]:
    """Profile the handler path (this thread only: the fake's threads are not in it)."""
    profile = cProfile.Profile()
    with quiet_stdout():
        for payload in payloads:
            ctx = context("instance_events")
            profile.enable()
            function(payload, ctx)
            profile.disable()
    path.parent.mkdir(parents=True, exist_ok=True)
    profile.dump_stats(path)
    stats = pstats.Stats(str(path))
    return {
        "own_us_per_event_by_area": own_time_by_area(stats, len(payloads)),
        "top_own_time": top_functions(stats, len(payloads)),
    }


def top_functions(stats: pstats.Stats, per: int, limit: int = 12) -> list[dict[str, Any]]:
    """The functions with the most own time, in microseconds per unit of work (`per`)."""
    rows = []
    for (filename, line, name), entry in stats.stats.items():  # type: ignore[attr-defined]
        _, calls, own, cumulative, _ = entry
        rows.append(
            {
                "function": f"{_short(filename)}:{line}({name})",
                "area": area(filename),
                "calls_per_unit": round(calls / per, 2),
                "own_us_per_unit": round(own / per * 1e6, 1),
                "cumulative_us_per_unit": round(cumulative / per * 1e6, 1),
            }
        )
    rows.sort(key=lambda r: r["own_us_per_unit"], reverse=True)
    return rows[:limit]


def own_time_by_area(stats: pstats.Stats, per: int) -> dict[str, float]:
    """Own time per unit of work (microseconds), summed by area (ours, SDK, stdlib...)."""
    totals: dict[str, float] = {}
    for (filename, _, _), entry in stats.stats.items():  # type: ignore[attr-defined]
        key = area(filename)
        totals[key] = totals.get(key, 0.0) + entry[2] / per * 1e6
    return {k: round(v, 1) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


def area(filename: str) -> str:
    """Which part of the stack a profiled function belongs to."""
    path = filename.replace("\\", "/")
    for marker, name in (
        ("/shared/", "rolebinder (shared/)"),
        ("/functions/", "rolebinder (shared/)"),
        ("/aliyunsdk", "Alibaba Cloud SDK"),
        ("/requests/", "SDK's vendored requests/urllib3"),
        ("/urllib3/", "SDK's vendored requests/urllib3"),
        ("/http/", "stdlib http/socket"),
        ("socket.py", "stdlib http/socket"),
        ("/json/", "stdlib json"),
    ):
        if marker in path:
            return name
    if path.startswith("~") or "{" in path:
        return "builtins"
    return "other stdlib"


def _short(filename: str) -> str:
    for marker in ("/site-packages/", "/main/", "/lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def _rows(samples: dict[str, list[float]], profile: dict[str, Any], events: int) -> list[Row]:
    overhead, wall = samples["overhead"], samples["wall"]
    median = statistics.median(overhead)
    detail = {
        "events": events,
        "median_ms": {k: round(statistics.median(v), 3) for k, v in samples.items()},
        "p99_ms": {k: round(percentile(v, 99), 3) for k, v in samples.items()},
        "sdk_and_http_ms_median": round(
            statistics.median(samples["wait"]) - statistics.median(samples["server"]), 3
        ),
        "profile (cProfile, inflated by profiling)": profile,
    }
    log(f"overhead: median {median:.3f} ms, p99 {percentile(overhead, 99):.3f} ms")
    return [
        Row(
            FAMILY,
            "engine overhead per creation event",
            "median",
            "ms",
            median,
            TARGET_MS,
            target=f"< {TARGET_MS:g} ms",
            met=median < TARGET_MS,
            bound_kind="target",
            detail=detail,
            goal=TARGET_MS,
        ),
        Row(
            FAMILY,
            "engine overhead per creation event",
            "p99",
            "ms",
            percentile(overhead, 99),
            TARGET_MS,
            target="(reported)",
            bound_kind="target",
        ),
        Row(
            FAMILY,
            "handler wall time per creation event",
            "median",
            "ms",
            statistics.median(wall),
            statistics.median(samples["wait"]),
            target="(reported)",
            bound_kind="its API wait",
        ),
    ]
