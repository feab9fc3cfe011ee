"""The event-source registry (rolebinder.intake.events.API_CALLS) is the one list of API calls.

Each entry names its sample and its handler; these tests hold the sample, the events README
table and the template's triggers to it, so adding an event source is one entry plus its sample.
"""

from __future__ import annotations

import pytest

from rolebinder.deploy import template as tpl
from rolebinder.intake.events import API_CALLS, CREATION_CALLS, InstanceCheck, parse_delivery
from tests.support import EVENTS, ROOT


def routed_event_names(function: str) -> set[str]:
    """The ActionTrail eventNames template.yml's triggers send to `function`."""
    names: set[str] = set()
    for rule in tpl.event_rules(tpl.load_template(ROOT / "template.yml")):
        if rule.target == function:
            names |= set(rule.pattern.get("data", {}).get("eventName", []))
    return names


@pytest.mark.parametrize("name", sorted(API_CALLS))
def test_each_source_sample_parses_to_a_check_of_its_call(name: str) -> None:
    source = API_CALLS[name]
    triggers = parse_delivery((EVENTS / source.sample).read_bytes())
    assert [(type(t), t.event_name) for t in triggers] == [(InstanceCheck, name)]
    (check,) = triggers
    assert isinstance(check, InstanceCheck)
    assert check.announces_new == source.creates


@pytest.mark.parametrize("function", sorted({s.function for s in API_CALLS.values()}))
def test_the_template_routes_exactly_the_registered_calls(function: str) -> None:
    registered = {name for name, source in API_CALLS.items() if source.function == function}
    assert routed_event_names(function) == registered


def test_the_events_readme_has_a_row_for_each_source_sample() -> None:
    table = (EVENTS / "README.md").read_text(encoding="utf-8")
    for name, source in API_CALLS.items():
        row = next((line for line in table.splitlines() if f"`{source.sample}`" in line), "")
        assert f"`{name}`" in row, f"events/README.md: no row for {source.sample} ({name})"


def test_only_launches_announce_new_instances() -> None:
    assert frozenset({"RunInstances", "CreateInstance"}) == CREATION_CALLS
