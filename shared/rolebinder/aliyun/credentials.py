"""Credentials the gateways sign with: the function's own, or a member account's from STS."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str = field(repr=False)  # never printed
    security_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TemporaryCredentials:
    """STS credentials and when they stop working (epoch seconds, from STS's Expiration)."""

    credentials: Credentials
    expires_at: float
