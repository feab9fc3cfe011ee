"""Strategies that bend real documents, shared by the event and the mapping fuzz tests.

Most examples start from something real (a sample event, an example mapping) and change a few
things, so they get past a parser's first check and reach the later ones: fields deleted,
replaced by odd values or by the wrong type, swapped, renamed, JSON-encoded or decoded, strings
bent at the character level. Wrong-typed values, odd unicode and raw-byte damage are here too.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

KeyPath = tuple[Any, ...]
Draw = Callable[[st.SearchStrategy[Any]], Any]

# Characters that break naive text handling: controls and NUL, line and paragraph separators,
# bidi controls, zero-width and BOM, non-characters, lone surrogates (valid in JSON escapes and
# Python strings, not in UTF-8), combining marks, emoji sequences, and look-alikes of the ASCII
# that ids are made of (unicode digits, fullwidth, Cyrillic and dotless i, long s, Kelvin sign).
ODD_CHARS: tuple[str, ...] = (
    "\x00",
    "\t",
    "\n",
    "\r",
    "\x0b",
    "\x1b",
    "\x7f",
    "\x85",
    "\xa0",
    "\u2028",
    "\u2029",
    "\u200b",
    "\u200d",
    "\u200e",
    "\u200f",
    "\u202e",
    "\u2066",
    "\ufeff",
    "\ufffe",
    "\uffff",
    "\ud800",
    "\udbff",
    "\udc00",
    "\udfff",
    "\udc80",
    "\u0301",
    "e\u0301",
    "Z\u0336\u0335\u0334\u0337",
    "\U0001f600",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "\U0001f1e8\U0001f1f3",
    "\U0010ffff",
    "\u0661\u0662\u0663",
    "\uff10\uff11",
    "\U0001d7ce",
    "\u00b2",
    "\u216b",
    "\uff49",
    "\u0456",
    "\u0131",
    "\u0130",
    "\u017f",
    "\u212a",
    "\u00df",
    "\ufb01",
    "\u2010",
    "\u2212",
    "\\",
    '"',
    "'",
    "%",
    "*",
    "&",
    "{",
    "[",
    ":",
    "/",
    "#",
    " ",
)
odd_chars = st.sampled_from(ODD_CHARS)
odd_text = st.lists(odd_chars | st.text(max_size=4), max_size=6).map("".join)

# Numbers that are not what a field expects: huge, negative, fractional, not finite.
odd_numbers = (
    st.integers(-(2**70), 2**70)
    | st.sampled_from([0, -1, 1, 2**63, 10**100, 1_000_001, -1_000_001])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1.0, 100.0, 0.5, -0.0, 1e300])
)
odd_scalars = st.none() | st.booleans() | odd_numbers | odd_text | st.text(max_size=12)
# Wrong types, cheap to draw: what a careless producer puts where a string or an object belongs.
WRONG: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1.5,
    float("nan"),
    float("inf"),
    10**30,
    "",
    "1",
    "null",
    [],
    {},
    [None],
    [[]],
    [["x"]],
    [[["x"]]],
    ["x", 1],
    {"": None},
    {"a": []},
    [{}],
)
wrong_values = st.sampled_from(WRONG).map(copy.deepcopy)  # mutations work in place


def json_values(keys: Sequence[str], leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Any JSON-shaped value, object keys often drawn from `keys` (names the parser looks for)."""
    key = st.sampled_from(keys) | st.text(max_size=8) | odd_text
    return st.recursive(
        leaves | odd_scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(key, inner, max_size=4),
        max_leaves=10,
    )


# --- paths into a document ------------------------------------------------------------------------


def paths(document: Any) -> list[KeyPath]:
    """Every path in `document`, the root `()` first."""
    found: list[KeyPath] = []
    stack: list[tuple[KeyPath, Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        found.append(path)
        if isinstance(value, dict):
            stack.extend(((*path, key), child) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend(((*path, index), child) for index, child in enumerate(value))
    return found


def get(document: Any, path: KeyPath) -> Any:
    for part in path:
        document = document[part]
    return document


def put(document: Any, path: KeyPath, value: Any) -> Any:
    """`document` with the value at `path` replaced (in place unless `path` is the root)."""
    if not path:
        return value
    get(document, path[:-1])[path[-1]] = value
    return document


def pick(draw: Draw, options: Sequence[Any]) -> Any:
    """One of `options` (cheaper than a new sampled_from strategy for every draw)."""
    return options[draw(st.integers(0, len(options) - 1))]


def _independent(one: KeyPath, other: KeyPath) -> bool:
    shorter = min(len(one), len(other))
    return one[:shorter] != other[:shorter]


# --- mutations ------------------------------------------------------------------------------------

Bend = Callable[[Draw, str, int], str]
_BENDS: dict[str, Bend] = {
    "insert": lambda draw, text, cut: text[:cut] + draw(odd_chars) + text[cut:],
    "delete": lambda draw, text, cut: text[:cut] + text[cut + draw(st.integers(1, 3)) :],
    "truncate": lambda draw, text, cut: text[:cut],
    "swapcase": lambda draw, text, cut: text.swapcase(),
    # Long strings; the huge ones have their own tests.
    "repeat": lambda draw, text, cut: (
        text * pick(draw, (2, 3, 10, 1000) if len(text) <= 64 else (2, 3))
    ),
    # Unicode digits where ASCII ones were: str.isdigit() and int() accept them, a regex may not.
    "digits": lambda draw, text, cut: text.translate(_UNICODE_DIGITS),
    "pad": lambda draw, text, cut: pick(draw, (" ", "\t", "\n", "\u00a0", "\ufeff")) + text,
    "replace": lambda draw, text, cut: draw(odd_text),
}
_UNICODE_DIGITS = str.maketrans(
    "0123456789", "\u0660\u0661\u0662\u0663\u0664\uff15\uff16\uff17\uff18\uff19"
)


def bent_text(draw: Draw, text: str) -> str:
    """`text` bent at the character level: odd characters in, characters out, case, repeats."""
    bend = _BENDS[pick(draw, tuple(_BENDS))]
    return bend(draw, text, draw(st.integers(0, len(text))))


def retyped(draw: Draw, value: Any) -> Any:
    """The same information in the wrong type: numbers as text, text in a list, and so on."""
    if isinstance(value, bool):
        return pick(draw, [int(value), str(value).lower(), [value], None])
    if isinstance(value, (int, float)):
        return pick(draw, [str(value), [value], {"value": value}, bool(value), None])
    if isinstance(value, str):
        options: list[Any] = [[value], [[value]], {"value": value}, None, True, len(value)]
        if value.lstrip("-").isdigit():
            options.append(int(value))
        return pick(draw, options)
    if isinstance(value, list):
        return pick(draw, [value[0] if value else None, {"0": value}, "", 0])
    if isinstance(value, dict):
        return pick(draw, [[value], list(value), list(value.values()), "", 0, None])
    return pick(draw, ["", 0, [], {}])


def mutate(draw: Draw, document: Any, keys: Sequence[str], values: st.SearchStrategy[Any]) -> Any:
    """`document` with one mutation applied at a random path."""
    found = paths(document)
    where = pick(draw, found)
    current = get(document, where)
    change = pick(draw, _CHANGES)
    if change == "delete" and where:
        del get(document, where[:-1])[where[-1]]
        return document
    if change == "swap":
        other = pick(draw, found)
        if _independent(where, other):
            theirs = get(document, other)
            put(document, other, current)
            put(document, where, theirs)
        return document
    if change == "rename" and where and isinstance(where[-1], str):
        new_key = pick(draw, keys) if draw(st.booleans()) else bent_text(draw, where[-1])
        parent = get(document, where[:-1])
        items = list(parent.items())
        parent.clear()
        parent.update((new_key if key == where[-1] else key, value) for key, value in items)
        return document
    if change == "insert" and isinstance(current, (dict, list)):
        if isinstance(current, dict):
            current[pick(draw, keys)] = copy.deepcopy(draw(values))
        else:
            current.insert(draw(st.integers(0, len(current))), copy.deepcopy(draw(values)))
        return document
    return put(document, where, _changed(draw, change, current, values))


_CHANGES = ("delete", "replace", "retype", "swap", "rename", "insert", "encode", "decode", "bend")


def _changed(draw: Draw, change: str, current: Any, values: st.SearchStrategy[Any]) -> Any:
    if change == "retype":
        return retyped(draw, current)
    if change == "encode":  # producers do send sub-objects as JSON strings
        return json.dumps(current, ensure_ascii=draw(st.booleans()))
    if change == "decode" and isinstance(current, str):
        return _decoded(current)
    if change == "bend" and isinstance(current, str):
        return bent_text(draw, current)
    if change == "bend" and isinstance(current, list):  # copies: no shared or cyclic parts
        return [copy.deepcopy(item) for item in current * pick(draw, (2, 10))]
    return copy.deepcopy(draw(values))


def _decoded(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


@st.composite
def mutants(
    draw: Draw,
    bases: st.SearchStrategy[Any],
    keys: Sequence[str],
    values: st.SearchStrategy[Any],
    steps: tuple[int, int] = (1, 4),
) -> Any:
    """A deep copy of a base document with `steps` random mutations applied."""
    document = copy.deepcopy(draw(bases))
    for _ in range(draw(st.integers(*steps))):
        document = mutate(draw, document, keys, values)
    return document


# --- raw text and bytes ---------------------------------------------------------------------------

# Bytes that are not UTF-8: a lone continuation byte, a truncated sequence, an overlong slash, a
# UTF-8-encoded surrogate (CESU), bytes never valid in UTF-8, and a UTF-16 BOM.
BAD_BYTES = (b"\x80", b"\xc3", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80", b"\xff", b"\xfe\xff")


Damage = Callable[[Draw, bytes, int], bytes]
_DAMAGES: dict[str, Damage] = {
    "truncate": lambda draw, data, cut: data[:cut],  # possibly inside a multi-byte character
    "bad": lambda draw, data, cut: data[:cut] + pick(draw, BAD_BYTES) + data[cut:],
    "bom": lambda draw, data, cut: b"\xef\xbb\xbf" * draw(st.integers(1, 2)) + data,
    "flip": lambda draw, data, cut: (
        data[:cut] + bytes([draw(st.integers(0, 255))]) + data[cut + 1 :]
    ),
    "nul": lambda draw, data, cut: data[:cut] + b"\x00" + data[cut:],
    "drop": lambda draw, data, cut: data[:cut] + data[cut + draw(st.integers(1, 16)) :],
    "recode": lambda draw, data, cut: data.decode("utf-8", "replace").encode(
        pick(draw, ("utf-16", "utf-16-le", "latin-1", "utf-32")), "replace"
    ),
}


@st.composite
def damaged_bytes(draw: Draw, data: bytes) -> bytes:
    """`data` damaged the way transports and editors damage files."""
    damage = _DAMAGES[pick(draw, tuple(_DAMAGES))]
    return damage(draw, data, draw(st.integers(0, len(data))))
