"""Fuzzing the mapping loader: a well-formed RoleMapping or one MappingError, nothing else.

Properties checked on every input (`parse_mapping`, `mapping_from_document`, `load_mapping`):
- nothing but `MappingError` escapes; it carries 1..MAX_PROBLEMS+1 problems, each one short
  line, and its message is one line;
- a loaded mapping is well-formed: version 1, a non-empty allow-list of valid role names, rules
  with unique valid names, exactly one of role / role_from_tag, every fixed role and every value
  a role_from_tag rule lists in the allow-list, priorities and scopes within the schema;
- loading is deterministic, and YAML or JSON text of a document loads as the document does;
- no input takes more than a second to load (harness.PARSE_SECONDS).
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rolebinder.errors import MappingError, Problem
from rolebinder.mapping.model import (
    DETACH,
    KEEP,
    REPLACE,
    RoleMapping,
    Rule,
    load_mapping,
    parse_mapping,
)
from rolebinder.mapping.model import mapping_from_document as from_document
from rolebinder.mapping.schema import MAX_PROBLEMS
from rolebinder.mapping.scopes import SCOPES as MAPPING_SCOPES
from rolebinder.mapping.text import MAX_FILE_BYTES
from tests.fuzz.harness import MAPPING, fuzz, timed
from tests.fuzz.mappings import (
    SOURCES,
    TEXTS,
    bent,
    bombs,
    deep_text,
    hazardous_text,
    huge_documents,
    huge_texts,
    json_text,
    odd_unicode_document,
    read_back,
    same,
    valid_documents,
    yaml_text,
)
from tests.fuzz.mutants import damaged_bytes, odd_text, wrong_values

ROLE = re.compile(r"[A-Za-z0-9.@-]{1,64}")
RULE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
SCOPES = {s.key: re.compile(s.pattern) for s in MAPPING_SCOPES}
RESERVED_TAG_KEY = re.compile(r"^(aliyun|acs:|rolebinder:)|https?://")
# One problem is one line a platform engineer reads: a path and a sentence.
PROBLEM_LIMIT = 1000
LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

Loaded = RoleMapping | MappingError


def attempt(load: Any, *args: Any) -> Loaded:
    """The mapping, or the MappingError; any other exception fails the test with its input."""
    try:
        return timed(load, *args)
    except MappingError as error:
        return error


def check_load(load: Any, *args: Any) -> Loaded:
    """Load, check every property of the outcome, and load again now and then to compare."""
    first = attempt(load, *args)
    if next(_loads) % AGAIN_EVERY == 0:
        assert agree(first, attempt(load, *args))
    if isinstance(first, MappingError):
        check_error(first)
    else:
        check_mapping(first)
    return first


# Loading twice doubles the cost of the costly part (jsonschema, pure-Python YAML), so one load
# in four is repeated to check determinism: a systematic difference still shows at once.
AGAIN_EVERY = 4
_loads = itertools.count()


def agree(one: Loaded, other: Loaded) -> bool:
    """The same mapping, or errors with the same problems."""
    if isinstance(one, MappingError) and isinstance(other, MappingError):
        return one.problems == other.problems
    return one == other


def check_error(error: MappingError) -> None:
    assert 1 <= len(error.problems) <= MAX_PROBLEMS + 1
    for problem in error.problems:
        assert isinstance(problem, Problem)
        text = str(problem)
        assert text and len(text) <= PROBLEM_LIMIT, f"problem of {len(text)} characters"
        assert not LINE_BREAKS.search(text), f"control character in {text!r}"
        text.encode("utf-8")  # printable and loggable
    message = str(error)
    prefix = f"invalid mapping {error.source}: "
    assert message.startswith(prefix)
    assert not LINE_BREAKS.search(message[len(prefix) :])


def check_mapping(mapping: RoleMapping) -> None:
    assert isinstance(mapping, RoleMapping)
    assert mapping.version == 1 and type(mapping.version) is int
    assert mapping.roles and len(set(mapping.roles)) == len(mapping.roles)
    assert all(ROLE.fullmatch(role) for role in mapping.roles), mapping.roles
    assert mapping.rules
    names = [rule.name for rule in mapping.rules]
    assert len(set(names)) == len(names)
    for rule in mapping.rules:
        check_rule(rule, mapping)
    assert mapping.on_existing_role in (KEEP, REPLACE)
    assert mapping.on_no_match in (KEEP, DETACH)
    hash(mapping)  # frozen all the way down: safe to share between invocations


def check_rule(rule: Rule, mapping: RoleMapping) -> None:
    assert RULE_NAME.fullmatch(rule.name), rule.name
    assert type(rule.priority) is int and -1_000_000 <= rule.priority <= 1_000_000
    assert (rule.role is None) != (rule.role_from_tag is None)
    if rule.role is not None:
        assert mapping.allows(rule.role), rule.role
    else:
        check_tag_key(rule.role_from_tag)
    keys = [condition.key for condition in rule.tags]
    assert len(set(keys)) == len(keys)
    for condition in rule.tags:
        check_tag_key(condition.key)
        if condition.values is not None:
            assert condition.values and "*" not in condition.values
            assert all(isinstance(v, str) and len(v) <= 128 for v in condition.values)
            if condition.key == rule.role_from_tag:
                assert all(mapping.allows(value) for value in condition.values)
    scopes = {name: rule.scope(name) for name in SCOPES}
    assert rule.tags or any(scope is not None for scope in scopes.values())
    for name, scope in scopes.items():
        if scope is not None:
            assert scope and all(SCOPES[name].fullmatch(item) for item in scope), scope


def check_tag_key(key: object) -> None:
    assert isinstance(key, str) and 1 <= len(key) <= 128
    assert not RESERVED_TAG_KEY.search(key), key


def check_text_agrees(text: str, source: str, document: Any, expected: Loaded) -> None:
    """Text that reads back as `document` loads as the document did (`expected`)."""
    from_text = check_load(parse_mapping, text, source)
    if document is not None:  # text that holds nothing (or null) is reported as empty instead
        assert agree(from_text, expected), (from_text, expected)


# --- documents ------------------------------------------------------------------------------------


@fuzz(MAPPING, share=0.17)
@given(bent())
def test_mutated_documents(document: Any) -> None:
    check_load(from_document, document)


@fuzz(MAPPING, share=0.07)
@given(bent(steps=(4, 16), values=wrong_values))
def test_wrong_types_everywhere(document: Any) -> None:
    check_load(from_document, document)


@fuzz(MAPPING, share=0.05)
@given(st.data())
def test_odd_unicode_in_keys_and_values(data: st.DataObject) -> None:
    document = data.draw(odd_unicode_document())
    if data.draw(st.booleans()):
        check_load(from_document, document)
    else:  # as text: quoted and escaped by the dumper, or raw with allow_unicode
        check_load(parse_mapping, data.draw(yaml_text(document)))


@fuzz(MAPPING, share=0.04)
@given(st.data())
def test_valid_mappings_load_the_same_from_yaml_and_json(data: st.DataObject) -> None:
    document = data.draw(valid_documents())
    mapping = check_load(from_document, document)
    assert isinstance(mapping, RoleMapping), mapping
    assert mapping.roles == tuple(document["roles"])
    text = data.draw(yaml_text(document))
    if same(read_back(text), document):  # PyYAML's emitter mangles a few characters (NEL)
        check_text_agrees(text, "mapping.yaml", document, mapping)
    check_text_agrees(json.dumps(document), "mapping.json", document, mapping)


# --- text -----------------------------------------------------------------------------------------


@fuzz(MAPPING, share=0.1)
@given(st.data())
def test_mutated_documents_as_yaml_and_json(data: st.DataObject) -> None:
    document = data.draw(bent())
    expected = check_load(from_document, document)
    as_json = json_text(document) if data.draw(st.integers(0, 3)) == 0 else None
    if as_json is not None and same(json.loads(as_json), document):
        check_text_agrees(as_json, "mapping.json", document, expected)
        return
    text = data.draw(yaml_text(document))
    if same(read_back(text), document):
        check_text_agrees(text, "mapping.yaml", document, expected)
    else:  # the dumper changed it (a key of another type): still only a mapping or an error
        check_load(parse_mapping, text)


@fuzz(MAPPING, share=0.4)
@given(hazardous_text(), st.sampled_from(SOURCES))
def test_yaml_hazards(text: str, source: str) -> None:
    # Anchors, aliases, merge keys, python tags, tabs, duplicate keys, several documents,
    # directives, odd line ends, BOMs and control characters edited into real mappings.
    check_load(parse_mapping, text, source)


@fuzz(MAPPING, share=0.003)
@given(bombs)
def test_alias_bombs_are_refused_at_once(text: str) -> None:
    error = check_load(parse_mapping, text)
    assert isinstance(error, MappingError)
    assert "anchors and aliases" in error.problems[0].message


@fuzz(MAPPING, share=0.02)
@given(deep_text())
def test_deeply_nested_text(deep: tuple[str, str]) -> None:
    text, source = deep
    assert isinstance(check_load(parse_mapping, text, source), MappingError)


@fuzz(MAPPING, share=0.0015)
@given(huge_documents)
def test_huge_documents(document: Any) -> None:
    check_load(from_document, document)


@fuzz(MAPPING, share=0.0012)
@given(huge_texts)
def test_huge_texts(text: str) -> None:
    check_load(parse_mapping, text)


# --- files ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the file tests (module scope: Hypothesis reuses it for every example)."""
    return tmp_path_factory.mktemp("mappings")


@fuzz(MAPPING, share=0.16)
@given(st.data(), st.sampled_from(("m.yaml", "m.json", "m.YML", "m")))
def test_damaged_files(folder: Path, data: st.DataObject, name: str) -> None:
    # Real mappings (or their JSON) truncated, with bytes that are not UTF-8, BOMs, UTF-16.
    document = data.draw(bent(steps=(0, 2)))
    text = json_text(document) if name.endswith("json") else data.draw(yaml_text(document))
    assume(text is not None)
    raw = text.encode("utf-8")
    for _ in range(data.draw(st.integers(1, 3))):
        raw = data.draw(damaged_bytes(raw))
    path = folder / name
    path.write_bytes(raw)
    check_load(load_mapping, path if data.draw(st.booleans()) else str(path))


ODD_PATHS: tuple[Any, ...] = (
    "",
    ".",
    "/",
    "/dev/null",
    "/proc/self/status",
    "no/such/file.yaml",
    "a\x00b.yaml",
    "\ud800.yaml",
    "x" * 5000,
    b"examples/mapping.yaml",
    b"\xff.yaml",
    None,
    0,
    1.5,
    ["examples/mapping.yaml"],
    Path("examples"),
)


@fuzz(MAPPING, share=0.004)
@given(st.sampled_from(ODD_PATHS) | odd_text)
def test_odd_paths(path: Any) -> None:
    check_load(load_mapping, path)


@fuzz(MAPPING, share=0.0002)
@given(st.sampled_from(("exact", "over")))
def test_file_size_limit(folder: Path, case: str) -> None:
    path = folder / "big.yaml"
    text = TEXTS[0]
    padding = MAX_FILE_BYTES - len(text.encode()) + (0 if case == "exact" else 1)
    path.write_bytes(text.encode() + b"#" * padding)
    loaded = check_load(load_mapping, path)
    assert isinstance(loaded, RoleMapping) == (case == "exact")


def test_the_seeds_include_valid_mappings() -> None:
    # Most mutants are one or two changes away from a mapping that loads, so they reach the
    # semantic checks too, not only the schema's first complaint.
    loaded = [attempt(parse_mapping, text) for text in TEXTS]
    assert sum(isinstance(item, RoleMapping) for item in loaded) >= 3
