"""The compiled mapping: validated once by `rolebinder build`, loaded by the handlers cheaply.

A handler's first invocation used to spend ~55 ms importing jsonschema and PyYAML and validating
the mapping. `rolebinder build` now runs the full validator and writes the validated document as
canonical JSON with its sha256 (`mapping.compiled.json`); the handler checks the digest and
builds the RoleMapping with `rolebinder.mapping.model`'s own builder, importing neither library. A
file
whose digest does not match is refused (fail closed); a file that is not a compiled mapping goes
through the full validator as before (local mode, the CLI).
"""

from __future__ import annotations

import hashlib
import json
import os

from rolebinder.errors import MappingError, Problem
from rolebinder.mapping.model import (
    RoleMapping,
    _build,
    _semantic_problems,
    load_mapping,
    mapping_from_document,
)
from rolebinder.mapping.schema import format_problems
from rolebinder.mapping.text import parse_text, read_text

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any

COMPILED_SUFFIX = ".compiled.json"
FORMAT = "rolebinder-mapping/1"


def is_compiled(path: str | os.PathLike[str]) -> bool:
    """Whether a mapping path names a compiled mapping (by its suffix, as the build names it)."""
    return os.fspath(path).endswith(COMPILED_SUFFIX)


def load(path: str | os.PathLike[str]) -> RoleMapping:
    """The mapping at `path`: compiled (digest checked) or plain YAML/JSON (fully validated)."""
    return load_compiled(path) if is_compiled(path) else load_mapping(path)


def canonical(document: Any) -> bytes:
    """One byte string per document: sorted keys, no spaces, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compile_mapping(path: str | os.PathLike[str]) -> bytes:
    """Validate a YAML/JSON mapping fully and return its compiled form (MappingError if invalid)."""
    source = os.fspath(path)
    document = parse_text(read_text(source), source)
    mapping_from_document(document, source)  # every check the handler will not repeat
    digest = hashlib.sha256(canonical(document)).hexdigest()
    envelope = {"format": FORMAT, "sha256": digest, "document": document}
    # The document keeps its key order (tag conditions are built in file order); only the digest
    # is over the canonical, key-sorted form.
    return json.dumps(envelope, indent=1, ensure_ascii=False).encode() + b"\n"


def load_compiled(path: str | os.PathLike[str]) -> RoleMapping:
    """Read a compiled mapping; MappingError unless its digest matches its document."""
    source = os.fspath(path)
    envelope = _envelope(source)
    document = envelope["document"]
    if hashlib.sha256(canonical(document)).hexdigest() != envelope["sha256"]:
        raise MappingError(
            source,
            [
                Problem(
                    "",
                    "sha256 does not match the document: it was changed after "
                    "`rolebinder build`; rebuild the package rather than edit it",
                )
            ],
        )
    return _built(document, source)


def _envelope(source: str) -> dict[str, Any]:
    try:
        envelope = json.loads(read_text(source))
    except ValueError as exc:
        raise MappingError(source, [Problem("", f"is not JSON: {exc}")]) from exc
    shape = isinstance(envelope, dict) and set(envelope) == {"format", "sha256", "document"}
    if not shape or envelope["format"] != FORMAT or not isinstance(envelope["sha256"], str):
        raise MappingError(source, [Problem("", f"is not a compiled mapping ({FORMAT})")])
    return envelope


def _built(document: Any, source: str) -> RoleMapping:
    # The digest proves the build validated this document; the cheap semantic checks run again
    # anyway, and a shape the builder cannot read is refused rather than half-used.
    try:
        mapping = _build(document)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problem = Problem("", f"document does not have a mapping's shape: {exc!r}")
        raise MappingError(source, [problem]) from exc
    found = _semantic_problems(mapping)
    if found:
        raise MappingError(source, format_problems(document, found))
    return mapping
