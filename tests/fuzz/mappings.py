"""Strategies for mapping files: every example mapping, bent as documents, as YAML and as bytes.

Seeds are examples/*.yaml and the YAML blocks of docs/MAPPING.md. On top of the generic
mutations (tests/fuzz/mutants.py) this adds what only YAML has: anchors, aliases and their
"billion laughs" bombs, merge keys, python tags, tabs, duplicate keys, several documents, very
long lines, and text nested thousands of levels deep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from rolebinder.mapping.schema import MAX_VALUES
from rolebinder.mapping.scopes import SCOPES as MAPPING_SCOPES
from rolebinder.mapping.text import MAX_FILE_BYTES
from tests.fuzz.mutants import (
    Draw,
    bent_text,
    get,
    json_values,
    mutants,
    odd_text,
    paths,
    pick,
    put,
    wrong_values,
)

ROOT = Path(__file__).resolve().parents[2]
_BLOCKS = re.findall(r"```yaml[^\n]*\n(.*?)```", (ROOT / "docs" / "MAPPING.md").read_text(), re.S)
TEXTS: list[str] = [
    *(path.read_text(encoding="utf-8") for path in sorted((ROOT / "examples").glob("*.yaml"))),
    *_BLOCKS,
]
DOCUMENTS: list[Any] = [yaml.safe_load(text) for text in TEXTS]

KEYS = (
    "version",
    "roles",
    "rules",
    "on_existing_role",
    "on_no_match",
    "$schema",
    "name",
    "priority",
    "when",
    "role",
    "role_from_tag",
    "allowed_roles",
    "adopt_unmarked",
    "tags",
    *(s.key for s in MAPPING_SCOPES),
    "team",
    "env",
    "ram-role",
    "aliyun-owner",
    "acs:tag",
    "see https://x",
    "Roles",
    "rule",
    "<<",
    "",
)
PLAUSIBLE = st.sampled_from(
    [
        1,
        "1",
        1.0,
        True,
        2,
        "keep",
        "replace",
        "detach",
        "KEEP",
        "AppReader",
        "Payments",
        "Admin",
        "App Reader",
        "Payments\n",
        "Payments ",
        "Pay@ments.x-1",
        "P\u0430yments",  # a Cyrillic a
        "\uff30ayments",  # a fullwidth P
        "A" * 64,
        "A" * 65,
        "",
        "payments-prod",
        "Payments-Prod",
        "-x",
        "a" * 64,
        "*",
        ["*"],
        ["prod", "prod"],
        ["prod", "*"],
        [],
        {},
        "cn-hangzhou",
        "cn-hangzhou\n",
        "cn-",
        "vpc-bp1data0001",
        "vpc-",
        "rg-acfm1",
        "rg-",
        100,
        -100,
        1_000_000,
        1_000_001,
        -1_000_001,
        1e6,
        100.5,
        10**30,
        float("nan"),
        float("inf"),
        "aliyun-key",
        "acs:foo",
        "https://example.com",
        "t" * 128,
        "t" * 129,
        "ram-role",
    ]
)
VALUES = json_values(KEYS, PLAUSIBLE)
REPLACEMENTS = wrong_values | PLAUSIBLE | VALUES
documents = st.sampled_from(DOCUMENTS)
texts = st.sampled_from(TEXTS)
SOURCES = ("<mapping>", "mapping.yaml", "mapping.json", "MAPPING.JSON", "m.yml", "dir/\udcff.yaml")


def bent(
    bases: st.SearchStrategy[Any] = documents,
    steps: tuple[int, int] = (1, 4),
    values: st.SearchStrategy[Any] = REPLACEMENTS,
) -> st.SearchStrategy[Any]:
    """An example mapping document (or one of `bases`) with a few random mutations."""
    return mutants(bases, KEYS, values, steps)


# --- documents as text ----------------------------------------------------------------------------


class PlainDumper(yaml.SafeDumper):
    """Never writes anchors and aliases, which the loader refuses (tested on their own)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


@st.composite
def yaml_text(draw: Draw, document: Any) -> str:
    """`document` as YAML, in block, flow or canonical style, wide or narrow."""
    style = pick(draw, ("block", "flow", "default", "canonical"))
    return yaml.dump(
        document,
        Dumper=PlainDumper,
        default_flow_style={"block": False, "flow": True}.get(style),
        canonical=style == "canonical",
        allow_unicode=draw(st.booleans()),
        width=pick(draw, (80, 20, 10**9)),
        explicit_start=draw(st.booleans()),
        sort_keys=False,
    )


def json_text(document: Any) -> str | None:
    """Strict JSON of `document`, or None when it has none (NaN, a huge integer)."""
    try:
        return json.dumps(document, allow_nan=False)
    except (TypeError, ValueError):
        return None


def read_back(text: str) -> Any:
    """What a plain YAML loader makes of `text` (to know whether the dump was faithful)."""
    try:  # libyaml when PyYAML has it, for speed; it refuses lone surrogates, PyYAML does not
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except (AttributeError, yaml.YAMLError, UnicodeError):
        return yaml.safe_load(text)


def same(one: Any, other: Any) -> bool:
    """Equal as documents (NaN equal to NaN, key order ignored)."""
    return json.dumps(one, sort_keys=True, default=repr) == json.dumps(
        other, sort_keys=True, default=repr
    )


# --- YAML hazards ---------------------------------------------------------------------------------

HAZARDS = (
    "&anchor ",
    "*anchor",
    "<<: *base",
    "<<: {roles: [A]}",
    "version: !!python/object/apply:os.system ['true']",
    "x: !!python/name:os.system",
    "x: !!python/object/new:tuple [[1]]",
    "x: !!binary aGVsbG8=",
    "x: !!set {a, b}",
    "x: !!omap [a: 1]",
    "x: !!timestamp 2024-01-01",
    "x: !!float 1",
    "x: !!str 1",
    "x: !custom thing",
    "x: !<tag:yaml.org,2002:str> text",
    "x: !<tag:%0A%0D> text",
    "x: !<!%F0%9F%98%80> text",
    "x: !" + "a" * 5000 + " text",
    "%YAML 1.1",
    "%YAML 1.3",
    "%TAG ! tag:example.com,2000:",
    "---",
    "...",
    "--- !!map",
    "? complex\n: key",
    "? [a, b]\n: c",
    "[a, b]: c",
    "{a: b}: c",
    "version: 1.0",
    "version: 0x1",
    "version: 0o1",
    "version: 1_0",
    "version: +1",
    "version: !!int '1'",
    "version: 2024-01-01",
    "version: 2024-13-45",
    "version: 1e1000",
    "version: .inf",
    "version: .nan",
    "version: ~",
    "version: yes",
    "version: " + "9" * 5000,
    'roles: ["\\uD800"]',
    'roles: ["\\x00"]',
    'roles: ["\\N\\_\\L\\P"]',
    "roles: [Payments, Payments]",
    "\t- name: x",
    "  \t",
    "\x00",
    "\x85",
    "\u2028",
    "\ufeff",
    "\x1b[31m",
    "\ud800",
    "a: " + "b" * 100_000,
    "key: 'unterminated",
    'key: "unterminated',
    "key: |",
    "key: >-",
    "- - - -",
    "{{{{",
    "]]]]",
    ": :",
    "-",
    "? ",
    "&a [*a]",
)

Edit = Callable[[Draw, list[str], int], list[str]]
_EDITS: dict[str, Edit] = {
    "insert": lambda draw, lines, at: [
        *lines[:at],
        pick(draw, ("", "  ", "    ", "\t")) + pick(draw, HAZARDS),
        *lines[at:],
    ],
    "replace": lambda draw, lines, at: [*lines[:at], pick(draw, HAZARDS), *lines[at + 1 :]],
    "append": lambda draw, lines, at: [
        *lines[:at],
        lines[at] + " " + pick(draw, HAZARDS) if at < len(lines) else pick(draw, HAZARDS),
        *lines[at + 1 :],
    ],
    "duplicate": lambda draw, lines, at: [*lines[: at + 1], *lines[at : at + 1], *lines[at + 1 :]],
    "tab": lambda draw, lines, at: [*lines[:at], *[_tabbed(line) for line in lines[at:]]],
    "anchor": lambda draw, lines, at: [
        *lines[:at],
        *_anchored(lines[at : at + 2]),
        *lines[at + 2 :],
    ],
    "delete": lambda draw, lines, at: [*lines[:at], *lines[at + 1 :]],
    "bend": lambda draw, lines, at: [
        *lines[:at],
        bent_text(draw, lines[at]) if at < len(lines) else "",
        *lines[at + 1 :],
    ],
    "dedent": lambda draw, lines, at: [*lines[:at], *[line.lstrip() for line in lines[at:]]],
}


def _tabbed(line: str) -> str:
    stripped = line.lstrip(" ")
    return "\t" * ((len(line) - len(stripped)) // 2) + stripped


def _anchored(lines: list[str]) -> list[str]:
    """Give the first line's value an anchor and make the second line's value its alias."""
    if len(lines) < 2 or ": " not in lines[0] or ": " not in lines[1]:
        return lines
    first_key, first_value = lines[0].split(": ", 1)
    second_key = lines[1].split(": ", 1)[0]
    return [f"{first_key}: &a {first_value}", f"{second_key}: *a"]


LINE_ENDS = ("\n", "\r\n", "\r", "\u2028", "\x85")


@st.composite
def hazardous_text(draw: Draw) -> str:
    """A real mapping text with YAML hazards edited in, line by line."""
    lines = draw(texts).split("\n")
    for _ in range(draw(st.integers(1, 3))):
        edit = _EDITS[pick(draw, tuple(_EDITS))]
        lines = edit(draw, lines, draw(st.integers(0, max(len(lines) - 1, 0))))
    text = pick(draw, LINE_ENDS[:1] * 6 + LINE_ENDS).join(lines)
    if draw(st.integers(0, 9)) == 0:
        text = "\ufeff" + text
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text


# --- bombs, depth, size ---------------------------------------------------------------------------


def laughs(levels: int, width: int, style: str) -> str:
    """A "billion laughs" document: each level aliases the previous one `width` times."""
    lines = ['lol0: &lol0 ["lol"]'] if style != "merge" else ["lol0: &lol0 {a: 1}"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*lol{level - 1}"] * width)
        if style == "merge":
            lines.append(f"lol{level}: &lol{level} {{<<: [{refs}]}}")
        else:
            lines.append(f"lol{level}: &lol{level} [{refs}]")
    lines.append(f"version: 1\nroles: *lol{levels}\nrules: *lol{levels}")
    return "\n".join(lines) + "\n"


def self_reference(style: str) -> str:
    """An alias to its own enclosing node: a cycle PyYAML would build."""
    if style == "merge":
        return "version: 1\nroles: &r {<<: *r}\n"
    return "version: 1\nroles: &r [*r]\n"


bombs = st.one_of(
    st.builds(
        laughs,
        st.sampled_from((1, 3, 9, 20)),
        st.sampled_from((2, 9, 30)),
        st.sampled_from(("list", "merge")),
    ),
    st.builds(self_reference, st.sampled_from(("list", "merge"))),
)

DEEP = {
    # name: (opening, middle, closing) repeated `depth` times around "1"
    "flow-seq": ("[", "1", "]"),
    "flow-map": ("{a: ", "1", "}"),
    "json-seq": ("[", "1", "]"),
    "json-map": ('{"a": ', "1", "}"),
    "mixed": ("[{a: ", "1", "}]"),
}
DEPTHS = (31, 32, 33, 100, 999, 1000, 5000, 100_000)


@st.composite
def deep_text(draw: Draw) -> tuple[str, str]:
    """(text, source): YAML or JSON nested up to 100,000 levels deep, alone or as a value."""
    depth = pick(draw, DEPTHS)
    style = pick(draw, (*DEEP, "block-seq", "block-map"))
    if style == "block-seq":  # "- - - x": one line, `depth` nested block sequences
        inner = "- " * depth + "x"
    elif style == "block-map":  # indentation grows with depth, so keep the text small
        inner = "\n".join(" " * level + "a:" for level in range(min(depth, 1000))) + " 1"
    else:
        opening, middle, closing = DEEP[style]
        inner = opening * depth + middle + closing * depth
    source = "deep.json" if style.startswith("json") else "deep.yaml"
    if draw(st.booleans()):
        inner = inner[: draw(st.integers(0, len(inner)))]
    if draw(st.booleans()) and not style.startswith("block"):
        valued = (
            '{"version": 1, "roles": %s}' if source.endswith(".json") else "version: 1\nroles: %s"
        )
        inner = valued % inner
    return inner, source


def _rules(count: int) -> list[dict[str, Any]]:
    return [
        {"name": f"r{n}", "priority": n, "when": {"tags": {"team": f"t{n}"}}, "role": "Payments"}
        for n in range(count)
    ]


def _with(**fields: Any) -> dict[str, Any]:
    document = json.loads(json.dumps(DOCUMENTS[0]))
    document.update(fields)
    return document


# Documents at or past a limit, small enough to load in well under a second (a document near
# MAX_VALUES takes several seconds to validate: see the report on the fuzzing issue).
HUGE_DOCUMENTS: dict[str, Callable[[], Any]] = {
    "many-roles": lambda: _with(roles=[f"R{n}" for n in range(2_000)] + ["AppReader", "Payments"]),
    "many-bad-roles": lambda: _with(roles=[f"R {n}" for n in range(2_000)]),
    "many-rules": lambda: _with(rules=_rules(500)),
    "many-empty-rules": lambda: _with(rules=[{}] * 2_000),
    "many-tags": lambda: _with(
        rules=[
            {
                "name": "a",
                "when": {"tags": {f"k{n}": "v" for n in range(2_000)}},
                "role": "Payments",
            }
        ]
    ),
    "many-unknown-keys": lambda: _with(**{f"k{n}": n for n in range(2_000)}),
    "past-max-values": lambda: _with(rules=[{}] * (MAX_VALUES + 1)),
    "long-role": lambda: _with(roles=["A" * 1_000_000]),
    "long-tag-value": lambda: _with(
        rules=[{"name": "a", "when": {"tags": {"k": "v" * 1_000_000}}, "role": "Payments"}]
    ),
    "long-unknown-key": lambda: _with(**{"k" * 1_000_000: 1}),
    "long-tag-key": lambda: _with(
        rules=[{"name": "a", "when": {"tags": {"k" * 1_000_000: "v"}}, "role": "Payments"}]
    ),
    "huge-integer": lambda: _with(version=10**5000),
    "deep-document": lambda: _with(roles=_nested(40)),
}


def _nested(depth: int) -> list[Any]:
    value: list[Any] = ["x"]
    for _ in range(depth):
        value = [value]
    return value


huge_documents = st.sampled_from(sorted(HUGE_DOCUMENTS)).map(lambda name: HUGE_DOCUMENTS[name]())

HUGE_TEXTS: dict[str, Callable[[], str]] = {
    "long-line": lambda: "version: 1\nroles: [" + "a" * 200_000 + "]\n",
    "long-digits": lambda: "version: " + "9" * 200_000 + "\n",
    "long-comment": lambda: "# " + "x" * 200_000 + "\n" + TEXTS[0],
    "many-blank-lines": lambda: "\n" * 100_000 + TEXTS[0],
    "flow-roles": lambda: "version: 1\nroles: [" + ", ".join(f"R{n}" for n in range(5_000)) + "]\n",
    "file-limit": lambda: TEXTS[0] + "#" * (MAX_FILE_BYTES - len(TEXTS[0])),
    "past-file-limit": lambda: TEXTS[0] + "#" * MAX_FILE_BYTES,
    "ten-megabytes": lambda: "version: '" + "a" * 10_000_000 + "'\n",
    "long-tag": lambda: "version: !" + "a" * 100_000 + " 1\n",
    "long-anchor": lambda: "version: &" + "a" * 100_000 + " 1\n",
    "long-key": lambda: "k" * 100_000 + ": 1\n" + TEXTS[0],
}
huge_texts = st.sampled_from(sorted(HUGE_TEXTS)).map(lambda name: HUGE_TEXTS[name]())


# --- odd unicode ----------------------------------------------------------------------------------


@st.composite
def odd_unicode_document(draw: Draw) -> Any:
    """An example mapping whose strings (values and keys) carry odd unicode."""
    document = json.loads(json.dumps(draw(documents)))
    strings = [p for p in paths(document) if isinstance(get(document, p), str)]
    for _ in range(draw(st.integers(1, 3))):
        where = pick(draw, strings)
        current = get(document, where)
        put(document, where, current + draw(odd_text) if draw(st.booleans()) else draw(odd_text))
    return document


# --- valid mappings -------------------------------------------------------------------------------

_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
role_names = st.text(_LOWER + _LOWER[:26].upper() + ".@-", min_size=1, max_size=64)
rule_names = st.builds(
    str.__add__, st.text(_LOWER, min_size=1, max_size=1), st.text(_LOWER + "._-", max_size=63)
)
# Short texts of any characters, and the longest allowed; longer ones are tested as huge inputs.
tag_keys = (st.text(min_size=1, max_size=12) | st.just("k" * 128)).filter(
    lambda key: not re.match(r"aliyun|acs:|rolebinder:", key) and not re.search(r"https?://", key)
)
tag_values = (st.text(max_size=12) | st.just("v" * 128)).filter(lambda value: value != "*")
# Ids of every scope the mapping declares (rolebinder.mapping.scopes).
SCOPES = {s.key: st.from_regex(s.pattern, fullmatch=True) for s in MAPPING_SCOPES}


@st.composite
def valid_documents(draw: Draw) -> dict[str, Any]:
    """A mapping document that is valid by construction (distinct priorities: no certain tie)."""
    roles = draw(st.lists(role_names, min_size=1, max_size=4, unique=True))
    names = draw(st.lists(rule_names, min_size=1, max_size=3, unique=True))
    rules = [_valid_rule(draw, name, index, roles) for index, name in enumerate(names)]
    document: dict[str, Any] = {"version": 1, "roles": roles, "rules": rules}
    if draw(st.booleans()):
        document["on_existing_role"] = pick(draw, ("keep", "replace"))
    if draw(st.booleans()):
        document["on_no_match"] = pick(draw, ("keep", "detach"))
    return document


def _valid_rule(draw: Draw, name: str, index: int, roles: list[str]) -> dict[str, Any]:
    when: dict[str, Any] = {}
    tags = draw(st.dictionaries(tag_keys, st.just("*") | tag_values | _value_lists, max_size=3))
    if tags:
        when["tags"] = tags
    for scope, ids in SCOPES.items():
        if draw(st.booleans()) or not when:
            when[scope] = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    rule: dict[str, Any] = {"name": name, "priority": index * 7 - 10, "when": when}
    if draw(st.booleans()):
        rule["role"] = pick(draw, roles)
        return rule
    key = draw(tag_keys)
    rule["role_from_tag"] = key
    allowed = draw(st.lists(st.sampled_from(roles), min_size=1, unique=True))
    rule["allowed_roles"] = allowed
    if key in tags or draw(st.booleans()):  # values listed for that tag must be allowed roles
        tags[key] = draw(st.just("*") | st.lists(st.sampled_from(allowed), min_size=1, unique=True))
        when["tags"] = tags
    return rule


_value_lists = st.lists(tag_values, min_size=1, max_size=3, unique=True)
