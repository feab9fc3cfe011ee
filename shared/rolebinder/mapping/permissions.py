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

A hub (issue 13) acts in member accounts through a member role: `member_policy` is that role's
policy, the same least-privilege document in the member's own account (member.yml embeds it),
and `hub_statements` / `directory_statement` are what the hub's own function role needs on top
(template.yml's hub switch embeds them).
"""

from __future__ import annotations

from collections.abc import Sequence

from rolebinder.domain.ownership import MARKER_KEY, OWNER_KEY, RESERVED_PREFIX
from rolebinder.mapping.model import DETACH, REPLACE, RoleMapping

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any

READ_ACTIONS = ("ecs:DescribeInstances", "ecs:DescribeInstanceRamRole")
MARK_ACTION = "ecs:TagResources"
UNMARK_ACTION = "ecs:UntagResources"  # only a detach removes a marker
ATTACH_ACTION = "ecs:AttachInstanceRamRole"
DETACH_ACTION = "ecs:DetachInstanceRamRole"
ANY_REGION = "*"
ANY_ACCOUNT = "*"
ASSUME_ACTION = "sts:AssumeRole"
INVOKE_ACTION = "fc:InvokeFunction"
LIST_ACCOUNTS_ACTION = "resourcemanager:ListAccounts"
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


def member_policy(
    mapping: RoleMapping, account_id: str = ANY_ACCOUNT, regions: Sequence[str] = ()
) -> dict[str, Any]:
    """The member role's policy: exactly what the functions need, in the member's account.

    The hub runs the same engine with the member role's credentials, so the member role needs
    what the functions' own role needs, no more. `*` for the account (the default) gives one
    document for every member: a policy attached to a role of account X grants nothing on
    another account's resources (that account would have to grant it), so in X it means X.
    """
    return policy_document(mapping, account_id, regions)


def member_role_arn(member_role: str, account_id: str = ANY_ACCOUNT) -> str:
    """The ARN the hub's sts:AssumeRole statement names (RAM's `acs:ram:*:<account>:role/...`)."""
    return f"acs:ram:*:{account_id}:role/{member_role}"


def function_arn(region: str, account_id: str, function_name: str) -> str:
    """An FC 3.0 function's ARN as FC's RAM authorisation table writes it."""
    return f"acs:fc:{region}:{account_id}:functions/{function_name}"


def hub_statements(member_role: str, reconcile_arn: str) -> list[dict[str, Any]]:
    """What a hub's function role needs beside its least-privilege policy.

    sts:AssumeRole on the member role in any account (each member role trusts exactly the hub's
    role, so the wildcard reaches only the accounts that chose to be members, and it also
    covers `rd`, whose members are not known when the stack is deployed), and
    fc:InvokeFunction on the reconcile function alone (the sweep's fan-out).
    """
    return [
        {"Effect": "Allow", "Action": [ASSUME_ACTION], "Resource": [member_role_arn(member_role)]},
        {"Effect": "Allow", "Action": [INVOKE_ACTION], "Resource": [reconcile_arn]},
    ]


def directory_statement() -> dict[str, Any]:
    """resourcemanager:ListAccounts, for ROLEBINDER_ACCOUNTS=rd only: the account list is a
    directory-wide read whose resource form is not documented first-hand, hence `*`."""
    return {"Effect": "Allow", "Action": [LIST_ACCOUNTS_ACTION], "Resource": "*"}


def hub_policy(member_role: str, reconcile_arn: str, directory: bool) -> dict[str, Any]:
    """The hub's extra policy document: `directory` adds ListAccounts (ROLEBINDER_ACCOUNTS=rd)."""
    statements = hub_statements(member_role, reconcile_arn)
    return {
        "Version": "1",
        "Statement": [*statements, directory_statement()] if directory else statements,
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
