"""STS 2015-04-01 `AssumeRole`: temporary credentials for a RAM role, possibly in another account.

Documented behaviour (docs/research/multi-account.md section 1): RoleArn
`acs:ram::<id>:role/<name>`; RoleSessionName 2-64 of `[A-Za-z0-9.@_-]`; DurationSeconds 900 to
the role's MaxSessionDuration, default 3600; an optional session Policy of at most 2048
characters that narrows the role's policy; root accounts may not assume roles; the caller
needs `sts:AssumeRole` on the role, and the role's trust policy must name the caller's account
(`acs:ram::<id>:root`) or the caller itself. The key expires at `Expiration` by the fake's clock.

Choices where the docs are silent, marked below: the order of the checks (parameters, then the
caller, then the role, then its trust, then the duration against the role), the random parts of
the credentials, and the `AssumedRoleUser` values.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fakecloud.auth import KeyPair, Principal
from fakecloud.clock import iso_seconds
from fakecloud.errors import ApiError
from fakecloud.params import Params
from fakecloud.policy import Policy, RolePermissions
from fakecloud.ram import Role

VERSION = "2015-04-01"
ROLE_ARN = re.compile(r"^acs:ram::(?P<account>[0-9]{1,32}):role/(?P<name>[A-Za-z0-9.@-]{1,64})$")
SESSION_NAME = re.compile(r"^[A-Za-z0-9.@_-]{2,64}$")
MIN_DURATION, DEFAULT_DURATION = 900, 3600
MAX_POLICY = 2048
_NOT_AUTHORIZED = "You are not authorized to do this action. You should be authorized by RAM."
_ALNUM = string.ascii_letters + string.digits


@dataclass
class StsCall:
    """One AssumeRole call: the caller's key, its parameters, and what the cloud lends it."""

    caller: KeyPair
    params: Params
    find_role: Callable[[str, str], Role | None]  # (account id, role name) -> the role
    now: float  # the fake's clock
    issue: Callable[[KeyPair], None]  # registers the new credential with the authenticator


def assume_role(call: StsCall) -> dict[str, Any]:
    """Check the request as STS does, then issue and register a role-session key."""
    p = call.params
    account_id, role_name = _role_arn(p.require("RoleArn"))
    session_name = p.require("RoleSessionName")
    if not SESSION_NAME.match(session_name):
        raise _invalid("RoleSessionName", "The parameter RoleSessionName is wrongly formed.")
    duration = _duration(p.get("DurationSeconds"))
    session_policy = _session_policy(p.get("Policy"))
    _check_caller(call.caller, account_id, role_name)
    role = call.find_role(account_id, role_name)
    if role is None:
        raise ApiError("EntityNotExist.Role", "The specified Role not exists .", 404)
    caller = call.caller
    if not role.trusts_ram((f"acs:ram::{caller.account_id}:root", _caller_arn(caller))):
        raise ApiError("NoPermission", _NOT_AUTHORIZED, 403)
    if duration > role.max_session_duration:
        raise _duration_error()
    key = _new_key(call, role, session_policy, call.now + duration)
    call.issue(key)
    return _answer(role, session_name, key, iso_seconds(call.now + duration))


def _role_arn(raw: str) -> tuple[str, str]:
    match = ROLE_ARN.match(raw)
    if match is None:
        raise _invalid("RoleArn", "The parameter RoleArn is wrongly formed.")
    return match["account"], match["name"]


def _duration(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_DURATION
    try:
        value = int(raw)
    except ValueError:
        raise _duration_error() from None
    if value < MIN_DURATION:
        raise _duration_error()
    return value  # the upper bound is the role's MaxSessionDuration, checked once it is known


def _duration_error() -> ApiError:
    # J24's message still says 1 hour, though the bound is now MaxSessionDuration.
    return _invalid("DurationSeconds", "The Min/Max value of DurationSeconds is 15min/1hr.")


def _session_policy(raw: str | None) -> Policy | None:
    if raw is None:
        return None
    if len(raw) > MAX_POLICY:  # counted in characters (our choice; J24 says "bytes")
        raise _invalid("PolicySize", "The size of Policy must be smaller than 2048 bytes.")
    try:
        document = json.loads(raw)
        if not isinstance(document, dict):
            raise ValueError("not an object")
        return Policy(document)
    except ValueError:
        raise _invalid(
            "PolicyGrammar", "The parameter Policy has not passed grammar check."
        ) from None


def _check_caller(caller: KeyPair, account_id: str, role_name: str) -> None:
    if caller.principal.kind == "root":
        raise ApiError("NoPermission", "Roles may not be assumed by root accounts.", 403)
    # The FAQ's policy names the role ARN with region `*`; the ARN without a region matches it.
    if not caller.permissions.allows("sts:AssumeRole", f"acs:ram::{account_id}:role/{role_name}"):
        raise ApiError("NoPermission", _NOT_AUTHORIZED, 403)


def _caller_arn(caller: KeyPair) -> str:
    return caller.principal.arn(caller.account_id)


def _new_key(call: StsCall, role: Role, session: Policy | None, expires_at: float) -> KeyPair:
    account_id, name = role.account_id, role.name

    def role_policy() -> Any:
        found = call.find_role(account_id, name)
        return None if found is None else found.permissions()

    # Random parts: the shapes of the documented samples (STS.<id>, a long token), not their
    # exact lengths (our choice).
    return KeyPair(
        access_key_id="STS." + "".join(secrets.choice(_ALNUM) for _ in range(28)),
        access_key_secret="".join(secrets.choice(_ALNUM) for _ in range(44)),
        account_id=account_id,
        security_token="CAIS" + secrets.token_urlsafe(96),
        permissions=RolePermissions(role_policy, session),
        principal=Principal("role", name),
        expires_at=expires_at,
    )


def _answer(role: Role, session_name: str, key: KeyPair, expiration: str) -> dict[str, Any]:
    return {
        "AssumedRoleUser": {
            # Choice: `<RoleId>:<session>`, and the J24 sample's ARN form (lower-cased name,
            # then the session); the older page's `acs:sts::...:assumed-role/...` is not used.
            "AssumedRoleId": f"{role.role_id}:{session_name}",
            "Arn": f"acs:ram::{role.account_id}:role/{role.name.lower()}/{session_name}",
        },
        "Credentials": {
            "AccessKeyId": key.access_key_id,
            "AccessKeySecret": key.access_key_secret,
            "SecurityToken": key.security_token,
            "Expiration": expiration,
        },
    }


def _invalid(name: str, message: str) -> ApiError:
    return ApiError(f"InvalidParameter.{name}", message, 400)


ACTIONS: dict[str, Callable[[StsCall], dict[str, Any]]] = {"AssumeRole": assume_role}
