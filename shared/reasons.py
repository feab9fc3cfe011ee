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
# A tag names a role outside the mapping's allow-list.
ROLE_NOT_ALLOWED = "role-not-allowed"
# RAM says the role does not exist.
ROLE_NOT_FOUND = "role-not-found"
# The role's trust policy does not name ecs.aliyuncs.com.
ROLE_NOT_TRUSTED = "role-not-trusted"
# The instance does not exist (deleted, or never visible within the wait).
INSTANCE_NOT_FOUND = "instance-not-found"
# The event came from an account other than the function's own.
FOREIGN_ACCOUNT = "foreign-account"
# An API call failed (see error_code / request_id on the line).
API_ERROR = "api-error"
# The cloud refused the caller the permission it needs (PassRole, RAM action).
PERMISSION_DENIED = "permission-denied"

# Reasons for ignored events (no instance was looked at).
UNSUPPORTED_EVENT = "unsupported-event"
IRRELEVANT_STATE = "irrelevant-state"
FAILED_API_CALL = "failed-api-call"
UNSUPPORTED_API_CALL = "unsupported-api-call"
NOT_AN_INSTANCE = "not-an-instance"
# One element of a batch delivery could not be parsed (the rest were processed).
MALFORMED_EVENT = "malformed-event"

# Safety model v2 and governance (reserved here so Log Service queries can name them now).
# The instance's current role was not assigned by rolebinder (no ownership marker tag).
NOT_OWNED = "not-owned"
# Another writer keeps changing the instance's role: rolebinder backs off.
CONTESTED = "contested"
# The instance is in a region outside ROLEBINDER_REGIONS.
FOREIGN_REGION = "foreign-region"
# The instance's desired role keeps changing: rolebinder holds still.
FLAPPING = "flapping"

# Warning codes: the `warning` field of `"kind": "warning"` lines; Log Service alerts key on them.
# A sweep saw no instance at all (also what a role without ecs:DescribeInstances sees).
WARNING_EMPTY_SWEEP = "empty-sweep"
# Instances are contested by another writer.
WARNING_CONTESTED = CONTESTED
# The circuit breaker stopped writes.
WARNING_CIRCUIT_OPEN = "circuit-open"
# Instances are flapping between roles.
WARNING_FLAPPING = FLAPPING
WARNING_CODES = (WARNING_EMPTY_SWEEP, WARNING_CONTESTED, WARNING_CIRCUIT_OPEN, WARNING_FLAPPING)

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
