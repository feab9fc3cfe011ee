"""Log Service in template.yml: the index covers every journal field, and every dashboard chart
and alert query parses and names only fields and values docs/outcome.schema.json allows.

A query is `search | SQL`. The search part is checked with a small parser of SLS search syntax
(`field: value`, and/or/not, parentheses); the SQL part is parsed with sqlglot (SLS analytics
SQL is Presto-flavoured). The mutation tests show each check can fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from rolebinder.deploy import template as tpl
from rolebinder.domain import outcome, reasons

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "outcome.schema.json").read_text(encoding="utf-8"))
KINDS = ("outcome", "summary", "error", "warning")
PREFIX = "message."  # FC puts each stdout line in the `message` field (a JSON index)
NESTED = ("outcomes", "reasons")  # the summary's counters, indexed key by key
BUILT_IN_COLUMNS = {"__time__"}


def resources(kind: str) -> dict[str, dict[str, Any]]:
    template = tpl.load_template()
    return {n: b["Properties"] for n, b in template["Resources"].items() if b["Type"] == kind}


def allowed_values(spec: dict[str, Any]) -> set[str] | None:
    """The values a field may take as SLS sees them (text), or None for any string."""
    spec = SCHEMA["$defs"][spec["$ref"].rsplit("/", 1)[1]] if "$ref" in spec else spec
    if "const" in spec:
        return {spec["const"]}
    if "enum" in spec:
        return set(spec["enum"])
    kinds = spec.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "boolean" in kinds:
        return {"true", "false"}
    return None


def schema_fields() -> dict[str, list[set[str] | None]]:
    """Journal field (as indexed) -> the allowed values of each kind that declares it."""
    fields: dict[str, list[set[str] | None]] = {}
    definitions = SCHEMA["$defs"]
    for kind in KINDS:
        for name, spec in definitions[kind]["properties"].items():
            if name not in NESTED:
                fields.setdefault(name, []).append(allowed_values(spec))
    for key, source in (("outcomes", "outcomeValue"), ("reasons", "reason")):
        for value in definitions[source]["enum"]:
            fields[f"{key}.{value}"] = [None]
    return fields


FIELDS = schema_fields()


def value_allowed(field: str, value: str) -> bool:
    return any(values is None or value in values for values in FIELDS[field])


# -- the schema against the code ----------------------------------------------------------------


def test_the_schema_enumerates_the_code_vocabularies() -> None:
    definitions = SCHEMA["$defs"]
    code_reasons = {v for k, v in vars(reasons).items() if k.isupper() and isinstance(v, str)} - {
        v for k, v in vars(reasons).items() if k.startswith("WARNING_") and isinstance(v, str)
    }
    code_reasons |= {reasons.CONTESTED, reasons.FLAPPING, reasons.CIRCUIT_OPEN}  # both kinds
    assert set(definitions["reason"]["enum"]) == code_reasons
    assert definitions["outcomeValue"]["enum"] == list(outcome.OUTCOMES)
    assert definitions["warningCode"]["enum"] == list(reasons.WARNING_CODES)
    assert {
        *("empty-sweep", "contested", "circuit-open", "flapping", "region-refused"),
        "account-refused",
    } == set(reasons.WARNING_CODES)


# -- the index ------------------------------------------------------------------------------------


def json_index() -> dict[str, str]:
    (index,) = resources("ALIYUN::SLS::Index").values()
    (message,) = [k for k in index["KeyIndices"] if k["Name"] == "message"]
    assert message["Type"] == "json"
    return {k["Name"]: k["Type"] for k in message["JsonKeyIndices"]}


def expected_type(field: str) -> str:
    if "." in field:
        return "long"
    specs = [SCHEMA["$defs"][k]["properties"].get(field) for k in KINDS]
    types = {str(s.get("type")) for s in specs if s}
    return "long" if types == {"integer"} else "double" if types == {"number"} else "text"


def test_every_journal_field_is_indexed_with_its_type() -> None:
    index = json_index()
    assert set(index) == set(FIELDS)
    assert {name: expected_type(name) for name in index} == index
    assert all(
        k["EnableAnalytics"] for k in resources("ALIYUN::SLS::Index")["LogIndex"]["KeyIndices"]
    )


# -- the queries ----------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z_][\w.]*\s*:\s*[^\s()]+|[^\s()]+)")


class QueryError(ValueError):
    """A query that does not parse, or names a field or value the schema does not allow."""


def search_terms(search: str) -> list[tuple[str, str]]:
    """The (field, value) terms of an SLS search, once it parses; QueryError otherwise."""
    tokens = [t.strip() for t in _TOKEN.findall(search)]
    if re.sub(r"\s+", "", "".join(tokens)) != re.sub(r"\s+", "", search):
        raise QueryError(f"unreadable search: {search!r}")
    terms: list[tuple[str, str]] = []
    position = _expression(tokens, 0, terms)
    if position != len(tokens):
        raise QueryError(f"trailing tokens in {search!r}: {tokens[position:]}")
    return terms


def _expression(tokens: list[str], i: int, terms: list[tuple[str, str]]) -> int:
    i = _unary(tokens, i, terms)
    while i < len(tokens) and tokens[i].lower() in ("and", "or"):
        i = _unary(tokens, i + 1, terms)
    return i


def _unary(tokens: list[str], i: int, terms: list[tuple[str, str]]) -> int:
    if i >= len(tokens):
        raise QueryError("search ends early")
    if tokens[i].lower() == "not":
        return _unary(tokens, i + 1, terms)
    if tokens[i] == "(":
        i = _expression(tokens, i + 1, terms)
        if i >= len(tokens) or tokens[i] != ")":
            raise QueryError("unbalanced parenthesis")
        return i + 1
    if tokens[i] == "*":
        return i + 1  # everything
    field, colon, value = tokens[i].partition(":")
    if not colon:
        raise QueryError(f"not a field: value term: {tokens[i]!r}")
    terms.append((field.strip(), value.strip()))
    return i + 1


def journal_field(name: str) -> str:
    if not name.startswith(PREFIX) or name[len(PREFIX) :] not in FIELDS:
        raise QueryError(f"{name!r} is not a journal field")
    return name[len(PREFIX) :]


def check_query(query: str) -> set[str]:
    """Every check of one query; returns the SQL's output names."""
    search, bar, sql = query.partition("|")
    for field, value in search_terms(search.strip()):
        if not value_allowed(journal_field(field), value):
            raise QueryError(f"{field}: {value!r} is not a value the schema allows")
    if not bar:
        return set()
    try:
        tree = sqlglot.parse_one(sql, read="presto")
    except sqlglot.errors.ParseError as error:
        raise QueryError(f"SQL does not parse: {error}") from error
    if not isinstance(tree, exp.Select):
        raise QueryError("the analytics part is not a SELECT")
    aliases = {a.alias for a in tree.find_all(exp.Alias)}
    for column in tree.find_all(exp.Column):
        if column.name not in aliases | BUILT_IN_COLUMNS:
            journal_field(column.name)
    for comparison in tree.find_all(exp.EQ, exp.NEQ):
        _check_comparison(comparison)
    return aliases


def _check_comparison(node: exp.Expression) -> None:
    column, literal = node.find(exp.Column), node.find(exp.Literal)
    if column is not None and literal is not None and literal.is_string:
        field = journal_field(column.name)
        if not value_allowed(field, literal.this):
            raise QueryError(f"{column.name} = {literal.this!r} is not a value the schema allows")


def check_condition(condition: str, outputs: set[str]) -> None:
    """An alert condition names only the query's outputs."""
    names = {c.name for c in sqlglot.parse_one(condition).find_all(exp.Column)}
    if not names or not names <= outputs:
        raise QueryError(f"condition {condition!r} names {names - outputs or 'nothing'}")


@dataclass(frozen=True)
class Chart:
    title: str
    query: str
    axes: list[str]


def charts() -> Iterator[Chart]:
    for dashboard in resources("ALIYUN::SLS::Dashboard").values():
        for chart in dashboard["Charts"]:
            display = chart["display"]
            yield Chart(
                chart["title"], chart["search"]["query"], display["xAxis"] + display["yAxis"]
            )


@pytest.mark.parametrize("chart", list(charts()), ids=lambda c: c.title)
def test_each_chart_query_parses_and_names_schema_fields(chart: Chart) -> None:
    outputs = check_query(chart.query)
    assert set(chart.axes) <= outputs


def test_the_dashboard_has_the_charts_operators_asked_for() -> None:
    titles = {chart.title for chart in charts()}
    assert titles == {
        "Outcomes over time",
        "Reasons over time",
        "Failures by error code",
        "Refused escalations (role-not-allowed)",
        "Contested and flapping instances",
        "Sweep duration and calls",
    }


def alerts() -> dict[str, dict[str, Any]]:
    return {n: p["Detail"] for n, p in resources("ALIYUN::SLS::Alert").items()}


@pytest.mark.parametrize("name", sorted(alerts()))
def test_each_alert_query_parses_and_its_conditions_name_its_outputs(name: str) -> None:
    detail = alerts()[name]
    configuration = detail["Configuration"]
    (query,) = configuration["QueryList"]
    outputs = check_query(query["Query"])
    for severity in configuration["SeverityConfigurations"]:
        check_condition(severity["EvalCondition"]["Condition"], outputs)
    assert configuration["PolicyConfiguration"]["ActionPolicyId"] == {"Ref": "AlertActionPolicyId"}
    assert detail["Schedule"]["Type"] == "FixedRate"


def test_an_alert_watches_each_signal() -> None:
    watched = {
        value
        for detail in alerts().values()
        for _, value in search_terms(detail["Configuration"]["QueryList"][0]["Query"].split("|")[0])
    }
    assert {"failed", "role-not-allowed", "contested", "circuit-open", "empty-sweep"} <= watched
    assert "AlertActionPolicyId" in tpl.load_template()["Parameters"]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("message.kind: outcome and message.outcom: failed", "not a journal field"),
        ("message.kind: outcome and message.reason: role-not-alowed", "not a value"),
        ("kind: outcome", "not a journal field"),
        ("message.kind: outcome and (message.reason: contested", "unbalanced"),
        ("message.kind: outcome and", "ends early"),
        ('message.kind: outcome | SELECT "message.outcomes" AS o', "not a journal field"),
        ("message.kind: outcome | SELECT count(*) AS n FROM", "does not parse"),
        ("* | SELECT count_if(\"message.outcome\" = 'exploded') AS n", "not a value"),
    ],
)
def test_the_query_checker_catches_mistakes(query: str, problem: str) -> None:
    with pytest.raises(QueryError, match=problem):
        check_query(query)


def test_the_condition_checker_catches_a_name_the_query_does_not_output() -> None:
    with pytest.raises(QueryError, match="names"):
        check_condition("failures > 0", {"warnings"})
