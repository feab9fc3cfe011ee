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
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rolebinder.cli import EXIT_OK
from rolebinder.cli.options import add_mapping_option, open_runtime
from rolebinder.domain import ids
from rolebinder.entrypoints import config
from rolebinder.errors import InputError
from rolebinder.mapping.permissions import guard_policy, policy_document

_ACCOUNT = ids.matcher(ids.ACCOUNT_ID)


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
    parser.add_argument(
        "--guard",
        action="store_true",
        help="print the policy that denies everyone else writing rolebinder: tags",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.guard:
        print(json.dumps(guard_policy(), indent=2))
        return EXIT_OK
    if args.ros:
        return _print_ros(args)
    if args.account_id is None:
        raise InputError("--account-id is required (or use --ros for the template's form)")
    if not _ACCOUNT.fullmatch(args.account_id):
        raise InputError(f"--account-id {args.account_id!r} is not an account id (digits only)")
    runtime = open_runtime(args)
    regions = _regions(args) or runtime.settings.regions
    print(json.dumps(policy_document(runtime.mapping, args.account_id, regions), indent=2))
    return EXIT_OK


def _regions(args: argparse.Namespace) -> tuple[str, ...]:
    return config.parse_regions(args.regions or "")


def _print_ros(args: argparse.Namespace) -> int:
    import yaml  # noqa: PLC0415 - keep the plain JSON path light

    from rolebinder.deploy.template import ros_policy  # noqa: PLC0415

    if args.account_id is not None:
        raise InputError("--ros leaves the account to ROS (${ALIYUN::TenantId}): drop --account-id")
    runtime = open_runtime(args)
    document = ros_policy(runtime.mapping, _regions(args))
    print(yaml.safe_dump(document, sort_keys=False), end="")
    return EXIT_OK
