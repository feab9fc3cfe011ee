"""Typed readers for event JSON, private to `rolebinder.intake.events`.

Every reader checks the type of what it reads and, when the value is unusable, raises
`EventError` naming the location (`data.content.resourceId`, `[2].responseElements`) and the
problem, so an operator can find the bad field in the delivered event without a debugger.
"""

from __future__ import annotations

import json
import re

from rolebinder.domain import ids
from rolebinder.errors import EventError
from rolebinder.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, NoReturn

JsonObject = dict[str, "Any"]  # a string: typing is imported only by type checkers

# One event naming more instances than this is not something the cloud sends; refuse it
# rather than fan out thousands of API reads. Each API call record is held to its own
# documented limit below this (RunInstances: 100, the tag APIs: 50).
MAX_IDS = 1000
# Event ids and other labels that are only ever logged: a real one is a UUID (36 characters).
# The cap keeps a forged 50,000-character id from being copied into every outcome line.
MAX_LABEL = 128

_INSTANCE_ID = ids.matcher(ids.INSTANCE_ID)
_REGION = ids.matcher(ids.REGION)
# The longest region id (cn-shanghai-finance-1) has 21 characters. The bound matters: the engine
# builds an SDK client for each region it is given, and a warm container keeps them all.
_REGION_LIMIT = 64
_ACCOUNT = ids.matcher(ids.ACCOUNT_ID)
# Events write `acs:ecs:<region>:<uid>:instance/<id>`; the Tag service writes the same with an
# `arn:` prefix and may use `*` for region and account. DOTALL so a newline cannot hide.
_ARN = ids.Pattern(r"(?:arn:)?acs:([^:]*):[^:]*:[^:]*:([^/:]+)/(.*)", re.DOTALL)
_SHOW_LIMIT = 80
# What cannot go on one log line as it is: C0/C1 controls, line and paragraph separators, and
# lone surrogates, which JSON escapes (\ud800) can produce but UTF-8 cannot encode.
_UNPRINTABLE = ids.Pattern(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def fail(path: str, problem: str) -> NoReturn:
    """Raise the EventError for `problem` at `path` (the whole event when `path` is empty)."""
    raise EventError(f"{path or 'event'}: {problem}")


def item(path: str, index: int) -> str:
    """Location of element `index` of the array at `path`."""
    return f"{path}[{index}]"


def kind(value: object) -> str:
    """JSON-ish name of a value's type, for error messages."""
    if value is None:
        return "null"
    return "object" if isinstance(value, dict) else type(value).__name__


def show(value: object) -> str:
    """Short, safe rendering of a seen value for messages (strings quoted, others by type)."""
    if not isinstance(value, str):
        return kind(value)
    text = repr(value)
    return text if len(text) <= _SHOW_LIMIT else text[: _SHOW_LIMIT - 3] + "..."


def printable(text: str, limit: int = 0) -> str:
    """`text` with unprintable characters escaped (`\\n`, `\\ud800`), cut at `limit` if given.

    For what an event says that is only ever logged: ids, names and keys.
    """
    escaped = _UNPRINTABLE.sub(_escape, text[:limit] if limit else text)
    return escaped[:limit] if limit else escaped


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode()


def loads(text: str, path: str) -> object:
    """Decode JSON text, turning every way json.loads can fail into an EventError."""
    label = path or "event"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        raise EventError(f"{label} is not valid JSON: {where}") from exc
    except RecursionError as exc:
        raise EventError(f"{label} is not valid JSON: nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise EventError(f"{label} is not valid JSON: {exc}") from exc


def decode(raw: object, max_bytes: int) -> object:
    """The JSON value of a delivery given as bytes, str or already-parsed dict/list."""
    if isinstance(raw, (dict, list)):
        return raw
    if isinstance(raw, str):
        if len(raw) > max_bytes:  # cheap first: every character is at least one byte
            fail("", f"more than the {max_bytes} bytes accepted")
        try:  # the limit is on bytes, as FC delivers them
            raw = raw.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates: not text any producer sends
            raise EventError(f"event is not UTF-8 ({exc.reason} at character {exc.start})") from exc
    if not isinstance(raw, (bytes, bytearray)):
        fail("", f"expected bytes, str or parsed JSON, got {type(raw).__name__}")
    if len(raw) > max_bytes:
        fail("", f"{len(raw)} bytes, more than the {max_bytes} accepted")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventError(f"event is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    return loads(text, "")


def region(value: object, path: str) -> str:
    """A region id such as `cn-hangzhou`; anything else is an error at `path`."""
    if not isinstance(value, str) or len(value) > _REGION_LIMIT or not _REGION.fullmatch(value):
        fail(path, f"invalid region {show(value)}")
    return value


def account_id(value: object, path: str) -> str:
    """An account id (ASCII digits); anything else is an error at `path`."""
    if not isinstance(value, str) or not _ACCOUNT.fullmatch(value):
        fail(path, f"invalid account id {show(value)}")
    return value


def parse_arn(text: str) -> tuple[str, str, str] | None:
    """(service, resource type, resource id) of an `acs:` ARN, or None if `text` is not one."""
    match = _ARN.fullmatch(text)
    if match is None:
        return None
    return match.group(1).casefold(), match.group(2).casefold(), match.group(3)


def instance_id(value: object, path: str) -> str:
    """A valid instance id, given bare or as an ECS instance ARN."""
    if not isinstance(value, str):
        fail(path, f"expected an instance id string, got {kind(value)}")
    candidate = value
    arn = parse_arn(value)
    if arn is not None:
        if arn[:2] != ("ecs", "instance"):
            fail(path, f"{show(value)} is not an ECS instance ARN")
        candidate = arn[2]
    if not _INSTANCE_ID.fullmatch(candidate):
        fail(path, f"invalid instance id {show(value)}")
    return candidate


def check_count(count: int, path: str, limit: int = MAX_IDS) -> None:
    """Refuse more than `limit` ids in one event (what the API the event records accepts)."""
    if count > limit:
        fail(path, f"{count} ids, more than the {limit} one event may name")


class Fields(Value):
    """A JSON object and its location in the event; each reader names that location on error."""

    obj: JsonObject
    path: str = ""

    def at(self, key: str) -> str:
        """Location of `key` in this object."""
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        """Whether `key` is present (even as null)."""
        return key in self.obj

    def require(self, key: str) -> object:
        """The value under `key`, which must be present."""
        if key not in self.obj:
            fail(self.at(key), "missing")
        return self.obj[key]

    def text(self, key: str) -> str:
        """A required string."""
        value = self.require(key)
        if not isinstance(value, str):
            fail(self.at(key), f"expected a string, got {kind(value)}")
        return value

    def opt_text(self, key: str) -> str | None:
        """An optional string; absent and null both read as None."""
        return None if self.obj.get(key) is None else self.text(key)

    def opt_label(self, key: str) -> str | None:
        """An optional string that is only ever logged (an event id), made printable."""
        value = self.opt_text(key)
        return None if value is None else printable(value, MAX_LABEL)

    def opt_region(self, key: str) -> str | None:
        """An optional region id."""
        value = self.opt_text(key)
        return None if value is None else region(value, self.at(key))

    def opt_account(self, key: str) -> str | None:
        """An optional Alibaba Cloud account id (ASCII digits only)."""
        value = self.opt_text(key)
        if value is not None and not _ACCOUNT.fullmatch(value):
            fail(self.at(key), f"invalid account id {show(value)}")
        return value

    def child(self, key: str) -> Fields:
        """A required object, which some producers send JSON-encoded as a string."""
        value = self.require(key)
        if isinstance(value, str):
            value = loads(value, self.at(key))
        if not isinstance(value, dict):
            fail(self.at(key), f"expected an object or a JSON string of one, got {kind(value)}")
        return Fields(value, self.at(key))

    def opt_child(self, key: str) -> Fields | None:
        """Like `child`, but absent and null read as None."""
        return None if self.obj.get(key) is None else self.child(key)

    def instance_id(self, key: str) -> str:
        """A required instance id (bare or ARN)."""
        return instance_id(self.require(key), self.at(key))

    def id_list(self, key: str, limit: int = MAX_IDS) -> list[str]:
        """A required, non-empty list of instance ids, at most `limit` long."""
        value, path = self.require(key), self.at(key)
        if not isinstance(value, list):
            fail(path, f"expected a list of instance ids, got {kind(value)}")
        if not value:
            fail(path, "expected at least one instance id, got an empty list")
        check_count(len(value), path, limit)
        return [instance_id(entry, item(path, index)) for index, entry in enumerate(value)]

    def repeated(self, name: str, limit: int = MAX_IDS) -> list[tuple[str, object]]:
        """(location, value) of a repeated parameter: `name` as a list or value, then `name.N`.

        ActionTrail records request parameters the way the RPC API takes them, flattened as
        `ResourceId.1`, `ResourceId.2`, ...; some producers keep a list. Both are read.
        """
        whole = self.obj.get(name)
        found: list[tuple[str, object]] = []
        if isinstance(whole, list):
            found += [(item(self.at(name), i), value) for i, value in enumerate(whole)]
        elif whole is not None:
            found.append((self.at(name), whole))
        numbered = re.compile(re.escape(name) + r"\.([0-9]+)")
        indexed = []
        for key in self.obj:
            match = numbered.fullmatch(key) if isinstance(key, str) else None
            if match is not None:
                indexed.append((_numeric(match.group(1)), key))
        found += [(self.at(key), self.obj[key]) for _, key in sorted(indexed)]
        check_count(len(found), self.at(name), limit)
        return found


def _numeric(digits: str) -> tuple[int, str]:
    # Sort key for a decimal index without int(): a huge index would hit Python's digit limit.
    significant = digits.lstrip("0")
    return len(significant), significant
