"""Signature v3 (ACS3-HMAC-SHA256) verification, for the ROA-style calls the Tea SDKs send
(FC 3.0 here).

Authorization: `ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<h1;h2>,Signature=<hex>`.
canonical request = METHOD \\n path (as sent) \\n canonical query \\n canonical headers \\n
signed headers \\n x-acs-content-sha256; the query's names and values RFC 3986-encoded and sorted
by name; each signed header `name:trimmed value` in the order of SignedHeaders. string-to-sign =
`ACS3-HMAC-SHA256\\n` + hex(SHA256(canonical request)); signature = hex(HMAC-SHA256(secret, it)).
Source: Alibaba Cloud's "V3 request body and signature mechanism", and the Tea SDK's own
`alibabacloud_tea_openapi.utils.Utils.get_authorization`, which the fake must accept.

Error codes are FC's documented ones (FC "Error codes" page): 403 InvalidAccessKeyID, 403
SignatureNotMatch, 400 MissingRequiredHeader. The STS token, timestamp and nonce checks reuse the
RPC gateway's codes (`Authenticator`): FC documents none for them (our choice).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from fakecloud.auth import Authenticator, KeyPair
from fakecloud.errors import ApiError

ALGORITHM = "ACS3-HMAC-SHA256"
_AUTHORIZATION = re.compile(
    rf"^{ALGORITHM} Credential=(?P<key>[^,]+),SignedHeaders=(?P<headers>[^,]+),"
    r"Signature=(?P<signature>[0-9a-f]+)$"
)
_NOT_MATCHED = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your access key and signing method"
)


@dataclass
class HttpRequest:
    """A request as the HTTP server read it: raw path and query, lower-cased header names."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


def verify(auth: Authenticator, request: HttpRequest) -> KeyPair:
    """The caller's key pair, or the error FC answers a badly signed request with."""
    raw = request.headers.get("authorization")
    if not raw:
        raise missing_header("Authorization")
    match = _AUTHORIZATION.match(raw.strip())
    if match is None:
        raise ApiError("SignatureNotMatch", _NOT_MATCHED, 403)
    key = auth.keys.get(match["key"])
    if key is None:
        raise ApiError("InvalidAccessKeyID", f"invalid access key ID '{match['key']}'", 403)
    auth.check_token(key, request.headers.get("x-acs-security-token"))
    auth.check_timestamp(request.headers.get("x-acs-date", ""))
    signed = match["headers"].split(";")
    expected = signature(key.access_key_secret, request, signed)
    if not _signs_enough(request, signed) or not hmac.compare_digest(expected, match["signature"]):
        raise ApiError("SignatureNotMatch", _NOT_MATCHED, 403)
    auth.remember_nonce(request.headers.get("x-acs-signature-nonce", ""))
    return key


def _signs_enough(request: HttpRequest, signed: list[str]) -> bool:
    """The spec's rule: host and every x-acs-* header are signed, and the payload hash is the
    body's own (else a signed request's body could be swapped)."""
    required = {"host"} | {h for h in request.headers if h.startswith("x-acs-")}
    payload = hashlib.sha256(request.body).hexdigest()
    return required <= set(signed) and request.headers.get("x-acs-content-sha256") == payload


def signature(secret: str, request: HttpRequest, signed: list[str]) -> str:
    """The hex signature of `request` over the headers named in `signed`."""
    canonical = "\n".join(
        (
            request.method.upper(),
            request.path or "/",
            canonical_query(request.query),
            "".join(f"{h}:{request.headers.get(h, '').strip()}\n" for h in signed),
            ";".join(signed),
            request.headers.get("x-acs-content-sha256", ""),
        )
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    text = f"{ALGORITHM}\n{digest}"
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def canonical_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(pairs))


def missing_header(name: str) -> ApiError:
    return ApiError("MissingRequiredHeader", f"required HTTP header {name} was not specified")
