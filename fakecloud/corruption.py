"""Malformed answers, for testing clients against a service that answers HTTP 200 badly.

Kinds: `not-json` (an HTML error page), `empty` (no body), `not-object` (a JSON array),
`missing` (delete the field at `path`), `wrong-type` (replace the field at `path` with a value
of another type). A `path` is dotted and may use `*` for every element of a list, e.g.
`Instances.Instance.*.InstanceId`.
"""

from __future__ import annotations

import copy
import json
from typing import Any

KINDS = ("not-json", "empty", "not-object", "missing", "wrong-type")


def corrupt(body: dict[str, Any], kind: str, path: str | None = None) -> bytes:
    """The bytes of `body` spoilt in the way `kind` says."""
    if kind == "not-json":
        return b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    if kind == "empty":
        return b""
    if kind == "not-object":
        return json.dumps([body]).encode()
    if kind not in ("missing", "wrong-type") or not path:
        raise ValueError(f"corruption {kind!r} needs one of {KINDS} and, for fields, a path")
    spoilt = copy.deepcopy(body)
    _visit(spoilt, path.split("."), kind)
    return json.dumps(spoilt).encode()


def _visit(node: Any, parts: list[str], kind: str) -> None:
    head, rest = parts[0], parts[1:]
    children = (range(len(node)) if isinstance(node, list) else []) if head == "*" else [head]
    for key in children:
        if isinstance(node, dict) and key not in node:
            continue
        if rest:
            _visit(node[key], rest, kind)
        elif kind == "missing":
            del node[key]
        else:
            node[key] = _other_type(node[key])


def _other_type(value: Any) -> Any:
    """A value of a different JSON type than `value`."""
    if isinstance(value, str):
        return 12345
    if isinstance(value, (list, dict)):
        return "not-a-container"
    return "not-a-number"
