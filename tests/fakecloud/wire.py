"""Raw HTTP against the fake, for what the SDK cannot express: replays and forged signatures."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fakecloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, FakeCloudServer
from fakecloud.auth import percent_encode, sign, string_to_sign
from tests.support import REGION

ECS = {"Version": "2014-05-26", "RegionId": REGION}


def signed_params(
    params: Mapping[str, str],
    *,
    method: str = "GET",
    access_key_id: str = DEFAULT_ACCESS_KEY_ID,
    secret: str = DEFAULT_ACCESS_KEY_SECRET,
    timestamp: float | str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Common parameters added and signed with signature v1, as the SDK does it."""
    when = time.time() if timestamp is None else timestamp
    stamp = (
        when if isinstance(when, str) else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
    )
    full = {
        "Format": "JSON",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureType": "",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "AccessKeyId": access_key_id,
        "Timestamp": stamp,
        **params,
    }
    full["Signature"] = sign(secret, string_to_sign(method, full))
    return full


def query_string(params: Mapping[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())


def send(
    server: FakeCloudServer,
    method: str,
    target: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Any]:
    """One raw request on a fresh connection; (status, parsed JSON body)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request(method, target, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def api(server: FakeCloudServer, method: str, params: Mapping[str, str]) -> tuple[int, Any]:
    """A signed RPC call with every parameter in the query string."""
    signed = signed_params(params, method=method)
    return send(server, method, "/?" + query_string(signed))


def form_body(params: Mapping[str, str]) -> bytes:
    return urlencode(params).encode()
