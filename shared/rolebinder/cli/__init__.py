"""rolebinder: binds the right instance RAM role to ECS instances, from their tags.

Exit codes: 0 success; 1 some instance failed; 2 unusable input (a bad argument, a missing or
malformed file, an invalid mapping), reported on one line on stderr before any API call.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from rolebinder.errors import InputError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> Parser:
    parser = Parser(prog="rolebinder", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _command_modules():
        module.register(commands)
    return parser


def _command_modules() -> list[Any]:
    from rolebinder.cli import (  # noqa: PLC0415 - keep --help fast
        adopt,
        build,
        explain,
        fake_cloud,
        invoke,
        local,
        plan_apply,
        policy,
        replay,
        validate,
    )

    return [local, fake_cloud, validate, replay, plan_apply, explain, adopt, policy, build, invoke]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except InputError as error:
        print(f"rolebinder {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
