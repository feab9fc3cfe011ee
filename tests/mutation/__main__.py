"""Entry point: `python -m tests.mutation [--only ID ...] [--timeout SECONDS]`."""

from __future__ import annotations

import sys

from tests.mutation.runner import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
