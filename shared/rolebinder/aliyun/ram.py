"""RAM gateway: does a role exist, and does its trust policy let ECS assume it?"""

from __future__ import annotations

import json

from aliyunsdkram.request.v20150501.GetRoleRequest import GetRoleRequest

from rolebinder.aliyun.transport import Answer, Transport
from rolebinder.errors import CloudError
from rolebinder.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any

ECS_SERVICE = "ecs.aliyuncs.com"


class RoleInfo(Value):
    name: str
    trusts_ecs: bool


class RamGateway:
    """Reads roles through one SDK transport."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def get_role(self, name: str) -> RoleInfo | None:
        """The role, or None when RAM says it does not exist."""
        request = GetRoleRequest()
        request.set_RoleName(name)
        try:
            answer = Answer("GetRole", self.transport.read(request))
        except CloudError as error:
            if error.code == "EntityNotExist.Role":
                return None
            raise
        role_name = answer.get("Role.RoleName", str)
        # Required: without it the answer is broken, which is worth a retry; "does not trust
        # ECS" would be a permanent verdict, cached for the container's lifetime.
        document = answer.get("Role.AssumeRolePolicyDocument", str)
        return RoleInfo(role_name, trusts_service(document, ECS_SERVICE))


def trusts_service(document_text: str, service: str) -> bool:
    """True when an Allow statement lets `service` call sts:AssumeRole and no Deny forbids it.

    An explicit Deny wins over any Allow in RAM's policy evaluation, so a document that both
    allows and denies ECS does not let ECS assume the role.
    """
    try:
        document = json.loads(document_text)
    except ValueError:
        return False
    statements = document.get("Statement") if isinstance(document, dict) else None
    if not isinstance(statements, list):
        return False
    covering = [s for s in statements if isinstance(s, dict) and _covers(s, service)]
    return _allows(covering) and not _denies(covering)


def _allows(statements: list[dict[str, Any]]) -> bool:
    return any(statement.get("Effect") == "Allow" for statement in statements)


def _denies(statements: list[dict[str, Any]]) -> bool:
    return any(statement.get("Effect") == "Deny" for statement in statements)


def _covers(statement: dict[str, Any], service: str) -> bool:
    """Whether the statement is about `service` calling sts:AssumeRole (whatever its effect)."""
    principal = statement.get("Principal")
    services = principal.get("Service") if isinstance(principal, dict) else None
    actions = statement.get("Action", "sts:AssumeRole")
    named = [s.strip() for s in _as_list(services)]
    return "sts:AssumeRole" in _as_list(actions) and service in named


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
