"""A stand-in for the Function Compute context, for runs outside FC (replay, local mode)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class FunctionMeta:
    name: str
    handler: str = "index.handler"
    memory: int = 256
    timeout: int = 120


@dataclass(frozen=True)
class LocalContext:
    """The fields of the FC python3.12 context that rolebinder reads (no credentials)."""

    region: str | None
    account_id: str | None = None
    function: FunctionMeta = field(default_factory=lambda: FunctionMeta("rolebinder-local"))
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
