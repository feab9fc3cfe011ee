"""`rolebinder policy --account-id ID`: the least-privilege RAM policy for the functions' role.

Derived from the mapping: ECS reads and the ownership marker writes on the instances of the
regions the functions act in (`--regions`, else ROLEBINDER_REGIONS, else any region), Attach (and
Detach only if the mapping can detach) on those instances and the allow-listed roles, and
ram:GetRole / ram:PassRole on exactly the allow-listed roles.
`--guard` prints instead the policy that keeps everyone else from writing rolebinder's
`rolebinder:` tags: attach it to every user, group and role but the functions' own.
`--ros` prints it instead as the ROS PolicyDocument that template.yml embeds, the account left
to `Fn::Sub` with ${ALIYUN::TenantId}: paste it under the function role's least-privilege policy
when you deploy your own mapping (`rolebinder build --check` verifies the two agree).
`--member` prints the policy of the member role a hub assumes in each member account: the same
document, in the member's account (`--account-id`), in any account (`*`, the default: a role's
policy reaches only its own account's resources), or with `--ros` as member.yml embeds it.
`--hub --account-id HUB --region R` prints what the hub's function role needs on top:
sts:AssumeRole on the member role, fc:InvokeFunction on the reconcile function, and with
`--accounts rd` resourcemanager:ListAccounts (template.yml's hub switch embeds the same).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from rolebinder.cli import EXIT_OK
from rolebinder.cli.options import add_mapping_option, open_runtime
from rolebinder.domain import ids
from rolebinder.entrypoints import config
from rolebinder.errors import InputError
from rolebinder.mapping import permissions

_ACCOUNT = ids.matcher(ids.ACCOUNT_ID)
_REGION = ids.matcher(r"[a-z]{2,}(-[a-z0-9]+)+")
DEFAULT_MEMBER_ROLE = "rolebinder-member"  # ROLEBINDER_MEMBER_ROLE's default
DEFAULT_RECONCILE = "rolebinder-reconcile"  # template.yml's default deployment's function
DIRECTORY = "rd"  # ROLEBINDER_ACCOUNTS=rd: every member Resource Directory lists


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "policy", help="print the functions' least-privilege RAM policy", description=__doc__
    )
    add_mapping_option(parser)
    parser.add_argument("--account-id", help="the account the functions run in (unless --ros)")
    parser.add_argument(
        "--ros",
        action="store_true",
        help="print the ROS PolicyDocument (YAML, Fn::Sub for the account) as in template.yml",
    )
    parser.add_argument(
        "--regions",
        help=f"comma-separated regions the functions act in (default: ${config.REGIONS})",
    )
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--guard",
        action="store_true",
        help="print the policy that denies everyone else writing rolebinder: tags",
    )
    kind.add_argument("--member", action="store_true", help="the member role's policy (a hub)")
    kind.add_argument("--hub", action="store_true", help="the hub function role's extra policy")
    _add_hub_options(parser)
    parser.set_defaults(run=run)


def _add_hub_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="with --hub: the hub's region (its reconcile function)")
    parser.add_argument("--accounts", default="", help="with --hub: member ids, or rd")
    parser.add_argument("--member-role", default=DEFAULT_MEMBER_ROLE, help="with --hub")
    parser.add_argument("--reconcile-function", default=DEFAULT_RECONCILE, help="with --hub")


def run(args: argparse.Namespace) -> int:
    if args.guard:
        return _print_json(permissions.guard_policy())
    if args.hub:
        return _print_json(hub_document(args))
    if args.ros:
        return _print_ros(args)
    if args.member:
        runtime = open_runtime(args)
        account = _account(args.account_id) if args.account_id else permissions.ANY_ACCOUNT
        return _print_json(permissions.member_policy(runtime.mapping, account, _regions(args)))
    if args.account_id is None:
        raise InputError("--account-id is required (or use --ros for the template's form)")
    account = _account(args.account_id)
    runtime = open_runtime(args)
    regions = _regions(args) or runtime.settings.regions
    return _print_json(permissions.policy_document(runtime.mapping, account, regions))


def hub_document(args: argparse.Namespace) -> dict[str, Any]:
    """The hub's extra policy for --account-id, --region, --accounts, --member-role."""
    if args.ros or args.account_id is None or args.region is None:
        raise InputError("--hub needs --account-id HUB and --region R (and takes no --ros)")
    if not _REGION.fullmatch(args.region):
        raise InputError(f"--region {args.region!r} is not a region id")
    # Checked like the functions check their settings: a `*` or a comma here would widen the
    # grant (sts:AssumeRole on acs:ram:*:*:role/* reaches every role that trusts the hub).
    function = _name(config.parse_function_name, args.reconcile_function, "--reconcile-function")
    member_role = _name(config.parse_role_name, args.member_role, "--member-role")
    reconcile = permissions.function_arn(args.region, _account(args.account_id), function)
    return permissions.hub_policy(member_role, reconcile, _directory(args.accounts))


def _name(parse: Callable[[str], str | None], raw: str, option: str) -> str:
    """A role or function name, checked like the functions check their settings."""
    try:
        name = parse(raw)
    except InputError:
        name = None
    if not name:
        raise InputError(f"{option} {raw!r} is not a name (no wildcards, no lists)")
    return name


def _directory(accounts: str) -> bool:
    if accounts.strip() == DIRECTORY:
        return True
    bad = [a for a in accounts.split(",") if a.strip() and not _ACCOUNT.fullmatch(a.strip())]
    if bad:
        raise InputError(f"--accounts {accounts!r}: {bad[0]!r} is not an account id (or use rd)")
    return False


def _account(value: str) -> str:
    if not _ACCOUNT.fullmatch(value):
        raise InputError(f"--account-id {value!r} is not an account id (digits only)")
    return value


def _regions(args: argparse.Namespace) -> tuple[str, ...]:
    return config.parse_regions(args.regions or "")


def _print_json(document: dict[str, Any]) -> int:
    print(json.dumps(document, indent=2))
    return EXIT_OK


def _print_ros(args: argparse.Namespace) -> int:
    import yaml  # noqa: PLC0415 - keep the plain JSON path light

    from rolebinder.deploy.template import ros_policy  # noqa: PLC0415

    if args.account_id is not None:
        raise InputError("--ros leaves the account to ROS (${ALIYUN::TenantId}): drop --account-id")
    runtime = open_runtime(args)
    # member.yml and template.yml embed the same document: the member's account is its TenantId.
    document = ros_policy(runtime.mapping, _regions(args))
    print(yaml.safe_dump(document, sort_keys=False), end="")
    return EXIT_OK
