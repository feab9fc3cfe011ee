"""Mapping file and text -> a plain document (dicts, lists, scalars), refusing unsafe YAML.

Part of `rolebinder.mapping.model`; every failure is a `MappingError` naming the line or the file.
PyYAML is imported lazily: it is on the handlers' cold-start path only when a mapping is read.
"""

from __future__ import annotations

import functools
import json

from rolebinder.errors import MappingError, Problem
from rolebinder.mapping.schema import MAX_DEPTH, show

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any

# A real mapping is a few KiB; pure-Python YAML parses ~250 KiB/s, so this caps the parse.
MAX_FILE_BYTES = 256 * 1024
_TOO_LARGE = f"is larger than {MAX_FILE_BYTES} bytes (256 KiB); a mapping never needs that much"


def read_text(source: str) -> str:
    """Read a mapping file as UTF-8 text, refusing directories, unreadable and oversized files."""
    try:
        with open(source, "rb") as handle:
            # Read one byte past the limit rather than trusting stat(): the file may be a pipe.
            data = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise MappingError(source, [Problem("", _os_reason(exc))]) from exc
    if len(data) > MAX_FILE_BYTES:
        raise MappingError(source, [Problem("", _TOO_LARGE)])
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        reason = f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})"
        raise MappingError(source, [Problem("", reason)]) from exc


def parse_text(text: str, source: str) -> object:
    """Parse mapping text: JSON when `source` ends in .json (for JSON's messages), else YAML."""
    if len(text) > MAX_FILE_BYTES:  # text given directly, not read from a file, is limited too
        raise MappingError(source, [Problem("", _TOO_LARGE)])
    if source.lower().endswith(".json"):
        return _parse_json(text, source)
    return _parse_yaml(text, source)


def _os_reason(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a mapping file"
    if isinstance(exc, PermissionError):
        return "cannot be read: permission denied"
    return f"cannot be read: {getattr(exc, 'strerror', None) or exc}"


def _parse_yaml(text: str, source: str) -> object:
    import yaml  # noqa: PLC0415 - lazy: see the module docstring

    loader = None
    try:
        loader = _strict_loader()(text)  # inside the try: the reader refuses control characters
        return loader.get_single_data()
    except (
        yaml.YAMLError,
        ValueError,
        TypeError,
        OverflowError,
        RecursionError,
        IndexError,
    ) as exc:
        # ValueError/OverflowError come from PyYAML's int()/date() on absurd scalars, IndexError
        # from its int constructor on an empty one (`!!int ""`, found by the fuzz suite).
        raise MappingError(source, [Problem("", _yaml_reason(exc))]) from exc
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "YAML is nested too deeply"
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is None or not problem:
        return f"YAML error: {_clip(' '.join(str(exc).split()), 200)}"  # one line
    context = getattr(exc, "context", None)
    suffix = f" ({context})" if context else ""
    # PyYAML quotes what it found, however long (an unknown tag of 5000 characters).
    found = _clip(" ".join(f"{problem}{suffix}".split()), 200)
    return f"YAML error at line {mark.line + 1}, column {mark.column + 1}: {found}"


@functools.lru_cache(maxsize=1)
def _strict_loader() -> Any:
    """A SafeLoader that also refuses anchors/aliases, merge keys and duplicate keys."""
    import yaml  # noqa: PLC0415 - lazy: see the module docstring

    def refuse(problem: str, mark: Any) -> Exception:
        return yaml.constructor.ConstructorError(None, None, problem, mark)

    class StrictLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            # A mapping never needs references, and they allow "billion laughs" memory bombs.
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                problem = "anchors and aliases (&name, *name) are not allowed in a mapping file"
                raise refuse(problem, event.start_mark)
            # Stop where the schema check would (PyYAML's scanner slows down quadratically with
            # the depth of flow collections, and its composer recurses).
            if self.depth >= MAX_DEPTH:
                problem = f"YAML is nested too deeply (more than {MAX_DEPTH} levels)"
                raise refuse(problem, event.start_mark)
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            # PyYAML silently keeps the last of duplicate keys; in a mapping that is a real mistake.
            first: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise refuse("merge keys (<<) are not allowed", key_node.start_mark)
                if not isinstance(key_node, yaml.ScalarNode):
                    continue  # complex keys fail in construct_mapping (unhashable) or the schema
                key = self.construct_object(key_node)
                if key in first:
                    problem = f"duplicate key {show(key)} (first on line {first[key]})"
                    raise refuse(problem, key_node.start_mark)
                first[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def _parse_json(text: str, source: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        reason = f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise MappingError(source, [Problem("", reason)]) from exc
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise MappingError(source, [Problem("", _clip(f"JSON error: {reason}", 240))]) from exc


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json, like PyYAML, silently keeps the last of duplicate keys.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {show(key)} in an object")
        result[key] = value
    return result


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
