"""The least-privilege RAM policy for the functions' own role, derived from the mapping.

Pure. `rolebinder policy` prints it, template.yml embeds it for the bundled mapping (a test
keeps the two identical), and the fake cloud enforces it to prove it is enough.
- ECS reads the engine makes (DescribeInstances, DescribeInstanceRamRole) and the ownership
  marker writes (TagResources; UntagResources only when on_no_match: detach, the one path that
  removes a marker), on the instances of the deployment's regions.
- AttachInstanceRamRole, and DetachInstanceRamRole only when the mapping can detach
  (on_existing_role: replace, or on_no_match: detach), on those instances AND the allow-listed
  roles. The Chinese reference of both actions lists the role as a resource beside the instance
  (docs/research/api-facts.md, "Resource-level authorisation"); where RAM checks it, a key with
  this policy cannot detach a role outside the allow-list. Where it does not (the English page
  says "All Resources" for Detach), the engine's own confinement is what holds: it never
  detaches a role outside the allow-list, nor one it did not bind (tested).
- ram:GetRole and ram:PassRole on exactly the roles of the allow-list, nothing else.

Role ARNs are written twice when their case differs, `role/Payments` and `role/payments`:
RAM's samples keep the role name's case in ARNs and some consoles show it lower-cased, and
whether RAM compares ARNs case-sensitively is not documented. Listing both is right either way.

`guard_policy` is the other half of ownership: a Deny for everyone else on writing the
`rolebinder:` tag keys, so only rolebinder can say what rolebinder owns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rolebinder.domain.ownership import MARKER_KEY, OWNER_KEY, RESERVED_PREFIX
from rolebinder.mapping.model import DETACH, REPLACE, RoleMapping

READ_ACTIONS = ("ecs:DescribeInstances", "ecs:DescribeInstanceRamRole")
MARK_ACTION = "ecs:TagResources"
UNMARK_ACTION = "ecs:UntagResources"  # only a detach removes a marker
ATTACH_ACTION = "ecs:AttachInstanceRamRole"
DETACH_ACTION = "ecs:DetachInstanceRamRole"
ANY_REGION = "*"
# Every API that writes tags on an ECS instance: ECS's own, the Tag service's, and the launch
# calls, which take Tag.N too (a marker set at launch would claim a later hand-bound role).
TAG_WRITE_ACTIONS = (
    "ecs:RunInstances",
    "ecs:CreateInstance",
    "ecs:TagResources",
    "ecs:UntagResources",
    "ecs:AddTags",
    "ecs:RemoveTags",
    "tag:TagResources",
    "tag:UntagResources",
)


def can_detach(mapping: RoleMapping) -> bool:
    """True when some policy of the mapping leads to DetachInstanceRamRole calls."""
    return mapping.on_existing_role == REPLACE or mapping.on_no_match == DETACH


def detaches_unmatched(mapping: RoleMapping) -> bool:
    """True when a detach (and so a marker removal) can follow from no rule matching."""
    return mapping.on_no_match == DETACH


def role_arns(mapping: RoleMapping, account_id: str) -> list[str]:
    """The allow-listed roles' ARNs, each also lower-cased when that differs (see above)."""
    spellings = dict.fromkeys(
        spelling for role in mapping.roles for spelling in (role, role.lower())
    )
    return [f"acs:ram:*:{account_id}:role/{name}" for name in spellings]


def instance_arns(account_id: str, regions: Sequence[str]) -> list[str]:
    """Every instance of the deployment's regions (`*`: any region, for the CLI only)."""
    return [f"acs:ecs:{region}:{account_id}:instance/*" for region in regions or (ANY_REGION,)]


def policy_document(
    mapping: RoleMapping, account_id: str, regions: Sequence[str] = ()
) -> dict[str, Any]:
    """The RAM policy document (Version 1) the three functions need, and no more."""
    bind_actions = [ATTACH_ACTION, DETACH_ACTION] if can_detach(mapping) else [ATTACH_ACTION]
    marker_actions = [MARK_ACTION, UNMARK_ACTION] if detaches_unmatched(mapping) else [MARK_ACTION]
    instances = instance_arns(account_id, regions)
    roles = role_arns(mapping, account_id)
    return {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": instances},
            {"Effect": "Allow", "Action": marker_actions, "Resource": instances},
            {"Effect": "Allow", "Action": bind_actions, "Resource": [*instances, *roles]},
            {"Effect": "Allow", "Action": ["ram:GetRole", "ram:PassRole"], "Resource": roles},
        ],
    }


def guard_policy() -> dict[str, Any]:
    """Deny writing rolebinder's reserved tag keys: for every principal but rolebinder's role.

    Two statements, so that either condition key the tag APIs evaluate is enough:
    `acs:RequestTag/<key>` (the tags a request sets) and `acs:TagKeys` (the keys it names,
    setting or removing), as documented for tag-based authorisation (api-facts.md).
    """
    keys = [f"{RESERVED_PREFIX}*"]
    return {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": list(TAG_WRITE_ACTIONS),
                "Resource": "*",
                "Condition": {"ForAnyValue:StringLike": {"acs:TagKeys": keys}},
            },
            *(
                {
                    "Effect": "Deny",
                    "Action": list(TAG_WRITE_ACTIONS),
                    "Resource": "*",
                    "Condition": {"StringLike": {f"acs:RequestTag/{key}": "*"}},
                }
                for key in (MARKER_KEY, OWNER_KEY)
            ),
        ],
    }
