"""The call log: every API call the fake answered, without secrets, for tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from fakecloud import ecs_api, ram_api

WRITE_ACTIONS = ecs_api.WRITE_ACTIONS | ram_api.WRITE_ACTIONS
ROLE_WRITE_ACTIONS = frozenset({"AttachInstanceRamRole", "DetachInstanceRamRole"})

# Never recorded: they are secrets or are derived from secrets.
_SECRET_PARAMS = frozenset({"Signature", "SecurityToken", "AccessKeySecret"})


@dataclass(frozen=True)
class Call:
    seq: int
    when: float
    product: str
    action: str
    access_key_id: str
    account_id: str
    region: str
    params: dict[str, str]
    status: int
    code: str  # "" on success
    request_id: str
    duration_ms: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class CallLog:
    """Thread-safe, append-only list of calls."""

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def record(self, **fields: Any) -> Call:
        params = {k: v for k, v in fields.pop("params").items() if k not in _SECRET_PARAMS}
        with self._lock:
            call = Call(seq=len(self._calls) + 1, params=params, **fields)
            self._calls.append(call)
        return call

    def all(self, since: int = 0) -> list[Call]:
        with self._lock:
            return self._calls[since:]

    def actions(self, since: int = 0) -> list[str]:
        return [c.action for c in self.all(since)]

    def count(self, action: str | None = None, ok: bool | None = None) -> int:
        return sum(
            1
            for c in self.all()
            if (action is None or c.action == action) and (ok is None or c.ok == ok)
        )

    def counts(self) -> Counter[str]:
        return Counter(c.action for c in self.all())

    def writes(self, ok_only: bool = True) -> list[Call]:
        """Calls to state-changing actions (by default only those that succeeded)."""
        return [c for c in self.all() if c.action in WRITE_ACTIONS and (c.ok or not ok_only)]

    def role_writes(self, ok_only: bool = True) -> list[Call]:
        """Attach and Detach calls only (a binder's role writes, without its marker tags)."""
        return [c for c in self.writes(ok_only) if c.action in ROLE_WRITE_ACTIONS]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def to_json(self, since: int = 0) -> list[dict[str, Any]]:
        return [asdict(c) for c in self.all(since)]
