"""RAM backend (one per account; RAM is global): roles and their trust policies.

Actions: CreateRole, GetRole, ListRoles, DeleteRole. A role may carry one permission policy
document (from a seed or `create_role(policy=...)`), which STS sessions of the role get; who may
assume it is read from its trust policy (`trusts_ram`).
Not modelled: the policy APIs (AttachPolicyToRole & co.), role tags, MaxSessionDuration limits
beyond the documented range, RAM users and groups. DeleteRole refuses a role still bound to an
instance (our choice; the docs only document the attached-policy conflict).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fakecloud.auth import AllowAll, Permissions
from fakecloud.clock import iso_seconds
from fakecloud.errors import ApiError
from fakecloud.ids import IdFactory
from fakecloud.policy import Policy

ROLE_NAME = re.compile(r"^[a-zA-Z0-9.@-]+$")
MAX_ROLE_NAME = 64
ECS_SERVICE = "ecs.aliyuncs.com"


@dataclass
class Role:
    name: str
    role_id: str
    account_id: str
    trust_policy: str  # the JSON text, exactly as given
    description: str
    created: float
    max_session_duration: int = 3600
    policy: Policy | None = None  # the permission policy its sessions get (seeded, see below)

    @property
    def arn(self) -> str:
        # The name keeps its case, as in the GetRole, ListRoles and CreateRole samples
        # (api-facts 5.6; live ARNs of service-linked roles appear lower-cased elsewhere).
        return f"acs:ram::{self.account_id}:role/{self.name}"

    def trusts(self, service: str) -> bool:
        """True when an Allow statement names `service` among its principal services."""
        return any(_trusts_service(s, service) for s in self._trust_statements())

    def trusts_ram(self, principal_arns: tuple[str, ...]) -> bool:
        """True when an Allow statement for sts:AssumeRole names one of `principal_arns` under
        Principal.RAM and no Deny statement does (Deny wins, as in any RAM policy).

        ARNs compare case-insensitively: RAM names are case-insensitive, and whether trust
        ARNs are is not documented (our choice)."""
        wanted = {arn.lower() for arn in principal_arns}
        hits = [s for s in self._trust_statements() if _names_ram(s, wanted)]
        if any(s.get("Effect") == "Deny" for s in hits):
            return False
        return any(s.get("Effect") == "Allow" for s in hits)

    def permissions(self) -> Permissions:
        """What a session of this role may do: its policy; none seeded allows everything (our
        choice, so that seeds written before role policies keep working)."""
        return AllowAll() if self.policy is None else self.policy

    def _trust_statements(self) -> list[dict[str, Any]]:
        try:
            document = json.loads(self.trust_policy)
        except ValueError:
            return []
        statements = document.get("Statement") if isinstance(document, dict) else None
        return [s for s in statements or [] if isinstance(s, dict)]

    def to_api(self, with_policy: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "RoleId": self.role_id,
            "RoleName": self.name,
            "Arn": self.arn,
            "Description": self.description,
            "CreateDate": iso_seconds(self.created),
            "UpdateDate": iso_seconds(self.created),
            "MaxSessionDuration": self.max_session_duration,
        }
        if with_policy:
            body["AssumeRolePolicyDocument"] = self.trust_policy
        return body


def _trusts_service(statement: dict[str, Any], service: str) -> bool:
    principal = statement.get("Principal")
    services = principal.get("Service") if isinstance(principal, dict) else None
    if isinstance(services, str):
        services = [services]
    return statement.get("Effect") == "Allow" and service in (services or [])


def _names_ram(statement: dict[str, Any], arns: set[str]) -> bool:
    """Whether a statement is about sts:AssumeRole by one of `arns` (lower-cased)."""
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else actions or []
    if not any(fnmatch.fnmatchcase("sts:assumerole", str(a).lower()) for a in actions):
        return False
    principal = statement.get("Principal")
    named = principal.get("RAM") if isinstance(principal, dict) else None
    named = [named] if isinstance(named, str) else named or []
    return any(isinstance(n, str) and n.lower() in arns for n in named)


def ecs_trust_policy() -> str:
    """The trust policy of an instance RAM role, as the console writes it."""
    return json.dumps(
        {
            "Statement": [
                {
                    "Action": "sts:AssumeRole",
                    "Effect": "Allow",
                    "Principal": {"Service": [ECS_SERVICE]},
                }
            ],
            "Version": "1",
        }
    )


class RamBackend:
    """The roles of one account."""

    def __init__(self, account_id: str, ids: IdFactory, now: Callable[[], float]) -> None:
        self.account_id = account_id
        self.roles: dict[str, Role] = {}  # keyed by lower-case name: RAM names are case-insensitive
        self._ids = ids
        self._now = now
        # Set by the cloud: answers "is this role bound to any instance?" for DeleteRole.
        self.role_in_use: Callable[[str], bool] = lambda name: False

    def create_role(
        self,
        name: str,
        trust_policy: str,
        description: str = "",
        max_session_duration: int = 3600,
        policy: Policy | None = None,
    ) -> Role:
        _check_name(name)
        if name.lower() in self.roles:
            raise ApiError("EntityAlreadyExists.Role", "The role does already EXIST.", 409)
        _check_policy_document(trust_policy)
        role = Role(
            name,
            self._ids.digits(19),
            self.account_id,
            trust_policy,
            description,
            self._now(),
            max_session_duration,
            policy,
        )
        self.roles[name.lower()] = role
        return role

    def get_role(self, name: str) -> Role:
        _check_name(name)
        role = self.roles.get(name.lower())
        if role is None:
            raise ApiError("EntityNotExist.Role", "The role does not exist.", 404)
        return role

    def find_role(self, name: str) -> Role | None:
        return self.roles.get(name.lower())

    def list_roles(self, marker: str | None, max_items: int) -> tuple[list[Role], str | None]:
        names = sorted(self.roles)
        start = 0
        if marker:
            if marker not in self.roles:
                raise ApiError("InvalidParameter.Marker", "The parameter Marker is invalid.")
            start = names.index(marker) + 1
        page = names[start : start + max_items]
        more = start + max_items < len(names)
        return [self.roles[n] for n in page], (page[-1] if more and page else None)

    def delete_role(self, name: str) -> None:
        role = self.get_role(name)
        if self.role_in_use(role.name):
            raise ApiError(
                "DeleteConflict.Role.Instance",
                f"The role is still attached to ECS instances: {role.name}.",
                409,
            )
        del self.roles[name.lower()]


def _check_name(name: str) -> None:
    """Documented for CreateRole, GetRole and DeleteRole alike."""
    if len(name) > MAX_ROLE_NAME:
        raise ApiError(
            "InvalidParameter.RoleName.Length",
            'The parameter - "RoleName" beyond the length limit.',
        )
    if not ROLE_NAME.match(name):
        raise ApiError(
            "InvalidParameter.RoleName.InvalidChars",
            'The parameter - "RoleName" contains invalid chars.',
        )


def _check_policy_document(text: str) -> None:
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), list):
        raise ApiError(
            "MalformedPolicyDocument", "The parameter AssumeRolePolicyDocument is malformed."
        )
