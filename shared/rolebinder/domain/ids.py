"""One pattern per kind of id, for every reader of ids: events, configuration, CLI, mapping.

Written without anchors so JSON Schema (which searches) and `re.fullmatch` read them alike
once anchored (`anchored`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

INSTANCE_ID = r"i-[A-Za-z0-9]{1,64}"
# cn-hangzhou, ap-southeast-1, cn-shanghai-finance-1: 2-4 letters, then 1-5 dash-parts.
REGION = r"[a-z]{2,4}(-[a-z0-9]+){1,5}"
ACCOUNT_ID = r"[0-9]{1,32}"
VPC_ID = r"vpc-[a-z0-9]{1,64}"
RESOURCE_GROUP_ID = r"rg-[A-Za-z0-9]{1,64}"


def anchored(pattern: str) -> str:
    """The pattern as a whole-string JSON Schema `pattern`."""
    return f"^{pattern}$"


class Pattern:
    """A regex compiled at its first use (through re's own cache), not at import: a handler's
    cold start compiles only the patterns its event needs (docs/PERFORMANCE.md)."""

    __slots__ = ("flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags

    def fullmatch(self, text: str) -> re.Match[str] | None:
        return re.fullmatch(self.pattern, text, self.flags)

    def sub(self, replacement: Callable[[re.Match[str]], str] | str, text: str) -> str:
        return re.sub(self.pattern, replacement, text, flags=self.flags)


def matcher(pattern: str) -> Pattern:
    """The pattern, for `fullmatch`, compiled when first used."""
    return Pattern(pattern)
