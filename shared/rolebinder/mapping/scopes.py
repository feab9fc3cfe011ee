"""The scopes a rule may name in `when`, declared once.

A scope confines a rule to instances whose attribute is one of the listed ids. The schema
(`rolebinder.mapping.schema`), the rule model and its conflict check
(`rolebinder.mapping.model`), the decision and `rolebinder explain`
(`rolebinder.domain.decision`) and the fuzz suite all read this table: adding a scope is one
entry here, plus the Instance attribute it reads when that is new.
"""

from __future__ import annotations

from rolebinder.domain import ids
from rolebinder.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any


class Scope(Value):
    """One scope: its key in `when`, the Instance attribute it reads, its ids' pattern."""

    key: str
    attribute: str
    noun: str  # how a miss is told: "region cn-beijing is not in the rule's scope"
    pattern: str
    example: str

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of this scope's list in `when`."""
        return {
            "description": f"{self.noun[0].upper()}{self.noun[1:]} ids the instance must be "
            f"in, e.g. {self.example}.",
            "$ref": "#/$defs/idList",
            "items": {
                "description": f"A {self.noun} id such as {self.example}.",
                "type": "string",
                "pattern": ids.anchored(self.pattern),
                "errorMessage": {"pattern": f"is not a {self.noun} id (like {self.example})"},
            },
        }


_RG = "rg-acfmabc"
SCOPES: tuple[Scope, ...] = (
    Scope("account_ids", "account_id", "account", ids.ACCOUNT_ID, "1234567890123456"),
    Scope("regions", "region", "region", ids.REGION, "cn-hangzhou"),
    Scope("vpc_ids", "vpc_id", "VPC", ids.VPC_ID, "vpc-bp1abc"),
    Scope(
        "resource_group_ids",
        "resource_group_id",
        "resource group",
        ids.RESOURCE_GROUP_ID,
        "rg-acfmabc",
    ),
)
SCOPE_KEYS = tuple(scope.key for scope in SCOPES)


def when_schema(when: dict[str, Any]) -> dict[str, Any]:
    """`when`'s JSON Schema with every scope's list added, and the message naming them all."""
    conditions = ", ".join(("tags", *SCOPE_KEYS[:-1])) + f" or {SCOPE_KEYS[-1]}"
    return {
        **when,
        "errorMessage": {"minProperties": f"needs at least one condition: {conditions}"},
        "properties": {**when["properties"], **{s.key: s.schema() for s in SCOPES}},
    }
