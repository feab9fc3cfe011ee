"""Outcomes: one per instance per event, logged as one JSON line each, plus a summary line.

The field names are a contract: Log Service indexes and alerts use them. Pure: building and
rendering records does no I/O; `rolebinder.entrypoints.invocation` writes them.
"""

from __future__ import annotations

from rolebinder.domain import reasons
from rolebinder.domain.decision import Action, Decision
from rolebinder.mapping.model import AUDIT
from rolebinder.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    Protocol = object  # the ports are for type checkers: nothing checks them at run time

ATTACHED = "attached"
REPLACED = "replaced"
DETACHED = "detached"
UNCHANGED = "unchanged"
SKIPPED = "skipped"
FAILED = "failed"
IGNORED = "ignored"
OUTCOMES = (ATTACHED, REPLACED, DETACHED, UNCHANGED, SKIPPED, FAILED, IGNORED)

_BY_ACTION = {
    Action.ATTACH: ATTACHED,
    Action.REPLACE: REPLACED,
    Action.DETACH: DETACHED,
    Action.UNCHANGED: UNCHANGED,
    Action.SKIP: SKIPPED,
}


class Outcome(Value):
    """What happened (or, in a dry run, would happen) to one instance."""

    outcome: str
    reason: str
    instance_id: str | None = None
    region: str | None = None
    role: str | None = None
    previous_role: str | None = None
    rule: str | None = None
    event_id: str | None = None
    dry_run: bool = False
    error_code: str | None = None
    request_id: str | None = None
    detail: str = ""
    # Trying again later may succeed (throttling, 5xx, timeouts); the handler then raises so
    # Function Compute redelivers the event.
    retryable: bool = False
    mode: str = "enforce"  # audit: decided and logged, never written (dry_run is true)
    account_id: str | None = None  # the account of the instance (a hub serves several)

    def record(self) -> dict[str, Any]:
        """The JSON object of the outcome line."""
        record: dict[str, Any] = {
            "kind": "outcome",
            "outcome": self.outcome,
            "reason": self.reason,
            "instance_id": self.instance_id,
            "region": self.region,
            "role": self.role,
            "previous_role": self.previous_role,
            "rule": self.rule,
            "event_id": self.event_id,
            "dry_run": self.dry_run,
            "mode": self.mode,
        }
        if self.account_id is not None:
            record["account_id"] = self.account_id
        if self.error_code is not None:
            record["error_code"] = self.error_code
            record["request_id"] = self.request_id
        if self.outcome == FAILED:
            record["retryable"] = self.retryable
        if self.detail:
            record["detail"] = self.detail
        return record


def planned(
    decision: Decision, instance_id: str, region: str, event_id: str | None, dry_run: bool
) -> Outcome:
    """The outcome a decision leads to when its action succeeds (or would, in a dry run or in
    audit mode)."""
    audited = decision.mode == AUDIT
    return Outcome(
        outcome=_BY_ACTION[decision.action],
        reason=decision.reason,
        instance_id=instance_id,
        region=region,
        role=decision.role,
        previous_role=decision.previous_role,
        rule=decision.rule,
        event_id=event_id,
        dry_run=dry_run or audited,
        detail=decision.detail,
        mode=decision.mode,
    )


def failed(
    base: Outcome,
    reason: str,
    *,
    error_code: str | None = None,
    request_id: str | None = None,
    detail: str = "",
    retryable: bool = False,
) -> Outcome:
    """`base` turned into a failure."""
    return base._replace(
        outcome=FAILED,
        reason=reason,
        error_code=error_code,
        request_id=request_id,
        detail=detail or base.detail,
        retryable=retryable,
    )


class CallFailure(Protocol):
    """What a failed API call tells: a CloudError, or one item of a batch answer."""

    code: str
    message: str
    request_id: str | None
    transient: bool


def failed_call(base: Outcome, error: CallFailure) -> Outcome:
    """`base` turned into the failure an API call reported."""
    return failed(
        base,
        reasons.for_error_code(error.code),
        error_code=error.code,
        request_id=error.request_id,
        detail=error.message,
        retryable=error.transient,
    )
