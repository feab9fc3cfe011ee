"""API calls per scenario, counted from the fake cloud's call log.

Scenarios: one creation event, one tag change, the echo of rolebinder's own marker write (a
tag change that touches only `rolebinder:` keys), an ActionTrail RunInstances record naming 100
instances, one batched delivery of 100 creation events (EventBridge push batching, or several
events arriving in one invocation), and a timer sweep of N instances. The events are the ones
the fake itself emits for SDK calls (RunInstances, TagResources), so their shapes are the
delivered ones. Event scenarios run in a warm container (role checks cached, as the bound
assumes); the cold-container count is reported beside it. Target: at most 4 calls for a
creation event (describe, role read, marker, attach), 0 for a marker echo; sweeps within 5% of
the bound.
"""

from __future__ import annotations

from typing import Any

from bench import bounds
from bench.harness import (
    ECS_TRAIL,
    PAYMENTS_PROD,
    READER,
    STATE_CHANGE,
    TAG_CHANGE,
    World,
    handler_env,
    launch,
    log,
    run_handler,
    tag,
    timer_event,
    uniform_fleet,
)
from bench.result import Options, Row

FAMILY = "calls"


def run(options: Options) -> list[Row]:
    rows = _events()
    rows.append(_sweep(200 if options.quick else 1000))
    return rows


def _events() -> list[Row]:
    with World() as world, handler_env(world.url):
        client = world.client()
        _warm(world, client)
        rows = [
            _creation(world, client),
            _tag_change(world, client),
            _marker_echo(world, client),
            _run_instances_record(world, client),
            _batched_delivery(world, client),
        ]
        rows[0].detail["cold_container_calls"] = _cold_creation(world, client)
        return rows


def _warm(world: World, client: Any) -> None:
    """A warm container: clients built, both roles checked and cached."""
    mark = world.event_mark()
    launch(client, 1, PAYMENTS_PROD)
    launch(client, 1, READER)
    for event in world.events(mark, STATE_CHANGE, "Created"):
        run_handler("instance_events", event)


def _measure(world: World, function: str, event: dict[str, Any]) -> tuple[dict[str, int], Any]:
    mark = world.mark()
    summary = run_handler(function, event)
    return world.counts(mark), summary["outcomes"]


def _creation(world: World, client: Any) -> Row:
    mark = world.event_mark()
    launch(client, 1, PAYMENTS_PROD)
    [created] = world.events(mark, STATE_CHANGE, "Created")
    counts, outcomes = _measure(world, "instance_events", created)
    return _row(
        "one creation event (warm container)",
        counts,
        bounds.batch_bound(1, 1, {"P": 1}),
        outcomes,
        target="<= 4 calls",
        met=sum(counts.values()) <= 4,
        goal=4,
    )


def _cold_creation(world: World, client: Any) -> dict[str, int]:
    from rolebinder.entrypoints import invocation  # noqa: PLC0415

    invocation.container_runtime.cache_clear()
    mark = world.event_mark()
    launch(client, 1, PAYMENTS_PROD)
    [created] = world.events(mark, STATE_CHANGE, "Created")
    return _measure(world, "instance_events", created)[0]


def _tag_change(world: World, client: Any) -> Row:
    # An untagged instance, already seen by the creation handler, then tagged ram-role=AppReader.
    mark = world.event_mark()
    [ident] = launch(client, 1, {})
    [created] = world.events(mark, STATE_CHANGE, "Created")
    run_handler("instance_events", created)
    mark = world.event_mark()
    tag(client, ident, READER)
    [change] = world.events(mark, TAG_CHANGE)
    counts, outcomes = _measure(world, "tag_events", change)
    return _row(
        "one tag change (warm container)",
        counts,
        bounds.batch_bound(1, 1, {"R": 1}),
        outcomes,
        target="<= 4 calls",
        met=sum(counts.values()) <= 4,
        goal=4,
    )


def _marker_echo(world: World, client: Any) -> Row:
    """The tag-change event the fake announces for rolebinder's own marker write."""
    mark = world.event_mark()
    launch(client, 1, PAYMENTS_PROD)
    [created] = world.events(mark, STATE_CHANGE, "Created")
    mark = world.event_mark()
    run_handler("instance_events", created)
    [echo] = world.events(mark, TAG_CHANGE)
    counts, outcomes = _measure(world, "tag_events", echo)
    return _row(
        "echo of rolebinder's own marker write",
        counts,
        {},
        outcomes,
        target="0 calls",
        met=sum(counts.values()) == 0,
        goal=0,
    )


def _run_instances_record(world: World, client: Any) -> Row:
    mark = world.event_mark()
    launch(client, 100, PAYMENTS_PROD)
    [record] = world.events(mark, ECS_TRAIL, "RunInstances")
    return _hundred_launched(world, "RunInstances record, 100 ids (warm)", record)


def _batched_delivery(world: World, client: Any) -> Row:
    """100 Created events in one invocation (a list), as EventBridge batching delivers them."""
    mark = world.event_mark()
    launch(client, 100, PAYMENTS_PROD)
    created = world.events(mark, STATE_CHANGE, "Created")
    return _hundred_launched(world, "one delivery of 100 creation events (warm)", created)


def _hundred_launched(world: World, scenario: str, delivery: Any) -> Row:
    """The row for one delivery naming 100 new instances: its calls against the batch bound."""
    counts, outcomes = _measure(world, "instance_events", delivery)
    bound = bounds.batch_bound(100, 100, {"P": 100})
    return _row(
        scenario,
        counts,
        bound,
        outcomes,
        target="= bound",
        met=sum(counts.values()) <= bounds.total(bound),
        goal=1.0,
        goal_on="ratio",
    )


def _sweep(n: int) -> Row:
    log(f"calls: sweep of {n:,}")
    with World() as world, handler_env(world.url):
        world.add_fleet(uniform_fleet(n))
        counts, outcomes = _measure(world, "reconcile", timer_event())
    bound = bounds.batch_bound(n, n, {"Payments": (n + 1) // 2, "AppReader": n // 2})
    met = sum(counts.values()) <= 1.05 * bounds.total(bound)
    return _row(
        f"sweep of {n:,} (2 roles interleaved)",
        counts,
        bound,
        outcomes,
        target="<= 1.05x bound",
        met=met,
        goal=1.05,
        goal_on="ratio",
    )


def _row(
    scenario: str,
    counts: dict[str, int],
    bound: dict[str, int],
    outcomes: dict[str, int],
    target: str,
    met: bool,
    goal: float,
    goal_on: str = "measured",
) -> Row:
    log(f"calls: {scenario}: {counts} (bound {bound})")
    return Row(
        FAMILY,
        scenario,
        "API calls",
        "calls",
        float(sum(counts.values())),
        float(bounds.total(bound)),
        target=target,
        met=met,
        detail={"calls": counts, "bound_calls": bound, "outcomes": outcomes},
        goal=goal,
        goal_on=goal_on,
    )
