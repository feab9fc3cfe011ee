"""FC 3.0 wire layer: one ROA request in, FC's answer out, recorded in the call log (product
`fc`). Behaviour is in `fakecloud.fc`, the signature in `fakecloud.acs3`.

Errors are `{Code, Message, RequestId}` JSON, the schema of FC 3.0's API metadata (J24).
Fault injection does not apply to FC calls (not modelled).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fakecloud import acs3, fc
from fakecloud.auth import KeyPair
from fakecloud.errors import ApiError

if TYPE_CHECKING:
    from fakecloud.cloud import FakeCloud


@dataclass
class FcResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Facts:
    """What the call log learns of the call as it goes."""

    key: KeyPair | None = None
    region: str = ""
    name: str = ""


def handle(cloud: FakeCloud, request: acs3.HttpRequest) -> FcResponse:
    """Answer one FC 3.0 request as the service would."""
    started = time.monotonic()
    request_id = cloud.ids.request_id()
    facts = _Facts()
    try:
        _invoke(cloud, request, request_id, facts)
        response = FcResponse(202, b"", {"x-fc-request-id": request_id})
        code = ""
    except ApiError as error:
        body = {"Code": error.code, "Message": error.message, "RequestId": request_id}
        headers = {"x-fc-request-id": request_id}
        response = FcResponse(error.status, json.dumps(body).encode(), headers)
        code = error.code
    _log(cloud, request, facts, response.status, code, request_id, started)
    return response


def _invoke(cloud: FakeCloud, request: acs3.HttpRequest, request_id: str, facts: _Facts) -> None:
    name = fc.function_name(request.path)
    if name is None or request.method != "POST":
        raise ApiError(
            "PathNotSupported", f"'{request.method}' against '{request.path}' is not supported"
        )
    facts.name = name
    key = facts.key = acs3.verify(cloud.auth, request)
    fc.check_async(request)
    region, callback = cloud.functions.find(
        key.account_id, fc.host_region(request.headers.get("host", "")), name
    )
    facts.region = region
    resource = f"acs:fc:{region}:{key.account_id}:functions/{name}"
    if not key.permissions.allows("fc:InvokeFunction", resource):
        raise ApiError(
            "AccessDenied",
            f"the caller is not authorized to perform fc:InvokeFunction on {resource}",
            403,
        )
    invocation = fc.Invocation(
        key.account_id,
        region,
        name,
        fc.qualifier(request),
        request.body,
        request_id,
        request.headers.get("x-fc-async-task-id", ""),
    )
    cloud.functions.start(invocation, callback)


def _log(
    cloud: FakeCloud,
    request: acs3.HttpRequest,
    facts: _Facts,
    status: int,
    code: str,
    request_id: str,
    started: float,
) -> None:
    key = facts.key
    cloud.calls.record(
        when=time.time(),
        product="fc",
        action="InvokeFunction",
        access_key_id=key.access_key_id if key else "",
        account_id=key.account_id if key else "",
        region=facts.region,
        params={
            "FunctionName": facts.name,
            "Qualifier": fc.qualifier(request),
            "InvocationType": request.headers.get("x-fc-invocation-type", ""),
        },
        status=status,
        code=code,
        request_id=request_id,
        duration_ms=(time.monotonic() - started) * 1000,
    )
