"""`rolebinder fake-cloud`: the fake Alibaba Cloud (ECS + RAM) on 127.0.0.1, for local runs."""

from __future__ import annotations

import argparse
from typing import Any

from rolebinder.errors import InputError


def register(commands: Any) -> None:
    from fakecloud import cli  # noqa: PLC0415 - the fake is a development dependency

    parser = commands.add_parser(
        "fake-cloud",
        help="serve the fake ECS/RAM API on 127.0.0.1",
        description=cli.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fakecloud import SeedError, cli  # noqa: PLC0415

    try:
        return cli.run(args)
    except (SeedError, ValueError, OSError) as error:
        raise InputError(str(error)) from None
