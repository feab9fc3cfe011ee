"""One pattern per kind of id, for every reader of ids: events, configuration, CLI, mapping.

Written without anchors so JSON Schema (which searches) and `re.fullmatch` read them alike
once anchored (`anchored`).
"""

from __future__ import annotations

import re

INSTANCE_ID = r"i-[A-Za-z0-9]{1,64}"
# cn-hangzhou, ap-southeast-1, cn-shanghai-finance-1: 2-4 letters, then 1-5 dash-parts.
REGION = r"[a-z]{2,4}(-[a-z0-9]+){1,5}"
ACCOUNT_ID = r"[0-9]{1,32}"
VPC_ID = r"vpc-[a-z0-9]{1,64}"
RESOURCE_GROUP_ID = r"rg-[A-Za-z0-9]{1,64}"


def anchored(pattern: str) -> str:
    """The pattern as a whole-string JSON Schema `pattern`."""
    return f"^{pattern}$"


def matcher(pattern: str) -> re.Pattern[str]:
    """The compiled pattern, for `fullmatch`."""
    return re.compile(pattern)
