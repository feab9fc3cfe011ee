"""Strategies for Function Compute deliveries: every sample in events/, bent, wrapped, damaged.

Used by the intake fuzz tests and by the handler test that checks garbage writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from rolebinder.intake.events import API_CALLS, MAX_BATCH, MAX_INPUT_BYTES
from tests.fuzz.emitted import EMITTED
from tests.fuzz.mutants import (
    Draw,
    bent_text,
    damaged_bytes,
    get,
    json_values,
    mutants,
    odd_text,
    paths,
    pick,
    put,
    wrong_values,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES: dict[str, Any] = {
    path.name: json.loads(path.read_text(encoding="utf-8"))
    for path in sorted(EVENTS.glob("*.json"))
}
# Batch elements: the batch samples' own elements and every single-event sample.
ELEMENTS: list[Any] = [
    element
    for sample in SAMPLES.values()
    for element in (sample if isinstance(sample, list) else [sample])
]

# Names the intake looks for, so that mutations often rename or insert something it reads.
KEYS = (
    "id",
    "eventId",
    "specversion",
    "source",
    "type",
    "data",
    "content",
    "aliyunregionid",
    "aliyunaccountid",
    "product",
    "name",
    "regionId",
    "userId",
    "resourceId",
    "resourceType",
    "state",
    "changedTagKeys",
    "tags",
    "eventName",
    "eventType",
    "eventVersion",
    "acsRegion",
    "recipientAccountId",
    "userIdentity",
    "accountId",
    "errorCode",
    "requestParameters",
    "responseElements",
    "InstanceIdSets",
    "InstanceIdSet",
    "InstanceId",
    "RegionId",
    "ResourceType",
    "ResourceId",
    "ResourceId.1",
    "ResourceId.2",
    "ResourceId.01",
    "ResourceId.99999999999999999999999",
    "ResourceId.\u0661",
    "ResourceARN",
    "ResourceARN.1",
    "triggerTime",
    "triggerName",
    "payload",
    "regions",
)
# Values a field of an event plausibly holds, right or subtly wrong.
PLAUSIBLE = st.sampled_from(
    [
        "i-bp1payments0000000001",
        "i-bp1reader00000000001",
        "i-" + "a" * 64,
        "i-" + "a" * 65,
        "i-",
        "I-bp1abc",
        "i-bp1\u0661\u0662\u0663",
        "i-bp1\uff10\uff11",
        "i-bp1abc\n",
        " i-bp1abc",
        "i\u2010bp1abc",
        "acs:ecs:cn-hangzhou:1234567890123456:instance/i-bp1reader00000000001",
        "arn:acs:ecs:*:*:instance/i-bp1reader00000000001",
        "acs:ecs:cn-hangzhou:1234567890123456:instance/",
        "acs:ecs:cn-hangzhou:1:disk/d-1",
        "acs:ecs:::instance/i-a/b",
        "acs:ec\u017f:cn-hangzhou:1:in\u017ftance/i-bp1abc",
        "cn-hangzhou",
        "ap-southeast-1",
        "CN-HANGZHOU",
        "cn-hangzhou\n",
        "cn-\u0661",
        "cn-" + "a" * 100,
        "1234567890123456",
        "9999999999999999",
        "\u0661\u0662\u0663",
        "1" * 33,
        "Running",
        "Starting",
        "Stopped",
        "pending",
        "RUNNING",
        "\u017ftarting",
        "ALIYUN::ECS::Instance",
        "instance",
        "ecs",
        "acs.ecs",
        "acs.tag",
        "ecs:Instance:StateChange",
        "tag:Tag:ChangeOnResource",
        "ecs:ActionTrail:ApiCall",
        "Instance:StateChange",
        "Tag:ChangeOnResource",
        *API_CALLS,  # every API call name the parsers know
        "1.0",
        "1",
        '{"regions": ["cn-hangzhou"]}',
        '{"regions": "cn-hangzhou"}',
        '{"regions": [1, null]}',
        '{"regions": []}',
        "[" * 3000,
        "{",
        "",
    ]
)
VALUES = json_values(KEYS, PLAUSIBLE)
# What a mutation puts in: mostly cheap fixed values, sometimes a whole random JSON value.
REPLACEMENTS = wrong_values | PLAUSIBLE | VALUES
# The samples in events/ (three draws in four), and the fake's own events in each documented
# shape (tests/fuzz/emitted.py).
_files = st.sampled_from(list(SAMPLES.values()))
samples = st.one_of(_files, _files, _files, st.sampled_from(EMITTED))
elements = st.sampled_from(ELEMENTS)
extra_elements = st.lists(elements | VALUES, max_size=3)


def bent(
    bases: st.SearchStrategy[Any] = samples,
    steps: tuple[int, int] = (1, 4),
    values: st.SearchStrategy[Any] = REPLACEMENTS,
) -> st.SearchStrategy[Any]:
    """A sample (or one of `bases`) with a few random mutations."""
    return mutants(bases, KEYS, values, steps)


# --- wrapping -------------------------------------------------------------------------------------

ENVELOPE_TYPES = (
    ("acs.ecs", "ecs:Instance:StateChange"),
    ("acs.ecs", "ecs:ActionTrail:ApiCall"),
    ("acs.tag", "tag:Tag:ChangeOnResource"),
    ("acs.actiontrail", "actiontrail:ActionTrail:ApiCall"),
    ("acs.oss", "oss:ObjectCreated:PutObject"),
)


@st.composite
def envelope(draw: Draw, data: Any) -> dict[str, Any]:
    """`data` inside an EventBridge CloudEvent, as an object or a JSON string."""
    source, event_type = pick(draw, ENVELOPE_TYPES)
    return {
        "id": pick(draw, ("3f1e", "", "\ud800", None)),
        "source": source,
        "specversion": "1.0",
        "type": event_type,
        "aliyunregionid": draw(PLAUSIBLE),
        "aliyunaccountid": pick(draw, ("1234567890123456", "9999999999999999", None)),
        "data": json.dumps(data) if draw(st.booleans()) else data,
    }


@st.composite
def rewrapped(draw: Draw, document: Any) -> Any:
    """`document` wrapped in a batch or an envelope, JSON-encoded, or unwrapped one level."""
    how = pick(draw, ("batch", "batch-of-strings", "envelope", "unwrap", "nested"))
    if how == "batch":
        extra = draw(extra_elements)
        return [document, *extra] if draw(st.booleans()) else [*extra, document]
    if how == "batch-of-strings":  # event streaming holds each event as a JSON string
        others = draw(extra_elements)
        return [to_json(document), *[to_json(element) for element in others]]
    if how == "envelope":
        return draw(envelope(document))
    if how == "nested":
        return [[document]] if draw(st.booleans()) else [json.dumps([document])]
    return _unwrapped(document)


def _unwrapped(document: Any) -> Any:
    if isinstance(document, list):
        return document[0] if document else document
    if isinstance(document, dict):
        for key in ("data", "content", "requestParameters", "responseElements"):
            if key in document:
                return document[key]
    return document


# --- encodings of a delivery ----------------------------------------------------------------------


def to_json(document: Any, ascii_only: bool = True) -> str | None:
    """JSON text of `document`, or None when it has no JSON form (a huge int, a bad key)."""
    try:
        return json.dumps(document, ensure_ascii=ascii_only)
    except (TypeError, ValueError):
        return None


@st.composite
def delivered(draw: Draw, document: Any) -> Any:
    """`document` as FC may hand it over: parsed, JSON text, UTF-8 bytes, or damaged bytes."""
    form = pick(draw, ("object", "text", "ascii-text", "bytes", "bytearray", "damaged"))
    text = to_json(document, ascii_only=form != "text")
    if form == "object" or text is None:
        return document
    if form in ("text", "ascii-text"):
        return text
    data = text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes invalid UTF-8
    if form == "bytes":
        return data
    if form == "bytearray":
        return bytearray(data)
    return draw(damaged_bytes(data))


# --- deep and huge --------------------------------------------------------------------------------

DEPTHS = (10, 31, 32, 33, 500, 999, 1000, 1001, 5000, 50_000, 200_000)
OPENERS = ("[", "{", '{"a":', '{"data":', '[{"x":', '{"specversion":"1.0","data":')
CLOSERS = {"[": "]", "{": "}"}


@st.composite
def deep_text(draw: Draw) -> str:
    """JSON text nested thousands of levels deep, alone or where a parser will decode it."""
    depth, opener = pick(draw, DEPTHS), pick(draw, OPENERS)
    closer = "]" if opener.startswith("[") else "}"
    closer *= opener.count("[") + opener.count("{")
    if opener.endswith(":"):
        inner = opener * depth + "1" + closer * depth
    else:
        inner = opener * depth + closer * depth
    if draw(st.booleans()):
        inner = inner[: draw(st.integers(0, len(inner)))]  # unclosed, as from a cut-off body
    place = pick(draw, ("top", "data", "element", "payload", "content"))
    if place == "top":
        return inner
    if place == "element":
        return json.dumps([inner])
    if place == "payload":
        return json.dumps({"triggerName": "t", "triggerTime": "now", "payload": inner})
    event = dict(SAMPLES["eventbridge-ecs-instance-statechange-running.json"])
    if place == "content":
        event["data"] = {"content": inner}
        return json.dumps(event)
    return json.dumps(event)[:-1] + ', "data": ' + inner + "}"


def _state_event(resource_id: Any) -> dict[str, Any]:
    event = json.loads(json.dumps(SAMPLES["eventbridge-ecs-instance-statechange-running.json"]))
    event["data"]["resourceId"] = resource_id
    return event


def _run_instances(ids: list[Any]) -> dict[str, Any]:
    record = json.loads(json.dumps(SAMPLES["actiontrail-ecs-runinstances.json"]))
    record["responseElements"]["InstanceIdSets"]["InstanceIdSet"] = ids
    return record


def _tag_resources(count: int, numbered: bool) -> dict[str, Any]:
    event = json.loads(json.dumps(SAMPLES["eventbridge-actiontrail-ecs-tagresources.json"]))
    params = event["data"]["requestParameters"]
    del params["ResourceId.1"]
    if numbered:
        params.update({f"ResourceId.{n}": f"i-bp1x{n:08d}" for n in range(count, 0, -1)})
    else:
        params["ResourceARN"] = [f"acs:ecs:*:*:instance/i-bp1x{n:08d}" for n in range(count)]
    return event


_IDS = (1000, 1001, 100_000)  # MAX_IDS, one more, and a hundred thousand


def _failed_call(size: int) -> dict[str, Any]:
    record = json.loads(json.dumps(SAMPLES["actiontrail-ecs-runinstances.json"]))
    return {**record, "eventName": "\n" * size, "errorCode": "x" * size}


def _many_regions(size: int) -> dict[str, Any]:
    regions = json.dumps({"regions": ["cn-hangzhou"] * size})
    return {"triggerName": "t", "triggerTime": "now", "payload": regions}


# Deliveries at or past a limit: a builder and the sizes to build it with.
HUGE: dict[str, tuple[Callable[[int], Any], tuple[int, ...]]] = {
    "long-id": (lambda size: _state_event("i-" + "a" * size), (64, 65, 100_000, 1_000_000)),
    "long-event-id": (lambda size: {**_state_event("i-bp1abc"), "id": "x" * size}, (1_000_000,)),
    "long-region": (
        lambda size: {**_state_event("i-bp1abc"), "aliyunregionid": "cn-" + "a" * size},
        (61, 62, 100_000),
    ),
    "long-event-name": (_failed_call, (1_000_000,)),
    "many-ids": (lambda size: _run_instances([f"i-bp1x{n:08d}" for n in range(size)]), _IDS),
    "many-numbered": (lambda size: _tag_resources(size, numbered=True), _IDS),
    "many-arns": (lambda size: _tag_resources(size, numbered=False), _IDS),
    "big-batch": (
        lambda size: [ELEMENTS[n % len(ELEMENTS)] for n in range(size)],
        (MAX_BATCH, MAX_BATCH + 1),
    ),
    "many-keys": (
        lambda size: {**{f"k{n}": n for n in range(size)}, **_state_event("i-bp1abc")},
        (100_000,),
    ),
    "many-regions": (_many_regions, (1_000, 100_000)),
    "string": (lambda size: "x" * size, (1_000_000,)),
}


@st.composite
def huge(draw: Draw) -> Any:
    """A delivery at or past a limit: long strings, long lists, 100k ids, big batches."""
    build, sizes = HUGE[pick(draw, tuple(HUGE))]
    size = pick(draw, sizes)
    return _form(build(size), pick(draw, ("object", "text", "bytes")))


def _form(document: Any, form: str) -> Any:
    text = to_json(document)
    if form == "object" or text is None:
        return document
    return text if form == "text" else text.encode()


def oversized() -> st.SearchStrategy[Any]:
    """Inputs just past MAX_INPUT_BYTES (refused before they are decoded)."""
    return st.sampled_from(["str", "bytes", "wide"]).map(_oversized)


def _oversized(form: str) -> Any:
    if form == "wide":  # fewer characters than the limit, more bytes once encoded
        return "\u00e9" * (MAX_INPUT_BYTES // 2 + 1)
    text = " " * (MAX_INPUT_BYTES + 1)
    return text if form == "str" else text.encode()


# --- odd unicode in fields ------------------------------------------------------------------------


@st.composite
def odd_unicode_event(draw: Draw) -> Any:
    """A sample whose string fields carry odd unicode: surrogates, NUL, RTL, combining, emoji."""
    document = json.loads(json.dumps(draw(samples)))
    strings = [p for p in paths(document) if isinstance(get(document, p), str)]
    for _ in range(draw(st.integers(1, 3))):
        where = pick(draw, strings)
        current = get(document, where)
        value = pick(draw, ("bend", "odd", "append"))
        if value == "bend":
            put(document, where, bent_text(draw, current))
        elif value == "odd":
            put(document, where, draw(odd_text))
        else:
            put(document, where, current + draw(odd_text))
    return document
