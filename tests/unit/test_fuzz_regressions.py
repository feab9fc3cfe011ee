"""Regressions found by the fuzz suite (tests/fuzz): each case is the smallest input it found."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from rolebinder.errors import EventError, MappingError
from rolebinder.intake.events import (
    IgnoredEvent,
    InstanceCheck,
    SweepRequest,
    Trigger,
    parse_delivery,
)
from rolebinder.mapping.model import mapping_from_document, parse_mapping
from rolebinder.mapping.text import MAX_FILE_BYTES

UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
STATE_EVENT = {
    "id": "ev-1",
    "source": "acs.ecs",
    "specversion": "1.0",
    "type": "ecs:Instance:StateChange",
    "aliyunregionid": "cn-hangzhou",
    "data": {"resourceId": "i-bp1abc", "resourceType": "ALIYUN::ECS::Instance", "state": "Running"},
}
MAPPING = {
    "version": 1,
    "roles": ["Payments"],
    "rules": [{"name": "payments", "when": {"tags": {"team": "payments"}}, "role": "Payments"}],
}


def strings_of(trigger: Trigger) -> list[str]:
    """Every string a trigger carries to the journal."""
    values = trigger._asdict().values()
    return [v for v in values if isinstance(v, str)] + [
        item for v in values if isinstance(v, tuple) for item in v
    ]


# --- events: text taken from an event must be loggable ----------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"id": "\ud800", "x": 1},  # unrecognised, id kept loosely
        {**STATE_EVENT, "id": "a\ud800\nb"},  # CloudEvent id
        {"ver": "1.0", "id": "\udfff", "product": "Other", "name": "x"},  # CloudMonitor id
        {"eventName": "X", "eventType": "ApiCall", "eventId": "\ud800\x1b"},  # ActionTrail
        {"triggerTime": "\ud800", "triggerName": "\u2028", "payload": ""},  # FC timer
    ],
    ids=["loose-id", "cloudevent-id", "cloudmonitor-id", "actiontrail-id", "timer"],
)
def test_lone_surrogates_and_controls_in_ids_are_escaped(event: dict[str, Any]) -> None:
    # GIVEN JSON text whose \\ud800 escapes decode to lone surrogates (which UTF-8 cannot encode:
    # the journal's write to stdout raised UnicodeEncodeError and the handler crashed)
    raw = json.dumps(event).encode()
    # WHEN parsed
    [trigger] = parse_delivery(raw)
    # THEN every string of the trigger can be written as one line of UTF-8
    for text in strings_of(trigger):
        assert not UNPRINTABLE.search(text), text
        text.encode("utf-8")


def test_escaped_ids_keep_their_readable_form() -> None:
    [trigger] = parse_delivery(json.dumps({**STATE_EVENT, "id": "ev\n\ud800-é"}))
    assert trigger.event_id == "ev\\n\\ud800-é"


def test_unrecognised_keys_are_shown_printable_and_short() -> None:
    [trigger] = parse_delivery({"\x1f": None, "\u2028" * 100: 1})
    assert isinstance(trigger, IgnoredEvent)
    assert trigger.detail == "unrecognised event with keys \\x1f, " + "\\u2028" * 6 + "\\u20"


def test_failed_api_call_name_is_shown_printable_and_short() -> None:
    record = {"eventName": "\x00Run" * 1000, "eventType": "ApiCall", "errorCode": "NoStock"}
    [trigger] = parse_delivery(record)
    assert isinstance(trigger, IgnoredEvent)
    assert trigger.detail == "\\x00Run" * 11 + "\\x0 failed with 'NoStock'"


# --- events: region ids are short ---------------------------------------------------------------


def test_region_of_64_characters_is_the_longest_accepted() -> None:
    longest = "cn-" + "a" * 61
    [trigger] = parse_delivery({**STATE_EVENT, "aliyunregionid": longest})
    assert isinstance(trigger, InstanceCheck)
    assert trigger.region == longest


@pytest.mark.parametrize("length", [62, 100_000])
def test_longer_region_ids_are_invalid(length: int) -> None:
    # Each region an event names gets an SDK client that a warm container keeps.
    with pytest.raises(EventError, match=r"^aliyunregionid: invalid region 'cn-aaa"):
        parse_delivery({**STATE_EVENT, "aliyunregionid": "cn-" + "a" * length})


def test_timer_regions_are_bounded_too() -> None:
    payload = json.dumps({"regions": ["cn-hangzhou", "cn-" + "a" * 62]})
    with pytest.raises(EventError, match=r"^payload\.regions\[1\]: invalid region"):
        parse_delivery({"triggerTime": "t", "triggerName": "n", "payload": payload})
    payload = json.dumps({"regions": ["cn-hangzhou"]})
    [sweep] = parse_delivery({"triggerTime": "t", "triggerName": "n", "payload": payload})
    assert isinstance(sweep, SweepRequest)
    assert sweep.regions == ("cn-hangzhou",)


# --- mapping: problems are short single lines ---------------------------------------------------


def problems(document: object = None, text: str | None = None) -> list[str]:
    with pytest.raises(MappingError) as caught:
        if text is None:
            mapping_from_document(document)
        else:
            parse_mapping(text)
    return [str(problem) for problem in caught.value.problems]


@pytest.mark.parametrize("char", ["\x7f", "\x85", "\x9f", "\u2028", "\u2029", "\ud800"])
def test_quoted_values_escape_what_json_leaves_raw(char: str) -> None:
    # json.dumps(ensure_ascii=False) leaves DEL, C1 controls and U+2028/9 as they are; U+0085
    # and U+2028 are line breaks to str.splitlines() and to many log viewers.
    [problem] = problems({**MAPPING, "on_no_match": f"a{char}b"})
    escaped = f"\\u{ord(char):04x}"
    assert problem == f'on_no_match: must be one of keep, detach, got "a{escaped}b"'


def test_a_long_unknown_key_is_quoted_and_clipped_in_the_path() -> None:
    key = "on_no_match" * 1000
    [problem] = problems({**MAPPING, key: "keep"})
    assert problem.startswith('["on_no_matchon_no_match')
    assert '..."]: unknown key' in problem
    assert len(problem) < 200


def test_keys_up_to_60_characters_stay_bare() -> None:
    [problem] = problems({**MAPPING, "k" * 60: 1})
    assert problem.startswith("k" * 60 + ": unknown key")


def test_a_long_tag_is_clipped_in_yaml_errors() -> None:
    [problem] = problems(text="version: !" + "a" * 5000 + " 1\n")
    assert problem.startswith("YAML error at line 1, column 10: could not determine a constructor")
    assert problem.endswith("...")
    assert len(problem) < 300


# --- mapping: bounded work ----------------------------------------------------------------------


def test_text_longer_than_the_file_limit_is_refused_unparsed() -> None:
    # A 10 MB text was parsed (seconds of pure-Python YAML); a file that size is refused unread.
    [problem] = problems(text="version: '" + "a" * 10_000_000 + "'\n")
    assert problem == "is larger than 262144 bytes (256 KiB); a mapping never needs that much"


def test_text_at_the_file_limit_is_parsed() -> None:
    text = "version: 1\nroles: [Payments]\n"
    padded = text + "#" * (MAX_FILE_BYTES - len(text))
    assert "is larger than" not in " ".join(problems(text=padded))


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, "{a: " * 5000, "- " * 5000 + "x", "roles: " + "[" * 1000 + "]" * 1000],
    ids=["flow-sequences", "flow-mappings", "block-sequences", "as-a-value"],
)
def test_yaml_deeper_than_the_schema_allows_is_refused_while_composing(text: str) -> None:
    # PyYAML's scanner slows down quadratically with flow depth, and only RecursionError stopped
    # it (after about a second); now composing stops at the schema's depth limit, with a place.
    [problem] = problems(text=text)
    assert re.fullmatch(
        r"YAML error at line \d+, column \d+: YAML is nested too deeply \(more than 32 levels\)",
        problem,
    )


def test_yaml_as_deep_as_the_schema_allows_reaches_the_schema() -> None:
    # Lists inside roles, the innermost one 31 levels deep: the schema judges it, not the guard.
    allowed = problems(text="roles: " + "[" * 30 + "x" + "]" * 30 + "\n")
    assert not any("nested" in problem for problem in allowed)
    [refused] = problems(text="roles: " + "[" * 31 + "x" + "]" * 31 + "\n")
    assert "YAML is nested too deeply" in refused
