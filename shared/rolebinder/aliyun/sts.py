"""STS gateway: a hub assumes the member role of another account (AssumeRole, 2015-04-01).

Errors (docs/research/multi-account.md §1): 404 `EntityNotExist.Role` when the member has no such
role; 403 `NoPermission` for a root caller, a caller without sts:AssumeRole, or a trust policy
that does not name the caller: the three cannot be told apart.
"""

from __future__ import annotations

from datetime import datetime, timezone

from rolebinder.aliyun.credentials import Credentials, TemporaryCredentials
from rolebinder.aliyun.transport import Answer, Transport
from rolebinder.domain import ids

# The older docs allow 900-3600 s and the newer up to the role's MaxSessionDuration; 3600 is
# valid under both (research §1).
SESSION_SECONDS = 3600
# RoleSessionName: 2-32 characters under the older docs, 2-64 under the newer.
_SESSION_NAME = ids.Pattern(r"[^A-Za-z0-9.@_-]")
MAX_SESSION_NAME = 32


def role_arn(account_id: str, role_name: str) -> str:
    return f"acs:ram::{account_id}:role/{role_name}"


def session_name(deployment: str) -> str:
    """`rolebinder.<deployment>` cut to what both documented limits accept: ActionTrail in the
    member shows which deployment acted."""
    return _SESSION_NAME.sub("-", f"rolebinder.{deployment}")[:MAX_SESSION_NAME]


class StsGateway:
    """Assumes roles through one SDK transport (signed with the hub's own credentials)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def assume_role(
        self, arn: str, session: str, seconds: int = SESSION_SECONDS
    ) -> TemporaryCredentials:
        """Temporary credentials of the role; CloudError when STS refuses."""
        # Imported here: a single-account deployment's cold start never loads the STS SDK.
        from aliyunsdksts.request.v20150401.AssumeRoleRequest import (  # noqa: PLC0415
            AssumeRoleRequest,
        )

        request = AssumeRoleRequest()
        request.set_RoleArn(arn)
        request.set_RoleSessionName(session)
        request.set_DurationSeconds(seconds)
        answer = Answer("AssumeRole", self.transport.read(request))
        credentials = Credentials(
            answer.get("Credentials.AccessKeyId", str),
            answer.get("Credentials.AccessKeySecret", str),
            answer.get("Credentials.SecurityToken", str),
        )
        return TemporaryCredentials(credentials, _expiration(answer))


def _expiration(answer: Answer) -> float:
    """Expiration is UTC ISO 8601 with a Z (2015-04-09T11:52:19Z); fractions are tolerated."""
    text = answer.get("Credentials.Expiration", str)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return answer.fail(f"Credentials.Expiration: not a time: {text[:40]!r}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()
