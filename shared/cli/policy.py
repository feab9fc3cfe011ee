"""`rolebinder policy --account-id ID`: the least-privilege RAM policy for the functions' role.

Derived from the mapping: ECS reads, Attach (and Detach only if the mapping can detach) on the
account's instances, and ram:GetRole / ram:PassRole on exactly the allow-listed roles.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from shared.cli import EXIT_OK
from shared.cli.session import add_mapping_option, open_runtime
from shared.errors import InputError
from shared.permissions import policy_document

_ACCOUNT = re.compile(r"^[0-9]{1,32}$")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "policy", help="print the functions' least-privilege RAM policy", description=__doc__
    )
    add_mapping_option(parser)
    parser.add_argument("--account-id", required=True, help="the account the functions run in")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not _ACCOUNT.match(args.account_id):
        raise InputError(f"--account-id {args.account_id!r} is not an account id (digits only)")
    runtime = open_runtime(args)
    print(json.dumps(policy_document(runtime.mapping, args.account_id), indent=2))
    return EXIT_OK
