"""What `rolebinder invoke` sends and what FC answers, shared by the FC 3.0 and FC 2.0 paths."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rolebinder.errors import RolebinderError


@dataclass(frozen=True)
class InvokeRequest:
    """One validated request: where, what, and with which credentials."""

    endpoint: str
    service: str | None  # FC 2.0 only
    function: str
    payload: bytes
    asynchronous: bool
    credentials: tuple[str, str, str]


@dataclass(frozen=True)
class Reply:
    """What FC answered: status, the function's error type if any, body and headers."""

    status: int
    error_type: str
    body: bytes
    headers: Mapping[str, str]


class InvokeError(RolebinderError):
    """FC refused or could not take the invocation (exit 1: the input itself was usable)."""
