"""rolebinder: binds the right instance RAM role to ECS instances, from their tags.

Exit codes: 0 success; 1 some instance failed; 2 unusable input (a bad argument, a missing or
malformed file, an invalid mapping), reported on one line on stderr before any API call.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from rolebinder.errors import InputError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


# Each command and the module of rolebinder.cli that registers it. Only the module of the
# command being run is imported (local and fake-cloud import the whole fake cloud, invoke the
# FC SDKs); `rolebinder --help` and a mistyped command import them all, to list every command.
COMMANDS = {
    "local": "local",
    "fake-cloud": "fake_cloud",
    "validate-mapping": "validate",
    "replay": "replay",
    "plan": "plan_apply",
    "apply": "plan_apply",
    "explain": "explain",
    "adopt": "adopt",
    "policy": "policy",
    "build": "build",
    "invoke": "invoke",
}


def build_parser(argv: Sequence[str] | None = None) -> Parser:
    """The parser of every command, or of only the one `argv` names."""
    parser = Parser(prog="rolebinder", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _command_modules(argv):
        module.register(commands)
    return parser


def _command_modules(argv: Sequence[str] | None) -> list[Any]:
    chosen = argv[0] if argv else None
    names = [COMMANDS[chosen]] if chosen in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    return [importlib.import_module(f"rolebinder.cli.{name}") for name in names]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.run(args))
    except InputError as error:
        print(f"rolebinder {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
