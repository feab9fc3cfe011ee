"""The ActionTrail record of an API call, as the fake's emitter publishes it."""

from __future__ import annotations

from typing import Any

from fakecloud.auth import KeyPair
from fakecloud.emitter import ApiCallFacts
from fakecloud.protocol import ApiRequest


def api_call_facts(
    request: ApiRequest,
    params: dict[str, str],
    product: str,
    key: KeyPair,
    request_id: str,
    body: dict[str, Any],
    when: str,
) -> ApiCallFacts:
    """What ActionTrail records of one API call: who, what, where, and the answer."""
    identity = {
        "type": "assumed-role" if key.security_token else "ram-user",
        "principalId": key.access_key_id,
        "accountId": key.account_id,
        "accessKeyId": key.access_key_id,
        "userName": key.access_key_id,
    }
    return ApiCallFacts(
        action=params["Action"],
        product=product,
        version=params["Version"],
        region=params.get("RegionId", ""),
        account=key.account_id,
        request_id=request_id,
        user_agent=request.user_agent,
        params=params,
        response={"RequestId": request_id, **body},
        identity=identity,
        when=when,
    )
