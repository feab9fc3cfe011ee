"""The least-privilege RAM policy for the functions' own role, derived from the mapping.

Pure. `rolebinder policy` prints it, template.yml embeds it for the bundled mapping (a test
keeps the two identical), and the fake cloud can enforce it to prove it is enough.
- ECS reads the engine makes: DescribeInstances, DescribeInstanceRamRole.
- AttachInstanceRamRole on instances; DetachInstanceRamRole only when the mapping can detach
  (on_existing_role: replace, or on_no_match: detach).
- ram:GetRole and ram:PassRole on exactly the roles of the allow-list, nothing else.
"""

from __future__ import annotations

from typing import Any

from shared.mapping import DETACH, REPLACE, RoleMapping

READ_ACTIONS = ("ecs:DescribeInstances", "ecs:DescribeInstanceRamRole")
ATTACH_ACTION = "ecs:AttachInstanceRamRole"
DETACH_ACTION = "ecs:DetachInstanceRamRole"


def can_detach(mapping: RoleMapping) -> bool:
    """True when some policy of the mapping leads to DetachInstanceRamRole calls."""
    return mapping.on_existing_role == REPLACE or mapping.on_no_match == DETACH


def role_arns(mapping: RoleMapping, account_id: str) -> list[str]:
    return [f"acs:ram:*:{account_id}:role/{role}" for role in mapping.roles]


def policy_document(mapping: RoleMapping, account_id: str) -> dict[str, Any]:
    """The RAM policy document (Version 1) the three functions need, and no more."""
    bind_actions = [ATTACH_ACTION, DETACH_ACTION] if can_detach(mapping) else [ATTACH_ACTION]
    roles = role_arns(mapping, account_id)
    return {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": bind_actions,
                "Resource": f"acs:ecs:*:{account_id}:instance/*",
            },
            {"Effect": "Allow", "Action": ["ram:GetRole", "ram:PassRole"], "Resource": roles},
        ],
    }
