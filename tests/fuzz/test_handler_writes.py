"""No API write for invalid input, on the real handler path.

Garbage deliveries run through `rolebinder.entrypoints.invocation.Invocation` as Function Compute
would run them:
a LocalContext, an environment that points the real SDK clients at the fake cloud (seeded with
events/seed.yaml) and the example mapping. The fake's call log must show no write at all, not
even a refused attempt. The journal writes to a strict UTF-8 stream, as stdout would be, so a
line that cannot be logged fails the test too. And a mapping file that is invalid makes the
handler raise before it makes any API call.

The fake cloud is shared by all the examples of a test, on purpose: the property is that none
of them writes, so one call log across all of them is the strictest check.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import strategies as st

from fakecloud import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    FakeCloud,
    FakeCloudServer,
    apply_seed,
    load_seed_file,
)
from functions.instance_events import index as instance_events
from rolebinder.entrypoints import config, invocation
from rolebinder.entrypoints.invocation import Invocation, RetryLaterError, Runtime, runtime_from
from rolebinder.errors import EventError, MappingError
from rolebinder.local.fc_context import FunctionMeta, LocalContext
from rolebinder.mapping.model import parse_mapping
from rolebinder.output.journal import Journal
from tests.fuzz import deliveries, known, mappings
from tests.fuzz.harness import HANDLER, fuzz

ROOT = Path(__file__).resolve().parents[2]
SEED = load_seed_file(ROOT / "events" / "seed.yaml")
ACCOUNT = SEED["account_id"]
REGION = "cn-hangzhou"
SEEDED = frozenset(
    instance["instance_id"]
    for region in SEED["regions"].values()
    for instance in region.get("instances", [])
)
# Would attach Payments to a seeded instance: the write an invalid mapping must prevent.
VALID_EVENT = deliveries.SAMPLES["eventbridge-ecs-instance-statechange-created.json"]
# The fake answers in milliseconds; nothing should wait for an instance to appear.
SETTINGS = {
    config.ACCOUNT_ID: ACCOUNT,
    config.FC_REGION: REGION,
    config.VISIBILITY_WAIT: "0",
    config.DEADLINE_MARGIN: "0.5",
    config.API_TIMEOUT: "5",
    config.ACCESS_KEY_ID: DEFAULT_ACCESS_KEY_ID,
    config.ACCESS_KEY_SECRET: DEFAULT_ACCESS_KEY_SECRET,
}
SHARED_FAKE = {"suppress_health_check": [HealthCheck.function_scoped_fixture]}


def handler_env(server: FakeCloudServer, mapping: Path) -> dict[str, str]:
    """The environment Function Compute would give the functions, pointed at the fake."""
    return {
        **SETTINGS,
        config.MAPPING: str(mapping),
        config.ECS_ENDPOINT: server.url,
        config.RAM_ENDPOINT: server.url,
    }


@pytest.fixture
def seeded(cloud: FakeCloud) -> FakeCloud:
    apply_seed(cloud, SEED)
    return cloud


def context() -> LocalContext:
    return LocalContext(region=REGION, function=FunctionMeta("rolebinder-fuzz", timeout=20))


def strict_journal() -> Journal:
    """A journal on a strict UTF-8 stream: a line stdout could not take raises, as it would."""
    return Journal(io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict"))


# Ids of the right form for instances that do not exist; regions that exist or not.
UNKNOWN_IDS = ("i-bp1nosuch000000001", "i-" + "Z" * 64, "i-0", "i-bp1payments0000000009")
REGIONS = ("cn-hangzhou", "cn-shanghai", "ap-nowhere-1", "zz-zz")
TIMER_KEYS = ("triggerTime", "triggerName")


def _elsewhere(document: Any, instance: str, region: str) -> Any:
    """`document` with every seeded instance replaced by `instance`, in `region`."""
    text = deliveries.to_json(document) or "null"
    for seeded in SEEDED:
        text = text.replace(seeded, instance)
    return json.loads(text.replace(REGION, region))


def names_a_timer(document: Any) -> bool:
    """Whether any object inside carries the timer's keys: a sweep, which may write."""
    if isinstance(document, dict):
        return all(k in document for k in TIMER_KEYS) or any(
            names_a_timer(v) for v in document.values()
        )
    if isinstance(document, list):
        return any(names_a_timer(v) for v in document)
    # A JSON string holding a timer event, or damaged text of one.
    return isinstance(document, str) and all(k in document for k in TIMER_KEYS)


# Bent samples that name no instance the fake has (every seeded id replaced after bending) and
# no timer: nothing can be bound, whatever the intake makes of them.
unknown_instances = st.builds(
    _elsewhere,
    deliveries.bent(steps=(0, 2)),
    st.sampled_from(UNKNOWN_IDS),
    st.sampled_from(REGIONS),
).filter(lambda document: not names_a_timer(document))
# Ground truth by construction (tests/fuzz/known.py), never by running the intake: the oracle
# must not be the code under test, or breaking the foreign-account check would pass.
garbage = st.one_of(
    known.write_nothing(),
    known.write_nothing(),  # weighted: these name live instances, the bent ones cannot
    known.write_nothing(),
    unknown_instances.flatmap(deliveries.delivered),
)


@fuzz(HANDLER, share=0.9, **SHARED_FAKE)
@given(garbage)
def test_garbage_deliveries_write_nothing(
    seeded: FakeCloud, server: FakeCloudServer, raw: Any
) -> None:
    env = handler_env(server, ROOT / "examples" / "mapping.yaml")
    runtime = _runtime(env)
    journal = strict_journal()
    # WHEN the handler path runs the delivery
    try:
        summary = Invocation(runtime, context(), "fuzz", env, journal).run(raw)
    except RetryLaterError:  # a creation event for an instance the API does not show (yet)
        summary = None
        assert journal.retryable
    except EventError:  # malformed: refused before any API call
        summary = None
    # THEN it returned, refused or asked for a retry, as documented, having written nothing
    assert summary is None or summary["kind"] == "summary"
    assert seeded.calls.writes(ok_only=False) == []


@pytest.mark.parametrize(
    ("shape", "builder", "name"), known.would_write(), ids=[s for s, _, _ in known.would_write()]
)
@pytest.mark.parametrize("instance", known.LIVE)
def test_the_constructed_shapes_attach_in_our_account(
    seeded: FakeCloud,
    server: FakeCloudServer,
    shape: str,
    builder: known.Builder,
    name: str,
    instance: str,
) -> None:
    # GIVEN a shape the garbage above is built from, for a live instance, in our account
    event = builder([instance], known.OWN, known.REGION, **({"name": name} if name else {}))
    env = handler_env(server, ROOT / "examples" / "mapping.yaml")
    # WHEN the handler path runs it
    Invocation(runtime_from(env), context(), "fuzz", env, strict_journal()).run(event)
    # THEN the instance got its role: the constructions are live, so "nothing written" above
    # is the account, id, region or event making the difference
    assert seeded.ecs(REGION).instances[instance].role is not None


_RUNTIMES: dict[str, Runtime] = {}


def _runtime(env: Mapping[str, str]) -> Runtime:
    """One runtime per fake-cloud URL, as a warm container keeps one."""
    url = env[config.ECS_ENDPOINT]
    if url not in _RUNTIMES:
        _RUNTIMES.clear()
        _RUNTIMES[url] = runtime_from(env)
    return _RUNTIMES[url]


invalid_mapping_texts = st.one_of(
    mappings.hazardous_text(),
    mappings.bent().flatmap(mappings.yaml_text),
    mappings.bombs,
    mappings.deep_text().map(lambda deep: deep[0]),
)


@fuzz(HANDLER, share=0.1, **SHARED_FAKE)
@given(invalid_mapping_texts)
def test_invalid_mapping_raises_before_any_api_call(
    seeded: FakeCloud, server: FakeCloudServer, tmp_path: Path, text: str
) -> None:
    assume(isinstance(_attempt(text), MappingError))
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    before = len(seeded.calls.all())
    # WHEN a cold container's handler gets a valid event with this mapping configured
    with cold_container(handler_env(server, path)), pytest.raises(MappingError):
        instance_events.handler(VALID_EVENT, context())
    # THEN it raised before calling any API
    assert len(seeded.calls.all()) == before


def _attempt(text: str) -> Any:
    try:
        return parse_mapping(text, "mapping.yaml")
    except MappingError as error:
        return error


@contextlib.contextmanager
def cold_container(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ set to `env` and no cached runtime, both restored afterwards."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    invocation.container_runtime.cache_clear()
    try:
        yield
    finally:
        invocation.container_runtime.cache_clear()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
