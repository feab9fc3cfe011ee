"""Burst: a thousand instances launched at once in local mode, under per-action rate limits.

The local-mode pieces run in this process: the fake cloud on the real clock, its HTTP server, and
`rolebinder.local.bus.LocalBus` routing the fake's events to the three handlers with the
EventBridge rules of template.yml (FC-like async delivery: 8 workers, 3 retries, a dead-letter
list). Ten RunInstances calls of 100 (half Payments, half AppReader) go through the SDK; the
fake emits a Created event per instance, an ActionTrail record per call, then Starting and
Running per instance. The clock starts at the first RunInstances; the role of every instance is
read straight from the fake's state (not through the API, so polling costs no quota). Bound:
`bounds.burst_bound`, each launch's chain (its record, then its reads and, cold, the role check,
then its ownership markers, then its Attach) under the rate limits, from the quotas, the batch
limits and the round trip measured before the limits are set (launches that do not fill whole
batches, the quick run's, fall back to the concurrent rate bound). Lost: instances without their
role at the timeout. Target: within 1.3x of the bound, nothing lost.
"""

from __future__ import annotations

import time
from typing import Any

from bench import bounds
from bench.harness import (
    ACCOUNT,
    PAYMENTS_PROD,
    READER,
    REGION,
    ROOT,
    World,
    handler_env,
    launch,
    log,
    quiet_stdout,
)
from bench.result import Options, Row
from bench.sweeps import RATES, rate_limits

FAMILY = "burst"
TEMPLATE = ROOT / "template.yml"
POLL = 0.02


def run(options: Options) -> list[Row]:
    # quick: two launches of 10 (a smoke run); full: ten of 100
    batches, amount = (2, 10) if options.quick else (10, 100)
    timeout, drain = (20.0, 1.0) if options.quick else (300.0, 180.0)
    # The handlers know the quota, as an operator configures it from Quota Center.
    with World() as world, handler_env(world.url, ROLEBINDER_RATE_LIMITS=rate_limits(RATES)):
        measured = _burst(world, batches, amount, timeout, drain)
    return _rows(measured, batches, amount)


def rules() -> tuple[list[Any], str]:
    """The EventBridge triggers of template.yml, or the same rules inline when it is missing."""
    from fakecloud.eventbridge import Rule  # noqa: PLC0415
    from rolebinder.local.bus import rules_from_template  # noqa: PLC0415

    if TEMPLATE.exists():
        return rules_from_template(TEMPLATE), "template.yml"
    states = ["Pending", "Created", "Starting", "Running"]
    state, trail = "ecs:Instance:StateChange", "ecs:ActionTrail:ApiCall"
    return [
        Rule(
            "state",
            {"source": ["acs.ecs"], "type": [state], "data": {"state": states}},
            "instance_events",
        ),
        Rule(
            "runs",
            {
                "source": ["acs.ecs"],
                "type": [trail],
                "data": {"eventName": ["RunInstances", "CreateInstance"]},
            },
            "instance_events",
        ),
        Rule("tag", {"source": ["acs.tag"]}, "tag_events"),
    ], "inline rules (no template.yml)"


def _burst(world: World, batches: int, amount: int, timeout: float, drain: float) -> dict[str, Any]:
    from rolebinder.local.bus import LocalBus  # noqa: PLC0415

    round_trip = world.round_trip()
    routing, source = rules()
    bus = LocalBus(routing, REGION, ACCOUNT).start()
    unsubscribe = world.cloud.events.subscribe(bus.publish)
    world.limit(RATES)
    client, mark = world.client(), world.mark()
    with quiet_stdout():
        started = time.monotonic()
        expected: dict[str, str] = {}
        for batch in range(batches):
            tags, role = (PAYMENTS_PROD, "Payments") if batch % 2 == 0 else (READER, "AppReader")
            expected.update(dict.fromkeys(launch(client, amount, tags), role))
        launched = time.monotonic() - started
        log(f"burst: {len(expected)} instances launched in {launched:.2f} s")
        done_at, timeline = _wait_for_roles(world, expected, started, timeout)
        calls_to_done = world.counts(mark)
        drained = bus.wait_idle(settle=1.0, timeout=drain)
        drained_at = time.monotonic() - started
        unsubscribe()
        bus.stop()
    roles = world.roles()
    lost = sorted(i for i, role in expected.items() if roles.get(i) != role)
    return {
        "routing": source,
        "round_trip_s": round(round_trip, 4),
        "launch_s": round(launched, 3),
        "all_roles_s": done_at,
        "timeline": timeline,
        "lost": len(lost),
        "lost_examples": lost[:5],
        "calls_until_all_roles": calls_to_done,
        "calls_total": world.counts(mark),
        "throttled_answers": sum(
            1 for c in world.cloud.calls.all(mark) if c.code.startswith("Throttling")
        ),
        "answers": world.answers(mark),
        "bus": {
            "delivered": bus.stats.delivered,
            "retried": bus.stats.retried,
            "dead_letters": len(bus.stats.dead_letters),
            "drained": drained,
            "drained_after_s": round(drained_at, 1),
        },
        "timeout_s": timeout,
    }


def _wait_for_roles(
    world: World, expected: dict[str, str], started: float, timeout: float
) -> tuple[float | None, list[tuple[float, int]]]:
    """Poll the fake's state; (seconds until every instance had its role, or None; timeline)."""
    timeline: list[tuple[float, int]] = []
    last = -1
    while True:
        elapsed = time.monotonic() - started
        roles = world.roles()
        bound = sum(1 for i, role in expected.items() if roles.get(i) == role)
        if bound != last:
            timeline.append((round(elapsed, 3), bound))
            last = bound
        if bound == len(expected):
            return round(elapsed, 3), timeline
        if elapsed > timeout:
            return None, timeline
        time.sleep(POLL)


def _rows(measured: dict[str, Any], batches: int, amount: int) -> list[Row]:
    n, payments = batches * amount, (batches + 1) // 2 * amount
    calls = bounds.batch_bound(
        n, n, {"Payments": payments, "AppReader": n - payments}, roles_cached=False
    )
    rtt = measured["round_trip_s"]
    concurrent = bounds.rate_bound(calls, RATES, burst=1.0, round_trip=rtt)
    try:
        bound = bounds.burst_bound(batches, amount, RATES, rtt)
    except ValueError:  # launches smaller than a batch (quick): the concurrent bound
        bound = concurrent
    measured.update({"bound_calls": calls, "rates": RATES, "concurrent_rate_bound_s": concurrent})
    took = measured["all_roles_s"]
    log(f"burst: all roles after {took} s (bound {bound:.2f} s), lost {measured['lost']}")
    scenario = f"burst of {n:,} in local mode, rate-limited"
    return [
        Row(
            FAMILY,
            scenario,
            "time to all roles",
            "s",
            took if took is not None else float("nan"),
            bound,
            target="<= 1.3x bound",
            met=took is not None and took <= 1.3 * bound,
            detail=measured,
            goal=1.3,
            goal_on="ratio",
        ),
        Row(
            FAMILY,
            scenario,
            "instances lost",
            "instances",
            float(measured["lost"]),
            0.0,
            target="0",
            met=measured["lost"] == 0,
            goal=0.0,
        ),
        Row(
            FAMILY,
            scenario,
            "API calls until all roles",
            "calls",
            float(sum(measured["calls_until_all_roles"].values())),
            float(bounds.total(calls)),
            target="(reported)",
        ),
    ]
