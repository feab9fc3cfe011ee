"""Where a checkout keeps what is deployed beside the package: functions/ and template.yml.

pip installs only `rolebinder` (source root shared/) and `fakecloud`; the handlers in
functions/ are not an installed package. The tools that package or run them (build, local
mode, the benchmarks) find them here, in the checkout this package was loaded from.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rolebinder.errors import InputError

ROOT = Path(__file__).resolve().parents[3]  # shared/rolebinder/deploy/checkout.py
FUNCTIONS = ROOT / "functions"
TEMPLATE = ROOT / "template.yml"
# What the FC code packages leave out of the package: operator tooling, never run on FC.
TOOLING = ("cli", "local", "deploy")

Handler = Callable[[bytes, Any], Any]


def handler_file(function: str) -> Path:
    """functions/<function>/index.py, the file a code package ships as index.py."""
    path = FUNCTIONS / function / "index.py"
    if not path.is_file():
        raise InputError(f"{path}: no such handler (rolebinder runs from a checkout here)")
    return path


def load_handler(function: str) -> Handler:
    """functions/<function>/index.py's handler, imported as FC would run it."""
    handler_file(function)
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    return importlib.import_module(f"functions.{function}.index").handler
