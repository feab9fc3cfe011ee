"""Role checks before attaching: the role exists and its trust policy names ecs.aliyuncs.com.

Answers are cached per container for a short time (ROLEBINDER_ROLE_CACHE_SECONDS), so a burst of
events for the same role costs one GetRole. Errors are never cached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rolebinder.aliyun.ram import RoleInfo
from rolebinder.domain import reasons

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # the ports are for type checkers: nothing checks them at run time


class RamPort(Protocol):
    def get_role(self, name: str) -> RoleInfo | None: ...


class RoleCache:
    """Container-lived cache of GetRole answers (None meaning "does not exist")."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, RoleInfo | None]] = {}
        self._lock = threading.Lock()
        # One lookup per role at a time: concurrent sweep workers wait for the first answer
        # instead of each asking RAM.
        self._role_locks: dict[str, threading.Lock] = {}

    def verdict(self, role: str, ram: RamPort) -> str | None:
        """None when the role may be attached, else the reason it may not."""
        info = self._lookup(role, ram)
        if info is None:
            return reasons.ROLE_NOT_FOUND
        return None if info.trusts_ecs else reasons.ROLE_NOT_TRUSTED

    def _lookup(self, role: str, ram: RamPort) -> RoleInfo | None:
        key = role.lower()
        with self._lock:
            role_lock = self._role_locks.setdefault(key, threading.Lock())
        with role_lock:
            now = self._clock()
            with self._lock:
                cached = self._entries.get(key)
            if cached is not None and now - cached[0] < self.ttl:
                return cached[1]
            info = ram.get_role(role)  # CloudError propagates and nothing is cached
            with self._lock:
                self._entries[key] = (now, info)
            return info
