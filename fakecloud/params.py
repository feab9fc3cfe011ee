"""Reading RPC parameters the way the services do: strings in, typed values out, real error codes.

Every value arrives as a string in the query (the SDK `str()`s everything). Lists arrive either
as a JSON array string (`InstanceIds=["i-a","i-b"]`) or flattened (`Tag.1.Key`, `ResourceId.2`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from fakecloud.errors import ApiError, invalid_parameter, missing_parameter

_FLAT_INDEX = re.compile(
    r"^(?P<name>[A-Za-z]+)\.(?P<n>[1-9][0-9]{0,3})(?:\.(?P<field>[A-Za-z]+))?$"
)


class Params:
    """The parameters of one call, with typed readers that raise the documented errors."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self.raw = dict(raw)

    def get(self, name: str) -> str | None:
        value = self.raw.get(name)
        return value if value not in (None, "") else None

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise missing_parameter(name)
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid_parameter(name, f"{raw!r} is not an integer.") from None
        if not low <= value <= high:
            raise invalid_parameter(name, f"must be between {low} and {high}.")
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        raw = self.get(name)
        if raw is None:
            return default
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise invalid_parameter(name, f"{raw!r} is not a boolean.")

    def json_list(self, name: str, malformed_code: str) -> list[str] | None:
        """A JSON array of strings such as `InstanceIds`; `malformed_code` is the API's own code."""
        raw = self.get(name)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ApiError(malformed_code, f"The specified {name} are not valid.")
        return value

    def flat_list(self, name: str) -> list[str]:
        """`Name.1`, `Name.2`, ... in index order."""
        return [value for _, value in sorted(self._flat(name, None).items())]

    def flat_pairs(
        self, name: str, first: str = "Key", second: str = "Value"
    ) -> list[tuple[str, str]]:
        """`Tag.N.Key` / `Tag.N.Value` pairs in index order; a value may be empty, a key may not."""
        keys = self._flat(name, first)
        values = self._flat(name, second)
        for n in values:
            if n not in keys:
                raise ApiError(f"InvalidParameter.{name}{first}", f"{name}.{n}.{first} is missing.")
        return [(keys[n], values.get(n, "")) for n in sorted(keys)]

    def _flat(self, name: str, field: str | None) -> dict[int, str]:
        found: dict[int, str] = {}
        for key, value in self.raw.items():
            match = _FLAT_INDEX.match(key)
            wanted = match and match["name"] == name and match["field"] == field
            if wanted and (field is not None or value != ""):
                found[int(match["n"])] = value
        return found
