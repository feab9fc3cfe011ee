"""The compiled mapping: what the build validates is what the handler loads, byte for byte, and
anything else is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rolebinder.errors import MappingError
from rolebinder.mapping.compiled import canonical, compile_mapping, load, load_compiled
from rolebinder.mapping.model import load_mapping
from tests.support import ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def compiled(tmp_path: Path, source: Path) -> Path:
    path = tmp_path / "mapping.compiled.json"
    path.write_bytes(compile_mapping(source))
    return path


@pytest.mark.parametrize("source", EXAMPLES, ids=lambda p: p.name)
def test_the_compiled_form_loads_as_the_validated_mapping(tmp_path: Path, source: Path) -> None:
    assert load_compiled(compiled(tmp_path, source)) == load_mapping(source)


def test_compiling_is_deterministic(tmp_path: Path) -> None:
    source = ROOT / "examples" / "mapping.yaml"
    assert compile_mapping(source) == compile_mapping(source)


def rewrite(path: Path, change: dict[str, object], fix_digest: bool = False) -> None:
    envelope = json.loads(path.read_text(encoding="utf-8"))
    envelope["document"].update(change)
    if fix_digest:
        import hashlib  # noqa: PLC0415

        envelope["sha256"] = hashlib.sha256(canonical(envelope["document"])).hexdigest()
    path.write_text(json.dumps(envelope), encoding="utf-8")


def test_a_tampered_document_is_refused(tmp_path: Path) -> None:
    # GIVEN a compiled mapping whose allow-list was edited after the build
    path = compiled(tmp_path, ROOT / "examples" / "mapping.yaml")
    rewrite(path, {"roles": ["AppReader", "Payments", "Admin"]})
    # THEN loading it fails, saying why and what to do
    with pytest.raises(MappingError, match=r"sha256 does not match.*rebuild"):
        load_compiled(path)


def test_a_tampered_digest_is_refused(tmp_path: Path) -> None:
    path = compiled(tmp_path, ROOT / "examples" / "mapping.yaml")
    envelope = json.loads(path.read_text(encoding="utf-8"))
    envelope["sha256"] = "0" * 64
    path.write_text(json.dumps(envelope), encoding="utf-8")
    with pytest.raises(MappingError, match="sha256 does not match"):
        load_compiled(path)


def test_a_consistent_but_invalid_document_is_still_refused(tmp_path: Path) -> None:
    # GIVEN a document re-digested by hand with a rule naming a role outside the allow-list
    path = compiled(tmp_path, ROOT / "examples" / "mapping.yaml")
    rewrite(path, {"roles": ["AppReader"]}, fix_digest=True)
    # THEN the semantic checks, which run on every load, refuse it
    with pytest.raises(MappingError, match="not in roles"):
        load_compiled(path)


def test_a_shape_the_builder_cannot_read_is_refused(tmp_path: Path) -> None:
    path = compiled(tmp_path, ROOT / "examples" / "mapping.yaml")
    rewrite(path, {"rules": [{"name": "r"}]}, fix_digest=True)
    with pytest.raises(MappingError, match="shape"):
        load_compiled(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "is not JSON"),
        ('{"version": 1, "roles": [], "rules": []}', "is not a compiled mapping"),
        ('{"format": "other/1", "sha256": "", "document": {}}', "is not a compiled mapping"),
    ],
)
def test_other_files_are_not_compiled_mappings(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "mapping.compiled.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError, match=message):
        load_compiled(path)


def test_an_invalid_mapping_does_not_compile(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nroles: [A]\nrules:\n  - {name: r, when: {tags: {t: v}}, role: B}\n")
    with pytest.raises(MappingError, match="not in roles"):
        compile_mapping(bad)


def test_load_takes_a_plain_mapping_through_the_full_validator(tmp_path: Path) -> None:
    # A plain YAML file (local mode) is validated as before; a compiled one by its digest
    source = ROOT / "examples" / "mapping.yaml"
    assert load(source) == load_mapping(source)
    assert load(compiled(tmp_path, source)) == load_mapping(source)
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 2\n")
    with pytest.raises(MappingError):
        load(bad)
