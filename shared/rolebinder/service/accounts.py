"""Which accounts a hub serves, and the member credentials it signs with, cached per container.

A member's credentials come from STS AssumeRole on its member role. They are reused until
`refresh_margin` seconds before they expire, so a warm container assumes each member's role at
most once per credential lifetime however many events and sweeps it serves; concurrent shards
of one account wait for the first AssumeRole instead of each calling STS (the hub's AssumeRole
quota is 100 calls per second for the whole hub account). Errors are never cached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rolebinder.aliyun.credentials import Credentials, TemporaryCredentials
from rolebinder.aliyun.sts import SESSION_SECONDS, role_arn

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Protocol
else:
    Protocol = object  # the ports are for type checkers: nothing checks them at run time

# Renewed this long before STS's Expiration: a sweep started on old credentials must finish.
REFRESH_MARGIN = 900.0
# How long a Resource Directory member list is reused before it is read again.
DIRECTORY_TTL = 300.0


class AssumePort(Protocol):
    def assume_role(self, arn: str, session: str, seconds: int = ...) -> TemporaryCredentials: ...


class DirectoryPort(Protocol):
    def member_accounts(self) -> tuple[str, ...]: ...


class CredentialCache:
    """Member credentials per account, renewed shortly before they expire."""

    def __init__(
        self,
        role_name: str,
        session: str,
        refresh_margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,  # STS's Expiration is wall-clock time
    ) -> None:
        self.role_name = role_name
        self.session = session
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._entries: dict[str, TemporaryCredentials] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def credentials(self, account_id: str, sts: AssumePort, valid_for: float = 0.0) -> Credentials:
        """The member's credentials, still valid `valid_for` seconds from now when STS's session
        allows it (a sweep must not outlive them); CloudError when STS refuses (nothing cached
        then)."""
        margin = max(self.refresh_margin, min(valid_for, SESSION_SECONDS - self.refresh_margin))
        with self._lock:
            account_lock = self._locks.setdefault(account_id, threading.Lock())
        with account_lock:
            cached = self._entries.get(account_id)
            if cached is not None and self._clock() < cached.expires_at - margin:
                return cached.credentials
            arn = role_arn(account_id, self.role_name)
            fresh = sts.assume_role(arn, self.session, SESSION_SECONDS)
            self._entries[account_id] = fresh
            return fresh.credentials

    def forget(self, account_id: str) -> None:
        """Drop an account's credentials (the cloud said they expired before we thought)."""
        with self._lock:
            self._entries.pop(account_id, None)


class MemberList:
    """The member accounts: the configured ids, or Resource Directory's list, reused a while."""

    def __init__(
        self,
        listed: tuple[str, ...],
        from_directory: bool,
        ttl: float = DIRECTORY_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.listed = listed
        self.from_directory = from_directory
        self.ttl = ttl
        self._clock = clock
        self._read: tuple[float, tuple[str, ...]] | None = None
        self._lock = threading.Lock()

    def accounts(self, directory: Callable[[], DirectoryPort]) -> tuple[str, ...]:
        """The members; CloudError when Resource Directory cannot be read."""
        if not self.from_directory:
            return self.listed
        with self._lock:
            if self._read is None or self._clock() - self._read[0] >= self.ttl:
                self._read = (self._clock(), directory().member_accounts())
            return self._read[1]
