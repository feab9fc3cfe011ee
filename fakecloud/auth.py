"""Request authentication: RPC signature v1, as the real gateway checks it.

string-to-sign = METHOD & pe("/") & pe(canonical query), where the canonical query is every
parameter but `Signature`, sorted, RFC 3986-encoded, blank values kept (the SDK always sends
`SignatureType=`). Signature = base64(HMAC-SHA1(secret + "&", string-to-sign)).

Checked in this order: AccessKeyId known -> security token (STS keys) -> Timestamp -> Signature ->
SignatureNonce not seen before. A nonce is only remembered once the signature is valid, so bad
requests cannot burn nonces. The order among these checks is not documented; this is our choice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol
from urllib.parse import quote

from fakecloud.errors import ApiError

# Every secret and security token any fake cloud in this process accepts: leak scanners (the
# test suite's output scan) look for them in logs and outcome lines.
ISSUED_SECRETS: set[str] = set()
# The gateway accepts timestamps within 15 minutes of its own time.
TIMESTAMP_WINDOW_SECONDS = 15 * 60


class Permissions(Protocol):
    def allows(
        self, action: str, resource: str = "*", context: Mapping[str, tuple[str, ...]] | None = None
    ) -> bool: ...


class AllowAll:
    def allows(
        self, action: str, resource: str = "*", context: Mapping[str, tuple[str, ...]] | None = None
    ) -> bool:
        return True


@dataclass(frozen=True)
class Principal:
    """Who a key belongs to: a RAM user, a RAM role session, or the root account."""

    kind: str = "user"  # "user" | "role" | "root"
    name: str = ""  # the user's or the role's name; empty for root

    @staticmethod
    def of(role: str | None, root: bool, security_token: str | None) -> Principal:
        """The principal of a configured key; refuses combinations the cloud never issues."""
        if role is not None and (security_token is None or root):
            raise ValueError("a role-session key needs a security_token and cannot be root")
        if root and security_token is not None:
            raise ValueError("a root account key is never an STS credential")
        return Principal("role", role) if role else Principal("root" if root else "user")

    def arn(self, account_id: str) -> str:
        """The principal's ARN, in the form trust policies name it (`acs:ram::<id>:root`...)."""
        if self.kind == "root":
            return f"acs:ram::{account_id}:root"
        return f"acs:ram::{account_id}:{self.kind}/{self.name}"


@dataclass
class KeyPair:
    """A credential the fake accepts; `security_token` makes it an STS credential."""

    access_key_id: str
    access_key_secret: str
    account_id: str
    security_token: str | None = None
    permissions: Permissions = field(default_factory=AllowAll)
    token_expired: bool = False
    principal: Principal = field(default_factory=Principal)
    expires_at: float | None = None  # epoch seconds by the fake's clock (STS credentials)

    def expired(self, now: float) -> bool:
        # From its Expiration second on (our choice: whether that second is still valid is
        # not documented).
        return self.token_expired or (self.expires_at is not None and now >= self.expires_at)

    def public(self) -> dict[str, object]:
        """What the admin endpoint may show: never the secret or the token."""
        return {
            "access_key_id": self.access_key_id,
            "account_id": self.account_id,
            "sts": self.security_token is not None,
            "principal": self.principal.arn(self.account_id),
            "expires_at": self.expires_at,
            "restricted": not isinstance(self.permissions, AllowAll),
        }


def percent_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
    )
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def sign(secret: str, text: str) -> str:
    digest = hmac.new(f"{secret}&".encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class Authenticator:
    """Verifies signed RPC requests against the configured key pairs."""

    def __init__(
        self,
        wall_clock: Callable[[], float] = time.time,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.keys: dict[str, KeyPair] = {}
        self._wall_clock = wall_clock
        # Credential expiry follows the fake's clock (a ManualClock in tests), while request
        # timestamps follow the wall clock the SDK signs with.
        self._now = now
        self._nonces: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, key: KeyPair) -> None:
        self.keys[key.access_key_id] = key
        ISSUED_SECRETS.add(key.access_key_secret)
        if key.security_token:
            ISSUED_SECRETS.add(key.security_token)

    def authenticate(self, method: str, params: Mapping[str, str]) -> KeyPair:
        """Return the caller's key pair, or raise the error the real gateway would."""
        signature = params.get("Signature")
        if not signature or not params.get("AccessKeyId") or not params.get("SignatureNonce"):
            raise ApiError(
                "IncompleteSignature",
                "The request signature does not conform to Alibaba Cloud standards.",
            )
        key = self.keys.get(params["AccessKeyId"])
        if key is None:
            # 400 in the ECS docs, 404 in recent live answers: we follow the live service.
            raise ApiError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        self.check_token(key, params.get("SecurityToken"))
        self.check_timestamp(params.get("Timestamp", ""))
        unsigned = {k: v for k, v in params.items() if k != "Signature"}
        expected_text = string_to_sign(method, unsigned)
        if not hmac.compare_digest(sign(key.access_key_secret, expected_text), signature):
            raise ApiError(
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. "
                f"server string to sign is:{expected_text}",
            )
        self.remember_nonce(params["SignatureNonce"])
        return key

    def check_token(self, key: KeyPair, token: str | None) -> None:
        """An STS key needs its own token, unexpired by the fake's clock."""
        if key.security_token is None:
            return
        if not token:
            raise ApiError("MissingSecurityToken", "SecurityToken is mandatory for this action.")
        if not hmac.compare_digest(token, key.security_token):
            raise ApiError(
                "InvalidSecurityToken.MismatchWithAccessKey",
                "The Security Token does not match the AccessKeyId.",
            )
        if key.expired(self._now()):
            raise ApiError("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")

    def check_timestamp(self, raw: str) -> None:
        try:
            when = datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise ApiError(
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            ) from None
        if abs(when.timestamp() - self._wall_clock()) > TIMESTAMP_WINDOW_SECONDS:
            raise ApiError(
                "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
            )

    def remember_nonce(self, nonce: str) -> None:
        now = self._wall_clock()
        with self._lock:
            if nonce in self._nonces:  # one namespace for RPC and ACS3 nonces (our choice)
                raise ApiError("SignatureNonceUsed", "The request signature nonce has been used.")
            self._nonces[nonce] = now + TIMESTAMP_WINDOW_SECONDS * 2
            if len(self._nonces) > 100_000:  # forget nonces whose timestamps are stale anyway
                self._nonces = {n: t for n, t in self._nonces.items() if t > now}
