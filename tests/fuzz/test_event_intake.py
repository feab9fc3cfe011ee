"""Fuzzing the event intake: `parse_delivery` gives well-formed triggers or an EventError.

Properties checked on every input, whatever it is:
- nothing but `EventError` escapes, and its message is one short line;
- the triggers are well-formed: an InstanceCheck names 1..MAX_IDS distinct instance ids of the
  form i-[A-Za-z0-9]{1,64}, regions and accounts are ids, ignored events carry a reason from the
  vocabulary and a one-line detail, and every string can be written to a UTF-8 log;
- a batch gives one trigger per element (a bad element becomes malformed-event);
- parsing is deterministic, and the parsed object, its JSON text and its bytes agree;
- no input takes more than a second to parse (harness.PARSE_SECONDS).
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from rolebinder.domain import reasons
from rolebinder.errors import EventError
from rolebinder.intake.events import (
    KIND_API_CALL,
    KIND_INSTANCE_STATE,
    KIND_TAG_CHANGE,
    MAX_INPUT_BYTES,
    IgnoredEvent,
    InstanceCheck,
    SweepRequest,
    Trigger,
    parse_delivery,
)
from rolebinder.intake.readers import MAX_IDS
from tests.fuzz.deliveries import (
    KEYS,
    VALUES,
    bent,
    deep_text,
    delivered,
    huge,
    odd_unicode_event,
    oversized,
    rewrapped,
    to_json,
)
from tests.fuzz.harness import INTAKE, fuzz, timed
from tests.fuzz.mutants import damaged_bytes, wrong_values

INSTANCE_ID = re.compile(r"i-[A-Za-z0-9]{1,64}")
REGION = re.compile(r"[a-z]{2,}-[a-z0-9-]+")
ACCOUNT = re.compile(r"[0-9]{1,32}")
# Longest region id accepted (the longest real one, cn-shanghai-finance-1, has 21 characters).
REGION_LIMIT = 64
# An error message or ignore detail is one line an operator reads in a log.
MESSAGE_LIMIT = 1000
LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
KINDS = {KIND_INSTANCE_STATE, KIND_TAG_CHANGE, KIND_API_CALL}
IGNORE_REASONS = {
    reasons.UNSUPPORTED_EVENT,
    reasons.IRRELEVANT_STATE,
    reasons.FAILED_API_CALL,
    reasons.UNSUPPORTED_API_CALL,
    reasons.NOT_AN_INSTANCE,
    reasons.MALFORMED_EVENT,
    reasons.MARKER_ONLY,
}


def parse(raw: Any) -> list[Trigger] | EventError:
    """The triggers, or the EventError; any other exception fails the test with its input."""
    try:
        return timed(parse_delivery, raw)
    except EventError as error:
        return error


def check_delivery(raw: Any) -> list[Trigger] | EventError:
    """Parse `raw` twice and check every property of the outcome."""
    first, second = parse(raw), parse(raw)
    if isinstance(first, EventError):
        assert isinstance(second, EventError)
        assert str(first) == str(second)
        check_line(str(first))
        return first
    assert first == second
    assert isinstance(first, list)
    check_batch_size(raw, first)
    for trigger in first:
        check_trigger(trigger)
    return first


def check_line(text: str) -> None:
    """A message or detail: a non-empty, short line the journal can write."""
    assert text, "empty message"
    assert len(text) <= MESSAGE_LIMIT, f"message of {len(text)} characters"
    check_loggable(text)


def check_loggable(text: str | None) -> None:
    """An id or name from the event: any length, but one line the journal can write."""
    if text is not None:
        assert isinstance(text, str)
        assert not LINE_BREAKS.search(text), f"control character in {text!r}"
        text.encode("utf-8")  # UnicodeEncodeError: the journal could not write this line


def check_region(region: str | None) -> None:
    if region is not None:
        assert REGION.fullmatch(region), region
        assert len(region) <= REGION_LIMIT, f"region id of {len(region)} characters"


def check_ids(ids: tuple[str, ...]) -> None:
    assert isinstance(ids, tuple)
    assert len(ids) <= MAX_IDS
    assert len(set(ids)) == len(ids), ids
    for instance in ids:
        assert isinstance(instance, str)
        assert INSTANCE_ID.fullmatch(instance), instance


def check_trigger(trigger: Trigger) -> None:
    check_loggable(trigger.event_id)
    if isinstance(trigger, InstanceCheck):
        assert trigger.instance_ids
        check_ids(trigger.instance_ids)
        check_region(trigger.region)
        assert trigger.account_id is None or ACCOUNT.fullmatch(trigger.account_id)
        assert trigger.event_kind in KINDS
        check_line(trigger.event_name)
    elif isinstance(trigger, SweepRequest):
        for region in trigger.regions:
            check_region(region)
        assert len(set(trigger.regions)) == len(trigger.regions)
        check_loggable(trigger.trigger_name)
        check_loggable(trigger.trigger_time)
    else:
        assert isinstance(trigger, IgnoredEvent)
        assert trigger.reason in IGNORE_REASONS
        check_line(trigger.detail)
        check_ids(trigger.instance_ids)
        check_region(trigger.region)
        assert trigger.account_id is None or ACCOUNT.fullmatch(trigger.account_id)


def check_batch_size(raw: Any, triggers: list[Trigger]) -> None:
    """A delivered array gives one trigger per element; anything else gives one trigger."""
    value = raw
    if isinstance(raw, (bytes, bytearray)):
        value = raw.decode("utf-8")
    if isinstance(value, str):
        value = json.loads(value)  # it parsed, so it is JSON
    assert len(triggers) == (len(value) if isinstance(value, list) else 1)


# --- mutated real shapes --------------------------------------------------------------------------


@fuzz(INTAKE, share=0.27)
@given(st.data())
def test_mutated_samples(data: st.DataObject) -> None:
    # Every sample with a few fields deleted, replaced, retyped, swapped, renamed or re-encoded.
    document = data.draw(bent())
    check_delivery(data.draw(delivered(document)))


@fuzz(INTAKE, share=0.10)
@given(st.data())
def test_samples_rewrapped_in_batches_and_envelopes(data: st.DataObject) -> None:
    document = data.draw(bent(steps=(0, 2)))
    for _ in range(data.draw(st.integers(1, 3))):
        document = data.draw(rewrapped(document))
    check_delivery(data.draw(delivered(document)))


@fuzz(INTAKE, share=0.12)
@given(st.data())
def test_wrong_types_everywhere(data: st.DataObject) -> None:
    # Many fields at once get a value of the wrong type: numbers, bools, null, nested lists.
    document = data.draw(bent(steps=(4, 16), values=wrong_values))
    check_delivery(data.draw(delivered(document)))


@fuzz(INTAKE, share=0.04)
@given(VALUES | st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8))
def test_arbitrary_json_values(document: Any) -> None:
    check_delivery(document)
    text = to_json(document)
    if text is not None:
        check_delivery(text)


# --- raw bytes, unicode ---------------------------------------------------------------------------


@fuzz(INTAKE, share=0.16)
@given(st.data())
def test_damaged_bytes(data: st.DataObject) -> None:
    # Real JSON text truncated, with bytes that are not UTF-8, BOMs, flipped bits, UTF-16.
    text = to_json(data.draw(bent(steps=(0, 2))))
    assume(text is not None)
    raw = text.encode("utf-8")
    for _ in range(data.draw(st.integers(1, 3))):
        raw = data.draw(damaged_bytes(raw))
    check_delivery(raw)


@fuzz(INTAKE, share=0.06)
@given(st.binary(max_size=200) | st.text(max_size=100))
def test_random_bytes_and_text(raw: bytes | str) -> None:
    check_delivery(raw)


@fuzz(INTAKE, share=0.12)
@given(st.data())
def test_odd_unicode_in_fields(data: st.DataObject) -> None:
    # Surrogates (as JSON escapes), NUL, RTL marks, combining marks, emoji, unicode digits in ids.
    document = data.draw(odd_unicode_event())
    check_delivery(data.draw(delivered(document)))


# --- determinism across input kinds ---------------------------------------------------------------


@fuzz(INTAKE, share=0.10)
@given(bent())
def test_object_text_and_bytes_agree(document: Any) -> None:
    # Only an object or array is handed over parsed; a str or bytes delivery is JSON text. The
    # text must mean the same document (two lone surrogates in a str become one character).
    text = to_json(document)
    assume(isinstance(document, (dict, list)))
    assume(text is not None and len(text) <= MAX_INPUT_BYTES)
    assume(to_json(json.loads(text)) == text)
    results = [check_delivery(raw) for raw in (document, text, text.encode("ascii"))]
    shown = [str(r) if isinstance(r, EventError) else r for r in results]
    assert shown[0] == shown[1] == shown[2]


# --- deep and huge --------------------------------------------------------------------------------


@fuzz(INTAKE, share=0.03)
@given(deep_text())
def test_deeply_nested_text(text: str) -> None:
    check_delivery(text)
    check_delivery(text.encode())


@fuzz(INTAKE, share=0.007)
@given(huge())
def test_huge_deliveries(raw: Any) -> None:
    check_delivery(raw)


@fuzz(INTAKE, share=0.0003)
@given(oversized())
def test_oversized_input_is_refused_before_decoding(raw: str | bytes) -> None:
    result = check_delivery(raw)
    assert isinstance(result, EventError)
    assert "accepted" in str(result)
