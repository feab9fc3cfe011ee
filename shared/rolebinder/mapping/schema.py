"""Validation of a mapping document against its closed JSON Schema, with readable problems.

Part of `rolebinder.mapping.model`. jsonschema reports raw errors (`{...whole instance...} is not
valid
under any of the given schemas`); this turns each into a path such as `rules[1].when.tags.env`
and one sentence a platform engineer can act on. jsonschema is imported lazily (cold start).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
from collections.abc import Iterator, Sequence

from rolebinder.domain import ids
from rolebinder.errors import Problem
from rolebinder.mapping.scopes import when_schema

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any

    from jsonschema.exceptions import ValidationError

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "schemas", "mapping.schema.json")
# Real mappings are about 7 levels deep with a few thousand values. Past these limits the input is a
# mistake or an attack, and deep nesting would otherwise end in RecursionError somewhere inside.
MAX_DEPTH = 32
# A real mapping holds hundreds of values; validation costs ~60 us each, so this caps a cold
# start's worst case near half a second.
MAX_VALUES = 10_000
# A broken generated file can produce thousands of problems; the first ones say enough.
MAX_PROBLEMS = 50
# What json.dumps leaves unescaped but a one-line, UTF-8 message cannot hold: DEL and the C1
# controls, the line and paragraph separators, and lone surrogates.
_UNPRINTABLE = ids.Pattern(r"[\x7f-\x9f\u2028\u2029\ud800-\udfff]")

KeyPath = tuple["Any", ...]  # a string: typing is imported only by type checkers
Found = tuple[KeyPath, str]  # a problem before its path is formatted: (path elements, message)


def schema_problems(document: object) -> list[Found]:
    """Every structural problem of `document`, or [] when it matches the schema."""
    shape = _shape_problem(document)
    if shape is not None:
        return [((), shape)]
    return [found for error in _validator().iter_errors(document) for found in _explain(error)]


def format_problems(document: object, found: list[Found]) -> list[Problem]:
    """Sort by path, drop repeats, format paths like rules[1].when.tags.env, cap the count."""
    unique = {(_order(path), message): (path, message) for path, message in found}
    ordered = [unique[key] for key in sorted(unique)]
    problems = [Problem(_format_path(document, path), message) for path, message in ordered]
    if len(problems) > MAX_PROBLEMS:
        rest = len(problems) - MAX_PROBLEMS
        problems = [*problems[:MAX_PROBLEMS], Problem("", f"... and {rest} more problems")]
    return problems


def _shape_problem(document: object) -> str | None:
    """Refuse absurdly deep or large documents before anything recursive touches them."""
    stack: list[tuple[object, int]] = [(document, 1)]
    count = 1
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        if depth >= MAX_DEPTH:
            return f"is nested more than {MAX_DEPTH} levels deep"
        count += len(children)
        if count > MAX_VALUES:
            return f"has more than {MAX_VALUES} values"
        stack.extend((child, depth + 1) for child in children)
    return None


@functools.lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The mapping's JSON Schema: the file, with the scopes of rolebinder.mapping.scopes."""
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        schema = json.load(handle)
    schema["$defs"]["when"] = when_schema(schema["$defs"]["when"])
    return schema


def _validator() -> Any:
    import jsonschema  # noqa: PLC0415 - lazy: see the module docstring

    schema = load_schema()
    keywords = {"pattern": _ecma_pattern, "uniqueItems": _unique_strings}
    return jsonschema.validators.extend(jsonschema.Draft202012Validator, keywords)(schema)


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> Any:
    # JSON Schema regexes are ECMA-262, where `$` is the end of input; Python's `$` also matches
    # before a final newline, which would let "Payments\n" pass as a role name.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError  # noqa: PLC0415

    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        yield ValidationError(f"does not match {pattern}")


def _unique_strings(validator: Any, unique: bool, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema.exceptions import ValidationError  # noqa: PLC0415

    # Every uniqueItems array in our schema holds strings, and non-strings already fail `items`;
    # skipping them avoids jsonschema's quadratic fallback for unhashable items.
    strings = validator.is_type(instance, "array") and all(isinstance(i, str) for i in instance)
    if unique and strings and _duplicates(instance):
        yield ValidationError("has duplicate items")


def _duplicates(items: Sequence[str]) -> list[str]:
    """The items that occur more than once, in order of their first repeat."""
    seen: set[str] = set()
    repeated: dict[str, None] = {}
    for item in items:
        if item in seen:
            repeated[item] = None
        seen.add(item)
    return list(repeated)


def _explain(error: ValidationError) -> list[Found]:
    """Turn one jsonschema error into (path, readable message) pairs."""
    path: KeyPath = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path:
        path = (*path, error.instance)  # the offending value is a key of the object at `path`
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return [((*path, name), "is required but missing") for name in missing]
    if error.validator == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extra = [key for key in error.instance if key not in allowed]
        return [((*path, key), _unknown_key(key, allowed)) for key in extra]
    if error.validator in ("oneOf", "anyOf"):
        return _explain_choice(error, path)
    return [(path, _message(error))]


def _explain_choice(error: ValidationError, path: KeyPath) -> list[Found]:
    """Inside oneOf/anyOf, report the branch error a human can act on (like best_match)."""
    wanted = _PY_TYPES.get(error.schema.get("type"))
    if wanted is not None and not isinstance(error.instance, wanted):
        return []  # the sibling `type` error already says what is wrong
    # A problem inside the value (a bad list item) beats "matches none of the alternatives".
    deeper = [sub for sub in error.context or () if sub.relative_path]
    if deeper:
        return _explain(max(deeper, key=lambda sub: len(sub.relative_path)))
    custom = _custom(error)
    if custom is not None:
        return [(path, custom)]
    # Right type, wrong content (an empty list): that branch's complaint is the useful one.
    same_level = [sub for sub in error.context or () if sub.validator != "type"]
    if same_level:
        return _explain(same_level[0])
    kinds = [branch.get("type") for branch in error.validator_value if isinstance(branch, dict)]
    return [
        (path, _type_message([kind for kind in kinds if isinstance(kind, str)], error.instance))
    ]


def _custom(error: ValidationError) -> str | None:
    """The schema's own `errorMessage` for this keyword, with {value} filled in."""
    messages = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    text = messages.get(error.validator) if isinstance(messages, dict) else None
    return text.replace("{value}", show(error.instance)) if isinstance(text, str) else None


def _message(error: ValidationError) -> str:
    custom = _custom(error)
    if custom is not None and error.validator in ("pattern", "not"):
        return f"{show(error.instance)} {custom}"
    if custom is not None:
        return custom
    builder = _MESSAGES.get(str(error.validator))
    return builder(error.validator_value, error.instance) if builder else _clip(error.message, 200)


def _type_message(expected: Any, value: Any) -> str:
    kinds = [expected] if isinstance(expected, str) else list(expected)
    text = f"expected {' or '.join(_TYPE_NAMES.get(k, k) for k in kinds)}, got {_describe(value)}"
    if "string" in kinds and value is not None and not isinstance(value, (list, dict)):
        text += " (quote it in YAML to keep it text)"
    return text


def _unknown_key(key: object, allowed: list[str]) -> str:
    import difflib  # noqa: PLC0415 - only needed when a mapping is wrong

    close = difflib.get_close_matches(key, allowed, n=1) if isinstance(key, str) else []
    hint = f"; did you mean {close[0]}?" if close else ""
    shown = [name for name in allowed if not name.startswith("$")]  # $schema is only for editors
    return f"unknown key{hint} (allowed: {', '.join(shown)})"


_PY_TYPES: dict[Any, type] = {"object": dict, "array": list, "string": str}

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "object": "a mapping (key: value)",
    "array": "a list",
    "boolean": "true or false",
    "null": "null",
}

_MESSAGES: dict[str, Any] = {
    "type": _type_message,
    "const": lambda want, value: f"must be {show(want)}, got {show(value)}",
    "enum": lambda want, value: f"must be one of {', '.join(map(str, want))}, got {show(value)}",
    "minItems": lambda n, _: "must not be empty" if n == 1 else f"needs at least {n} items",
    "uniqueItems": lambda _, value: (
        f"lists {', '.join(map(show, _duplicates(value)))} more than once"
    ),
    "minProperties": lambda n, _: "must not be empty",
    "minLength": lambda n, _: "must not be empty" if n == 1 else f"is shorter than {n} characters",
    "maxLength": lambda n, value: f"{show(value)} is longer than {n} characters",
    "minimum": lambda n, value: f"must be at least {n}, got {show(value)}",
    "maximum": lambda n, value: f"must be at most {n}, got {show(value)}",
    "pattern": lambda pattern, value: f"{show(value)} does not match the pattern {pattern}",
    "not": lambda _, value: f"{show(value)} is not allowed here",
}


def _order(path: KeyPath) -> tuple[tuple[int, int, str], ...]:
    # Indices sort numerically (rules[2] before rules[10]); keys of any type sort without TypeError.
    return tuple((0, part, "") if type(part) is int else (1, 0, show(part)) for part in path)


def _format_path(document: object, path: KeyPath) -> str:
    text, node = "", document
    for part in path:
        if isinstance(node, list) and type(part) is int:
            text += f"[{part}]"
        elif isinstance(part, str) and _is_bare(part):
            text += f".{part}" if text else part
        else:
            text += f"[{show(part)}]"
        try:
            node = node[part]  # type: ignore[index]
        except (LookupError, TypeError):
            node = None
    return text


def _is_bare(key: str) -> bool:
    # A long key is quoted, and so clipped by show(): a path stays one short line.
    plain = (char.isascii() and (char.isalnum() or char in "_-") for char in key)
    return 0 < len(key) <= 60 and all(plain)


def show(value: object, depth: int = 0) -> str:
    """A short, safe, JSON-like rendering of any value for a message (long values truncated)."""
    if isinstance(value, str):
        quoted = json.dumps(_clip(value, 60), ensure_ascii=False)
        return _UNPRINTABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", quoted)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):  # str() of a 5000-digit int raises ValueError on Python 3.11+
        return str(value) if value.bit_length() < 100 else "<a huge integer>"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple, dict)):
        return _show_container(value, depth)
    return f"<{type(value).__name__}>"


def _show_container(value: list[Any] | tuple[Any, ...] | dict[Any, Any], depth: int) -> str:
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    if depth >= 2:
        return f"{opening}...{closing}"
    if isinstance(value, dict):
        pairs = itertools.islice(value.items(), 3)
        shown = [f"{show(key, depth + 1)}: {show(item, depth + 1)}" for key, item in pairs]
    else:
        shown = [show(item, depth + 1) for item in itertools.islice(value, 3)]
    more = ", ..." if len(value) > 3 else ""
    return f"{opening}{', '.join(shown)}{more}{closing}"


_KINDS: tuple[tuple[Any, str], ...] = (
    (bool, "boolean"),  # before int: bool is an int subclass
    ((int, float), "number"),
    (str, "string"),
    ((list, tuple), "a list"),
    (dict, "a mapping"),
)


def _describe(value: object) -> str:
    if value is None:
        return "null (an empty value)"
    for types, kind in _KINDS:
        if isinstance(value, types):
            return f"{kind} {show(value)}"
    return f"a {type(value).__name__} value"


def names(items: Sequence[str]) -> str:
    """Comma-separated names for a message, at most ten."""
    listed = ", ".join(_clip(str(item), 60) for item in items[:10])
    return listed + (f", ... ({len(items)} in all)" if len(items) > 10 else "")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
