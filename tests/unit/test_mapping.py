"""The mapping loader: schema, semantic checks, YAML/JSON safety, file handling, messages."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from rolebinder.errors import MappingError, Problem
from rolebinder.mapping.model import (
    RoleMapping,
    Rule,
    TagCondition,
    load_mapping,
    mapping_from_document,
    parse_mapping,
)
from rolebinder.mapping.schema import load_schema
from tests.support import make_unreadable

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mapping.yaml"
DEMO = ROOT / "examples" / "mapping-demo.yaml"
DOCS = ROOT / "docs" / "MAPPING.md"

README_MAPPING = RoleMapping(
    version=1,
    roles=("AppReader", "Payments"),
    rules=(
        Rule(
            name="payments-prod",
            priority=100,
            tags=(
                TagCondition("team", ("payments",)),
                TagCondition("env", ("prod", "staging")),
            ),
            scopes=(("regions", frozenset({"cn-hangzhou"})),),
            role="Payments",
            role_from_tag=None,
        ),
        Rule(
            name="by-role-tag",
            priority=0,
            tags=(TagCondition("ram-role", None),),
            scopes=(),
            role=None,
            role_from_tag="ram-role",
            allowed_roles=frozenset({"AppReader"}),
        ),
        Rule(
            name="build-agents",
            priority=0,
            tags=(TagCondition("ci-runner", None),),
            scopes=(),
            role="AppReader",
            role_from_tag=None,
            mode="audit",
        ),
    ),
    on_existing_role="keep",
    on_no_match="keep",
)


def valid() -> dict[str, Any]:
    """A fresh, valid document that each bad-document case breaks in one place."""
    return {
        "version": 1,
        "roles": ["AppReader", "Payments"],
        "rules": [
            {
                "name": "payments-prod",
                "priority": 100,
                "when": {
                    "tags": {"team": "payments", "env": ["prod", "staging"]},
                    "regions": ["cn-hangzhou"],
                },
                "role": "Payments",
            },
            {
                "name": "by-role-tag",
                "when": {"tags": {"ram-role": "*"}},
                "role_from_tag": "ram-role",
                "allowed_roles": ["AppReader"],
            },
        ],
    }


def problems_of(document: object) -> list[Problem]:
    with pytest.raises(MappingError) as caught:
        mapping_from_document(document, "test.yaml")
    assert caught.value.source == "test.yaml"
    return caught.value.problems


def text_problems(text: str, source: str = "test.yaml") -> list[Problem]:
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, source)
    return caught.value.problems


# --- valid mappings ----------------------------------------------------------------------------


def test_readme_example_loads_to_the_expected_mapping() -> None:
    assert load_mapping(EXAMPLE) == README_MAPPING


def test_readme_example_as_json_loads_to_the_same_mapping(tmp_path: Path) -> None:
    # GIVEN the README example converted to JSON
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(yaml.safe_load(EXAMPLE.read_text())), encoding="utf-8")
    # WHEN / THEN it loads (through the JSON parser) to the same value
    assert load_mapping(path) == README_MAPPING
    assert parse_mapping(path.read_text(), "inline.json") == README_MAPPING


def test_demo_example_uses_every_feature() -> None:
    mapping = load_mapping(str(DEMO))
    assert mapping.on_existing_role == "replace"
    assert mapping.on_no_match == "detach"
    rules = {rule.name: rule for rule in mapping.rules}
    assert rules["data-pipeline"].scope("vpc_ids") == frozenset({"vpc-bp1data0001"})
    assert rules["build-agents"].scope("resource_group_ids") == frozenset({"rg-acfmtooling01"})
    assert rules["build-agents"].tags == (TagCondition("ci-runner", None),)
    assert rules["default-reader"].priority == -100
    assert rules["by-role-tag"].role_from_tag == "ram-role"


def test_defaults_apply_when_optional_fields_are_omitted() -> None:
    document = valid()
    mapping = mapping_from_document(document)
    assert mapping.rules[1].priority == 0
    assert (mapping.on_existing_role, mapping.on_no_match) == ("keep", "keep")
    assert mapping.rules[1].scope("regions") is None


def test_allows_only_roles_in_the_allow_list() -> None:
    assert README_MAPPING.allows("Payments")
    assert not README_MAPPING.allows("payments")  # RAM role names are matched exactly
    assert not README_MAPPING.allows("Admin")


def test_integral_float_priority_from_json_becomes_an_int() -> None:
    document = valid()
    document["rules"][0]["priority"] = 100.0
    priority = mapping_from_document(document).rules[0].priority
    assert priority == 100
    assert type(priority) is int


def test_schema_key_for_editors_is_accepted() -> None:
    document = {"$schema": "urn:rolebinder:schema:mapping:1", **valid()}
    assert mapping_from_document(document).version == 1


def test_empty_tag_value_is_an_exact_match_for_the_empty_string() -> None:
    document = valid()
    document["rules"][0]["when"]["tags"] = {"team": ""}
    assert mapping_from_document(document).rules[0].tags == (TagCondition("team", ("",)),)


# --- schema and semantic violations -------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], object]


def rule0(change: dict[str, Any]) -> Mutation:
    return lambda document: document["rules"][0].update(change)


def when0(change: dict[str, Any]) -> Mutation:
    return lambda document: document["rules"][0]["when"].update(change)


def tags0(change: dict[str, Any]) -> Mutation:
    return lambda document: document["rules"][0]["when"]["tags"].update(change)


BAD_DOCUMENTS: list[tuple[str, Mutation, str, str]] = [
    ("missing version", lambda d: d.pop("version"), "version", "is required but missing"),
    ("version 2", lambda d: d.update(version=2), "version", "must be 1"),
    ("version as text", lambda d: d.update(version="1"), "version", 'got "1"'),
    ("unknown top-level key", lambda d: d.update(rulez=[]), "rulez", "did you mean rules?"),
    ("unknown rule key", rule0({"prio": 1}), "rules[0].prio", "unknown key"),
    ("unknown when key", when0({"region": ["cn-hangzhou"]}), "rules[0].when.region", "regions"),
    ("missing roles", lambda d: d.pop("roles"), "roles", "is required but missing"),
    ("empty roles", lambda d: d.update(roles=[]), "roles", "must not be empty"),
    ("roles not a list", lambda d: d.update(roles="Payments"), "roles", "expected a list"),
    (
        "duplicate role",
        lambda d: d["roles"].append("Payments"),
        "roles",
        '"Payments" more than once',
    ),
    (
        "bad role name",
        lambda d: d["roles"].append("Bad Role!"),
        "roles[2]",
        '"Bad Role!" is not a valid RAM role name',
    ),
    (
        "role name with a trailing newline",
        lambda d: d["roles"].append("Admin\n"),
        "roles[2]",
        "is not a valid RAM role name",
    ),
    ("role name too long", lambda d: d["roles"].append("R" * 65), "roles[2]", "RAM role name"),
    (
        "role outside roles",
        rule0({"role": "Admin"}),
        "rules[0].role",
        'role "Admin" is not in roles (the allow-list: AppReader, Payments)',
    ),
    ("missing rules", lambda d: d.pop("rules"), "rules", "is required but missing"),
    ("empty rules", lambda d: d.update(rules=[]), "rules", "must not be empty"),
    ("rule not a mapping", lambda d: d["rules"].append("oops"), "rules[2]", "expected a mapping"),
    ("rule without name", lambda d: d["rules"][0].pop("name"), "rules[0].name", "is required"),
    (
        "rule name with spaces",
        rule0({"name": "Pay Prod"}),
        "rules[0].name",
        "not a valid rule name",
    ),
    ("rule without when", lambda d: d["rules"][0].pop("when"), "rules[0].when", "is required"),
    (
        "both role and role_from_tag",
        rule0({"role_from_tag": "ram-role"}),
        "rules[0]",
        "needs exactly one of role",
    ),
    ("neither role nor role_from_tag", lambda d: d["rules"][0].pop("role"), "rules[0]", "one of"),
    (
        "duplicate rule names",
        lambda d: d["rules"][1].update(name="payments-prod"),
        "rules[1].name",
        'duplicate rule name "payments-prod" (also rules[0].name)',
    ),
    ("priority not an integer", rule0({"priority": "high"}), "rules[0].priority", "an integer"),
    ("fractional priority", rule0({"priority": 1.5}), "rules[0].priority", "an integer"),
    ("boolean priority", rule0({"priority": True}), "rules[0].priority", "got boolean true"),
    ("priority too high", rule0({"priority": 10**6 + 1}), "rules[0].priority", "at most 1000000"),
    ("priority too low", rule0({"priority": -(10**6) - 1}), "rules[0].priority", "at least"),
    ("when without conditions", rule0({"when": {}}), "rules[0].when", "at least one condition"),
    ("when not a mapping", rule0({"when": ["a"]}), "rules[0].when", "expected a mapping"),
    ("empty tags", when0({"tags": {}}), "rules[0].when.tags", "at least one tag"),
    ("tag value a number", tags0({"env": 5}), "rules[0].when.tags.env", "a string or a list"),
    ("tag value a mapping", tags0({"env": {"a": 1}}), "rules[0].when.tags.env", "or a list"),
    ("tag value null", tags0({"env": None}), "rules[0].when.tags.env", "null"),
    ("empty list value", tags0({"env": []}), "rules[0].when.tags.env", "must not be empty"),
    ("number in list", tags0({"env": ["a", 1.1]}), "rules[0].when.tags.env[1]", "quote it"),
    ("star in list", tags0({"env": ["a", "*"]}), "rules[0].when.tags.env[1]", "cannot be part"),
    (
        "duplicate list value",
        tags0({"env": ["a", "a"]}),
        "rules[0].when.tags.env",
        '"a" more than once',
    ),
    ("value too long", tags0({"env": "v" * 129}), "rules[0].when.tags.env", "longer than 128"),
    ("reserved acs: key", tags0({"acs:x": "y"}), 'rules[0].when.tags["acs:x"]', "reserved"),
    ("reserved aliyun key", tags0({"aliyunx": "y"}), "rules[0].when.tags.aliyunx", "reserved"),
    ("empty tag key", tags0({"": "y"}), 'rules[0].when.tags[""]', "must not be empty"),
    ("tag key too long", tags0({"k" * 129: "y"}), "rules[0].when.tags", "longer than 128"),
    ("region id", when0({"regions": ["Hangzhou"]}), "rules[0].when.regions[0]", "region id"),
    ("empty regions", when0({"regions": []}), "rules[0].when.regions", "must not be empty"),
    ("vpc id", when0({"vpc_ids": ["vpc_1"]}), "rules[0].when.vpc_ids[0]", "not a VPC id"),
    ("rg id", when0({"resource_group_ids": ["x"]}), "rules[0].when.resource_group_ids[0]", "rg-"),
    (
        "duplicate scope id",
        when0({"vpc_ids": ["vpc-a", "vpc-a"]}),
        "rules[0].when.vpc_ids",
        '"vpc-a" more than once',
    ),
    ("bad role_from_tag", lambda d: d["rules"][1].update(role_from_tag="acs:r"), "rules[1]", "tag"),
    (
        "on_existing_role",
        lambda d: d.update(on_existing_role="overwrite"),
        "on_existing_role",
        'must be one of keep, replace, got "overwrite"',
    ),
    ("on_no_match", lambda d: d.update(on_no_match=True), "on_no_match", "keep, detach"),
    (
        "role_from_tag values outside roles",
        lambda d: d["rules"][1]["when"]["tags"].update({"ram-role": ["Payments", "Root"]}),
        "rules[1].when.tags.ram-role",
        'value "Root" names a role (role_from_tag) that is not in this rule\'s allowed_roles',
    ),
    (
        "identical rules naming different roles",
        lambda d: d["rules"].append(
            {**copy.deepcopy(d["rules"][0]), "name": "x", "role": "AppReader"}
        ),
        "rules[2]",
        "same conditions and priority as rules[0]",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "fragment"),
    [case[1:] for case in BAD_DOCUMENTS],
    ids=[case[0] for case in BAD_DOCUMENTS],
)
def test_invalid_document_names_the_path_and_the_problem(
    mutate: Mutation, path: str, fragment: str
) -> None:
    # GIVEN a valid document broken in one place
    document = valid()
    mutate(document)
    # WHEN it is validated
    problems = problems_of(document)
    # THEN a problem sits at that path with a readable message
    matching = [problem for problem in problems if problem.path.startswith(path)]
    assert matching, f"no problem at {path}: {problems}"
    assert any(fragment in problem.message for problem in matching), problems
    for problem in problems:
        assert len(problem.message) < 300
        assert "is not valid under" not in problem.message  # no raw jsonschema wording


def test_every_problem_is_reported_together_sorted_by_path() -> None:
    # GIVEN problems in several places, rule indexes past 9 included
    document = valid()
    document["rules"] += [
        {"name": f"r{index}", "when": {"tags": {"a": "b"}}, "role": "AppReader"}
        for index in range(2, 11)
    ]
    document["rules"][10]["when"]["tags"]["a"] = []
    document["rules"][2]["when"]["tags"]["a"] = 5
    document["on_no_match"] = "remove"
    document.pop("version")
    # WHEN / THEN all of them come back in one error, ordered by path (index 2 before 10)
    paths = [problem.path for problem in problems_of(document)]
    assert paths == [
        "on_no_match",
        "rules[2].when.tags.a",
        "rules[10].when.tags.a",
        "version",
    ]


def test_semantic_problems_are_reported_together() -> None:
    document = valid()
    document["rules"][0]["role"] = "Admin"
    document["rules"][1]["name"] = "payments-prod"
    paths = [problem.path for problem in problems_of(document)]
    assert paths == ["rules[0].role", "rules[1].name"]


def test_error_message_names_the_source_and_every_problem() -> None:
    document = valid()
    document["version"] = 2
    document["roles"] = []
    with pytest.raises(MappingError) as caught:
        mapping_from_document(document, "/etc/rolebinder/mapping.yaml")
    text = str(caught.value)
    assert text.startswith("invalid mapping /etc/rolebinder/mapping.yaml: roles: must not be")
    assert "version: must be 1" in text


def test_long_values_are_truncated_in_messages() -> None:
    document = valid()
    document["roles"].append("x" * 10_000)
    (problem,) = problems_of(document)
    assert problem.path == "roles[2]"
    assert len(problem.message) < 200


def test_top_level_must_be_a_mapping() -> None:
    (problem,) = problems_of(["version", 1])
    assert problem == Problem("", 'expected a mapping (key: value), got a list ["version", 1]')


def test_problem_count_is_capped() -> None:
    document = valid()
    document["roles"] = [f"bad role {index}" for index in range(200)]
    problems = problems_of(document)
    assert len(problems) == 51
    assert problems[-1] == Problem("", "... and 150 more problems")


def nested(depth: int) -> list[Any]:
    value: list[Any] = ["x"]
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "document",
    [
        {"version": 1, "roles": nested(40)},
        {"rules": [{}] * 300_000},
    ],
    ids=["deep", "huge"],
)
def test_absurd_documents_are_refused_before_validation(document: object) -> None:
    (problem,) = problems_of(document)
    assert problem.path == ""
    assert "nested more than" in problem.message or "more than 10000 values" in problem.message


# --- YAML and JSON safety -----------------------------------------------------------------------

GOOD_YAML = EXAMPLE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("version: 1\nroles: &r [A]\nrules: *r\n", "line 2, column 8: anchors and aliases"),
        ("version: 1\nroles: [A]\nrules: *r\n", "line 3, column 8: anchors and aliases"),
        ("version: 1\n<<: {roles: [A]}\n", "merge keys (<<) are not allowed"),
        ("version: !!python/object/apply:os.system [true]\n", "could not determine a constructor"),
        ("version: !!python/name:os.system\n", "line 1, column 10"),
        ("version: !custom 1\n", "could not determine a constructor for the tag '!custom'"),
        ("version: 1\nroles: [A\nrules: x\n", "line 3, column 6: expected ',' or ']'"),
        ("version: 1\n  roles: x\n", "line 2, column 8: mapping values are not allowed here"),
        ("version: 1\n---\nversion: 1\n", "expected a single document"),
        ("version: " + "9" * 5000 + "\n", "YAML error"),
        ("version: 2024-13-45\n", "YAML error: month must be in 1..12"),
        ("version: 1\x00\n", "unacceptable character"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "YAML is nested too deeply"),
        ("", "is empty"),
        ("# only a comment\n", "is empty"),
    ],
    ids=[
        "anchor",
        "alias",
        "merge key",
        "python object",
        "python name",
        "custom tag",
        "unclosed list",
        "bad indentation",
        "two documents",
        "huge integer",
        "bad date",
        "control character",
        "deep nesting",
        "empty",
        "only a comment",
    ],
)
def test_unsafe_or_broken_yaml_is_a_mapping_error(text: str, fragment: str) -> None:
    (problem,) = text_problems(text)
    assert fragment in problem.message
    assert "\n" not in problem.message


def test_duplicate_yaml_key_is_rejected_with_its_line() -> None:
    # GIVEN a tag key written twice (PyYAML alone would keep the second silently)
    text = GOOD_YAML.replace("team: payments,", "team: payments, team: billing,")
    # WHEN / THEN
    (problem,) = text_problems(text)
    assert problem.message.startswith('YAML error at line 7, column 30: duplicate key "team"')
    assert "(first on line 7)" in problem.message


def test_duplicate_top_level_yaml_key_is_rejected() -> None:
    (problem,) = text_problems("version: 1\nroles: [A]\nversion: 1\n")
    assert (
        problem.message
        == 'YAML error at line 3, column 1: duplicate key "version" (first on line 1)'
    )


def test_yaml_scalars_that_are_not_text_get_a_quoting_hint() -> None:
    text = GOOD_YAML.replace("env: [prod, staging]", "env: [prod, 1.10], on: yes")
    problems = text_problems(text)
    assert (
        Problem(
            "rules[0].when.tags.env[1]",
            "expected a string, got number 1.1 (quote it in YAML to keep it text)",
        )
        in problems
    )
    assert any(problem.path == "rules[0].when.tags[true]" for problem in problems)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"version": 1, "version": 1}', 'JSON error: duplicate key "version"'),
        ('{"version": 1,\n "roles": [}', "JSON syntax error at line 2, column 12: Expecting value"),
        ('{"version": NaN}', "NaN is not a JSON number"),
        ("[" * 100_000 + "]" * 100_000, "JSON error: nested too deeply"),
        ("", "JSON syntax error at line 1, column 1"),
    ],
    ids=["duplicate key", "syntax", "NaN", "deep", "empty"],
)
def test_broken_json_is_a_mapping_error(text: str, fragment: str) -> None:
    (problem,) = text_problems(text, "mapping.json")
    assert fragment in problem.message


def test_text_of_the_wrong_type_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match="expected text, got bytes"):
        parse_mapping(b"version: 1")  # type: ignore[arg-type]


# --- files --------------------------------------------------------------------------------------


def file_problem(path: object) -> Problem:
    with pytest.raises(MappingError) as caught:
        load_mapping(path)  # type: ignore[arg-type]
    (problem,) = caught.value.problems
    return problem


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert file_problem(path).message == "file not found"
    with pytest.raises(MappingError, match=re.escape(f"invalid mapping {path}: ")):
        load_mapping(path)


def test_directory(tmp_path: Path) -> None:
    assert file_problem(tmp_path).message == "is a directory, not a mapping file"


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a file nobody may read (root included: see make_unreadable)
    path = tmp_path / "secret.yaml"
    path.write_text(GOOD_YAML)
    make_unreadable(path, monkeypatch)
    try:
        # WHEN / THEN
        assert file_problem(path).message == "cannot be read: permission denied"
    finally:
        path.chmod(0o600)


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("version: 1\nroles: [Caf\u00e9]\n".encode("latin-1"))
    assert file_problem(path).message == "is not UTF-8 text (byte 0xe9 on line 2)"


def test_too_big_file(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(GOOD_YAML.encode() + b"#" * (256 * 1024))
    assert "is larger than 262144 bytes (256 KiB)" in file_problem(path).message


def test_path_with_a_nul_byte_and_a_non_path() -> None:
    assert file_problem("a\x00b.yaml").message.startswith("cannot be read")
    assert file_problem(42).message == "is not a file path"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_YAML.encode())
    assert load_mapping(path) == README_MAPPING


# --- the schema and the docs ----------------------------------------------------------------------


def schema() -> dict[str, Any]:
    return load_schema()


def object_schemas(node: object) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "properties" in node:
            found.append(node)
        for value in node.values():
            found += object_schemas(value)
    elif isinstance(node, list):
        for value in node:
            found += object_schemas(value)
    return found


def test_schema_is_valid_draft_2020_12_with_an_id() -> None:
    document = schema()
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"]


def test_schema_is_closed_and_describes_every_property() -> None:
    objects = object_schemas(schema())
    assert len(objects) >= 3  # the root, a rule, a rule's `when`
    for node in objects:
        assert node["additionalProperties"] is False
        for name, property_schema in node["properties"].items():
            assert property_schema.get("description"), f"property {name} has no description"


def doc_blocks() -> list[tuple[str, str, str]]:
    """(info string, body, the body of the next block) for every yaml block in MAPPING.md."""
    blocks = re.findall(r"```([^\n]*)\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    return [
        (info, body, blocks[index + 1][1] if index + 1 < len(blocks) else "")
        for index, (info, body) in enumerate(blocks)
        if info.startswith("yaml")
    ]


def test_valid_doc_examples_load() -> None:
    valid_blocks = [body for info, body, _ in doc_blocks() if info == "yaml"]
    assert valid_blocks
    for body in valid_blocks:
        assert isinstance(parse_mapping(body, "docs/MAPPING.md"), RoleMapping)
    assert valid_blocks[0] == GOOD_YAML  # the README example and examples/mapping.yaml agree


def test_invalid_doc_examples_show_exactly_their_problems() -> None:
    invalid = [(body, shown) for info, body, shown in doc_blocks() if info == "yaml invalid"]
    assert invalid
    for body, shown in invalid:
        with pytest.raises(MappingError) as caught:
            parse_mapping(body, "docs/MAPPING.md")
        assert [str(problem) for problem in caught.value.problems] == shown.splitlines()


# --- import cost and fuzzing ----------------------------------------------------------------------


def test_importing_the_core_loads_neither_yaml_nor_jsonschema() -> None:
    # Cold-start time is benchmarked; these two are imported only when a mapping is loaded.
    code = (
        "import sys, rolebinder.mapping.model, rolebinder.domain.decision; "
        "print(sorted(m for m in ('yaml', 'jsonschema') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "version": json_values | st.just(1),
        "roles": json_values | st.lists(st.sampled_from(["AppReader", "Payments", "x y"])),
        "rules": json_values,
        "on_existing_role": json_values | st.sampled_from(["keep", "replace"]),
        "on_no_match": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(documents | json_values)
def test_any_document_gives_a_mapping_or_a_mapping_error(document: object) -> None:
    try:
        result = mapping_from_document(document)
    except MappingError as error:
        assert error.problems
        assert all(isinstance(problem, Problem) for problem in error.problems)
        assert all(problem.message in str(error) for problem in error.problems)
    else:
        assert isinstance(result, RoleMapping)
        assert all(r.role is None or r.role in result.roles for r in result.rules)
        assert mapping_from_document(as_document(result)) == result


yaml_fragments = st.sampled_from(
    [
        "version: 1\n",
        "roles: [A]\n",
        "rules:\n",
        "  - name: a\n",
        "    when: {tags: {a: b}}\n",
        "    role: A\n",
        "&x ",
        "*x",
        "!!python/object:os.system\n",
        "<<: ",
        "{",
        "}",
        "[",
        "]",
        ": ",
        "- ",
        "'",
        '"',
        "\t",
        "\x00",
        "\ud800",
        "\u00e9",
        "---\n",
        "? ",
        "!!binary ",
        "%YAML",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(yaml_fragments | st.text(max_size=8), max_size=14).map("".join))
def test_any_yaml_text_gives_a_mapping_or_a_mapping_error(text: str) -> None:
    try:
        parse_mapping(text)
    except MappingError as error:
        assert error.problems


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_json_text_gives_a_mapping_or_a_mapping_error(text: str) -> None:
    try:
        parse_mapping(text, "fuzz.json")
    except MappingError as error:
        assert error.problems


# --- properties of every accepted mapping ------------------------------------------------------
# Documents built from plausible parts, so that many are accepted: the properties below must
# hold for each one the loader accepts, whatever it is.

ROLE_POOL = ("AppReader", "Payments", "Admin", "ops.role@1")
TAG_POOL = ("team", "env", "ram-role", "app")
VALUE_POOL = ("payments", "prod", "staging", "AppReader", "Admin", "*")


@st.composite
def plausible_rules(draw: Any, roles: list[str]) -> dict[str, Any]:
    when: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(TAG_POOL), max_size=2, unique=True)):
        many = st.lists(st.sampled_from(VALUE_POOL[:-1]), min_size=1, max_size=2, unique=True)
        when.setdefault("tags", {})[key] = draw(st.sampled_from(VALUE_POOL) | many)
    if draw(st.booleans()):
        when["regions"] = draw(
            st.lists(
                st.sampled_from(["cn-hangzhou", "cn-shanghai"]), min_size=1, max_size=2, unique=True
            )
        )
    if not when:
        when["tags"] = {"team": "*"}
    rule: dict[str, Any] = {"name": draw(st.sampled_from(["a", "b", "c", "d", "e"])), "when": when}
    if draw(st.booleans()):
        rule["priority"] = draw(st.integers(-5, 5))
    if draw(st.booleans()):
        rule["role_from_tag"] = draw(st.sampled_from(TAG_POOL))
        # usually a subset of the allow-list, sometimes missing or naming another role
        pool = st.sampled_from(roles) if draw(st.integers(0, 3)) else st.sampled_from(ROLE_POOL)
        if draw(st.integers(0, 4)):
            rule["allowed_roles"] = draw(st.lists(pool, min_size=1, max_size=2, unique=True))
    else:  # usually an allowed role, sometimes one outside the allow-list
        rule["role"] = draw(
            st.sampled_from(roles) if roles and draw(st.booleans()) else st.sampled_from(ROLE_POOL)
        )
    return rule


@st.composite
def plausible_documents(draw: Any) -> dict[str, Any]:
    roles = draw(st.lists(st.sampled_from(ROLE_POOL), min_size=1, max_size=3, unique=True))
    document: dict[str, Any] = {
        "version": 1,
        "roles": roles,
        "rules": draw(st.lists(plausible_rules(roles), min_size=1, max_size=4)),
    }
    if draw(st.booleans()):
        document["on_existing_role"] = draw(st.sampled_from(["keep", "replace"]))
    if draw(st.booleans()):
        document["on_no_match"] = draw(st.sampled_from(["keep", "detach"]))
    return document


def as_document(mapping: RoleMapping) -> dict[str, Any]:
    """A RoleMapping written back as a mapping document (the test's own serializer)."""

    def condition(c: Any) -> Any:
        return "*" if c.values is None else list(c.values)

    def rule(r: Any) -> dict[str, Any]:
        when: dict[str, Any] = {}
        if r.tags:
            when["tags"] = {c.key: condition(c) for c in r.tags}
        for scope, ids in r.scopes:
            when[scope] = sorted(ids)
        chosen = (
            {"role": r.role}
            if r.role is not None
            else {"role_from_tag": r.role_from_tag, "allowed_roles": sorted(r.allowed_roles or ())}
        )
        return {"name": r.name, "priority": r.priority, "when": when, **chosen}

    return {
        "version": mapping.version,
        "roles": list(mapping.roles),
        "rules": [rule(r) for r in mapping.rules],
        "on_existing_role": mapping.on_existing_role,
        "on_no_match": mapping.on_no_match,
    }


def accepted(document: object) -> RoleMapping | None:
    try:
        return mapping_from_document(document)
    except MappingError:
        return None


@settings(max_examples=400, deadline=None)
@given(plausible_documents())
def test_every_accepted_mapping_keeps_its_promises(document: dict[str, Any]) -> None:
    mapping = accepted(document)
    if mapping is None:
        return
    # allow-list closure: every fixed role, and every listed value of a role_from_tag tag
    for rule in mapping.rules:
        assert (rule.role is None) != (rule.role_from_tag is None), rule
        assert rule.role is None or rule.role in mapping.roles, rule
        for condition in rule.tags:
            if condition.key == rule.role_from_tag and condition.values is not None:
                assert set(condition.values) <= set(mapping.roles), rule
        # per-rule authority: a role_from_tag rule names its roles, all in the allow-list
        if rule.role_from_tag is not None:
            assert rule.allowed_roles and rule.allowed_roles <= set(mapping.roles), rule
    # what the document said, kept: roles in order, rule names unique and in order, policies
    assert list(mapping.roles) == document["roles"]
    assert [rule.name for rule in mapping.rules] == [raw["name"] for raw in document["rules"]]
    assert len({rule.name for rule in mapping.rules}) == len(mapping.rules)
    assert [rule.priority for rule in mapping.rules] == [
        raw.get("priority", 0) for raw in document["rules"]
    ]
    assert mapping.on_existing_role == document.get("on_existing_role", "keep")
    assert mapping.on_no_match == document.get("on_no_match", "keep")
    # round trip: written back, as a document, YAML and JSON, it loads to the same mapping
    again = as_document(mapping)
    assert mapping_from_document(again) == mapping
    assert parse_mapping(yaml.safe_dump(again, sort_keys=False)) == mapping
    assert parse_mapping(json.dumps(again), "again.json") == mapping


@settings(max_examples=200, deadline=None)
@given(plausible_documents(), st.sampled_from(["Root", "AdministratorAccess", "appreader"]))
def test_a_fixed_role_outside_the_allow_list_is_always_refused(
    document: dict[str, Any], outsider: str
) -> None:
    # GIVEN any plausible mapping with one rule's fixed role replaced by a role not in `roles`
    rules = copy.deepcopy(document["rules"])
    rules[0].pop("role_from_tag", None)
    rules[0]["role"] = outsider
    # WHEN / THEN it is refused, and the problem names that rule's role
    with pytest.raises(MappingError) as caught:
        mapping_from_document({**document, "rules": rules})
    assert "rules[0].role" in [problem.path for problem in caught.value.problems]


def test_the_plausible_documents_are_often_accepted() -> None:
    # The property above is only as good as the share of documents it judges.
    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(plausible_documents())
    def count(document: dict[str, Any]) -> None:
        results.append(accepted(document) is not None)

    results: list[bool] = []
    count()
    assert sum(results) >= len(results) // 5, f"{sum(results)} of {len(results)} accepted"
