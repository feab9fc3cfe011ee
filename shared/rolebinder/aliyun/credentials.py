"""Credentials the gateways sign with: the function's own, or a member account's from STS."""

from __future__ import annotations

from rolebinder.value import Value


class Credentials(Value):
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None

    def __repr__(self) -> str:
        # The secret and the token are never printed.
        return f"Credentials(access_key_id={self.access_key_id!r})"


class TemporaryCredentials(Value):
    """STS credentials and when they stop working (epoch seconds, from STS's Expiration)."""

    credentials: Credentials
    expires_at: float
