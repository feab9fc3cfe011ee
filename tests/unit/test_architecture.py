"""docs/ARCHITECTURE.md stays true: sizes, and the places an extension touches.

- No module over 300 lines and no function over 40 outside tests and bench, except the ones
  the document's "Size exceptions" table names (with the reason).
- "How to add an event source / a scope" name existing files, and no other source file
  repeats the whole list of registered calls or scopes (that is what the registries replace).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rolebinder.intake.events import API_CALLS
from rolebinder.mapping.scopes import SCOPES
from tests.support import ROOT

DOC = ROOT / "docs" / "ARCHITECTURE.md"
SOURCES = ("shared", "functions", "fakecloud")
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 40


def section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"docs/ARCHITECTURE.md has no section {title!r}"
    return match.group(1)


def documented_exceptions() -> set[tuple[str, str]]:
    """(file, function or "-") of each row of the size exceptions table."""
    rows = re.findall(r"^\| `([^`]+)` \| `?([^`|]+?)`? \|", section("Size exceptions"), re.M)
    return {(path, function.strip()) for path, function in rows}


def source_files() -> Iterator[Path]:
    for folder in SOURCES:
        yield from sorted((ROOT / folder).rglob("*.py"))


def oversized() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in source_files():
        relative = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            found.add((relative, "-"))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno is not None
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    found.add((relative, node.name))
    return found


def test_only_the_documented_modules_and_functions_are_oversized() -> None:
    # Both ways: an undocumented large one fails, and so does a stale row once it is split.
    assert oversized() == documented_exceptions()


def listed_paths(title: str) -> list[str]:
    return re.findall(
        r"`((?:shared|fakecloud|functions|events|docs)/[^`<>]+|[a-z.]+\.ya?ml)`", section(title)
    )


@pytest.mark.parametrize("title", ["How to add an event source", "How to add a scope"])
def test_the_extension_recipes_name_existing_files(title: str) -> None:
    paths = listed_paths(title)
    assert paths, title
    missing = [p for p in paths if not (ROOT / p).is_file()]
    assert not missing


def files_naming_all(names: list[str]) -> set[str]:
    """Source and deploy files in which every one of `names` appears as a word."""
    candidates = [
        *source_files(),
        ROOT / "template.yml",
        ROOT / "s.yaml",
        ROOT / "events" / "README.md",
    ]
    found = set()
    for path in candidates:
        text = path.read_text(encoding="utf-8")
        if all(re.search(rf"\b{re.escape(name)}\b", text) for name in names):
            found.add(path.relative_to(ROOT).as_posix())
    return found


def test_only_the_documented_places_list_every_event_source() -> None:
    assert files_naming_all(list(API_CALLS)) <= set(listed_paths("How to add an event source"))


def test_only_the_scope_registry_lists_every_scope() -> None:
    listed = files_naming_all([scope.key for scope in SCOPES])
    assert listed == {"shared/rolebinder/mapping/scopes.py"}
    assert listed <= set(listed_paths("How to add a scope"))
