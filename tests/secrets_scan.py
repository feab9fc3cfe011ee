"""A pytest plugin that fails any test whose output or log records carry a secret.

Every test's stdout, stderr and log records (what rolebinder's handlers, CLI and the SDK write)
are scanned for: every AccessKey secret and security token a fake cloud in this process was
configured with (fakecloud.auth.ISSUED_SECRETS), signatures (`Signature=...`) and security
tokens passed as query parameters (`SecurityToken=...`).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from fakecloud.auth import ISSUED_SECRETS

_PARAMS = re.compile(r"(Signature|SecurityToken)(=|%3D|\":\s*\")[A-Za-z0-9%+/=_\-]{8,}")


def leaks_in(text: str) -> list[str]:
    """What in `text` is a secret (named, not quoted, so the report leaks nothing either)."""
    found = [f"{match.group(1)} parameter" for match in _PARAMS.finditer(text)]
    found += [f"configured secret ({len(s)} chars)" for s in ISSUED_SECRETS if s in text]
    return found


class _Tee:
    """Passes writes to the stream it wraps and scans them."""

    def __init__(self, stream: Any, leaks: list[str]) -> None:
        self._stream = stream
        self._leaks = leaks

    def write(self, text: str) -> int:
        self._leaks.extend(leaks_in(text))
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _LogScan(logging.Handler):
    def __init__(self, leaks: list[str]) -> None:
        super().__init__(level=logging.DEBUG)
        self._leaks = leaks

    def emit(self, record: logging.LogRecord) -> None:
        self._leaks.extend(leaks_in(self.format(record)))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "shows_leaks: the test prints another run's leaks on purpose (not scanned)"
    )


# trylast: run inside pytest's own capture wrapper, so the streams wrapped are the capturing ones.
@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    if item.get_closest_marker("shows_leaks"):
        yield
        return
    leaks: list[str] = []
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(streams[0], leaks), _Tee(streams[1], leaks)  # type: ignore[assignment]
    scan = _LogScan(leaks)
    logging.getLogger().addHandler(scan)
    try:
        outcome = yield
    finally:
        logging.getLogger().removeHandler(scan)
        sys.stdout, sys.stderr = streams
    if leaks:
        outcome.force_exception(
            AssertionError(f"secret in the test's output: {sorted(set(leaks))}")
        )
