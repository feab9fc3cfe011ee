"""The reason vocabulary of outcome lines. Stable: Log Service queries and alerts key on it."""

from __future__ import annotations

# A rule matched and the instance got (or would get) its role.
RULE_MATCHED = "rule-matched"
# The instance already has exactly the desired role.
ALREADY_BOUND = "already-bound"
# Classic-network instances cannot have an instance RAM role.
CLASSIC_NETWORK = "classic-network"
# No rule matched (kept as is, or detached when `on_no_match: detach`).
NO_MATCHING_RULE = "no-matching-rule"
# The winning rules resolve to different roles: nothing changes.
CONFLICTING_RULES = "conflicting-rules"
# The instance has another role, and policy or the allow-list says keep it.
EXISTING_ROLE_KEPT = "existing-role-kept"
# A tag names a role outside the mapping's allow-list or its rule's allowed_roles.
ROLE_NOT_ALLOWED = "role-not-allowed"
# The bound role is allow-listed but rolebinder did not bind it (no marker): left alone.
NOT_OWNED = "not-owned"
# rolebinder's marker names another role than the bound one: someone else changed it; no fight.
CONTESTED = "contested"
# rolebinder changed this instance limits.max_flips times within limits.flip_window: left alone.
FLAPPING = "flapping"
# The run planned more writes than limits.max_changes / max_detaches: nothing was written.
CIRCUIT_OPEN = "circuit-open"
# RAM says the role does not exist.
ROLE_NOT_FOUND = "role-not-found"
# The role's trust policy does not name ecs.aliyuncs.com.
ROLE_NOT_TRUSTED = "role-not-trusted"
# The instance does not exist (deleted, or never visible within the wait).
INSTANCE_NOT_FOUND = "instance-not-found"
# The event came from an account other than the function's own.
FOREIGN_ACCOUNT = "foreign-account"
# The event names a region outside ROLEBINDER_REGIONS (where this deployment may act).
FOREIGN_REGION = "foreign-region"
# The event changed only rolebinder's own reserved tags (its marker writes): nothing to read.
MARKER_ONLY = "marker-only"
# An API call failed (see error_code / request_id on the line).
API_ERROR = "api-error"
# The cloud refused the caller the permission it needs (PassRole, RAM action).
PERMISSION_DENIED = "permission-denied"
# A hub could not assume the member account's role (missing, or not trusting the hub): that
# member's instances fail, the other members go on.
ASSUME_ROLE_DENIED = "assume-role-denied"

# Reasons for ignored events (no instance was looked at).
UNSUPPORTED_EVENT = "unsupported-event"
IRRELEVANT_STATE = "irrelevant-state"
FAILED_API_CALL = "failed-api-call"
UNSUPPORTED_API_CALL = "unsupported-api-call"
NOT_AN_INSTANCE = "not-an-instance"
# One element of a batch delivery could not be parsed (the rest were processed).
MALFORMED_EVENT = "malformed-event"

# Warning lines (`"kind": "warning"`), for Log Service alerts.
WARNING_EMPTY_SWEEP = "empty-sweep"
WARNING_CONTESTED = CONTESTED
WARNING_REGION_REFUSED = "region-refused"
WARNING_FLAPPING = FLAPPING
WARNING_CIRCUIT_OPEN = CIRCUIT_OPEN
# A timer payload named accounts this hub does not serve: not swept.
WARNING_ACCOUNT_REFUSED = "account-refused"

# Error lines (`"kind": "error"`) that are not one event's parse error.
ERROR_DELIVERY_TOO_LARGE = "delivery-too-large"
# A hub could not queue one account's sweep (FC InvokeFunction refused): the next timer repairs.
ERROR_FANOUT_FAILED = "fanout-failed"
# A hub could not list its members from Resource Directory: only its own account was served.
ERROR_MEMBERS_UNAVAILABLE = "members-unavailable"
WARNING_CODES = (
    WARNING_EMPTY_SWEEP,
    WARNING_CONTESTED,
    WARNING_CIRCUIT_OPEN,
    WARNING_FLAPPING,
    WARNING_REGION_REFUSED,
    WARNING_ACCOUNT_REFUSED,
)

# Cloud error codes that say something specific about the instance or the role.
_BY_ERROR_CODE = {
    "InvalidRamRole.NotFound": ROLE_NOT_FOUND,
    "EntityNotExist.Role": ROLE_NOT_FOUND,
    "InvalidRamRole.NotEcsRole": ROLE_NOT_TRUSTED,
    "InvalidUser.PassRoleForbidden": PERMISSION_DENIED,
    "Forbidden.RAM": PERMISSION_DENIED,
    "Forbidden.Unauthorized": PERMISSION_DENIED,
    "NoPermission": PERMISSION_DENIED,
    "InvalidInstanceId.NotFound": INSTANCE_NOT_FOUND,
    "InvalidNetworkType.MismatchRamRole": CLASSIC_NETWORK,
}
# Errors that concern the role or the caller, so every instance of the call shares them.
CALL_LEVEL_CODES = frozenset(
    code
    for code, reason in _BY_ERROR_CODE.items()
    if reason in (ROLE_NOT_FOUND, ROLE_NOT_TRUSTED, PERMISSION_DENIED)
)


def for_error_code(code: str) -> str:
    """The outcome reason for a cloud error code (`api-error` when nothing more specific fits)."""
    return _BY_ERROR_CODE.get(code, API_ERROR)
