"""`rolebinder validate-mapping FILE`: check a tag-to-role mapping without touching the cloud."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rolebinder.cli import EXIT_OK, EXIT_USAGE
from rolebinder.errors import MappingError
from rolebinder.mapping.model import load_mapping


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "validate-mapping", help="check a mapping file", description=__doc__
    )
    parser.add_argument("file", type=Path, help="the mapping (YAML or JSON)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        mapping = load_mapping(args.file)
    except MappingError as error:
        if args.json:
            problems = [{"path": p.path, "message": p.message} for p in error.problems]
            print(json.dumps({"valid": False, "file": str(args.file), "problems": problems}))
        elif len(error.problems) == 1:
            print(f"{args.file}: invalid mapping: {error.problems[0]}", file=sys.stderr)
        else:
            print(f"{args.file}: invalid mapping ({len(error.problems)} problems)", file=sys.stderr)
            for problem in error.problems:
                print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(
            json.dumps(
                {
                    "valid": True,
                    "file": str(args.file),
                    "roles": list(mapping.roles),
                    "rules": [rule.name for rule in mapping.rules],
                }
            )
        )
    else:
        print(
            f"{args.file}: valid: {len(mapping.rules)} rule(s), "
            f"allow-list: {', '.join(mapping.roles)}"
        )
    return EXIT_OK
