"""`rolebinder invoke` on Function Compute 3.0: the request through alibabacloud-fc20230330.

FC 3.0 has no services: a function is addressed by name, at the account's endpoint
https://<account-id>.<region>.fc.aliyuncs.com, API version 2023-03-30 (ACS3-HMAC-SHA256
signing, done by the SDK). The answer is turned into the same Reply as the FC 2.0 path, so the
command prints and exits the same way whichever API deployed the function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rolebinder.cli.invoke_request import InvokeError, Reply

if TYPE_CHECKING:
    from rolebinder.cli.invoke_request import InvokeRequest

QUALIFIER = "LATEST"  # what the template's triggers invoke
TIMEOUT_MS = 900_000  # a synchronous invocation may run as long as the function (15 min cap here)


def send(invocation: InvokeRequest) -> Reply:
    """POST the invocation through the FC 3.0 SDK; InvokeError when FC refuses or is unreachable."""
    from alibabacloud_fc20230330 import models  # noqa: PLC0415 - only this command needs it
    from Tea.exceptions import TeaException  # noqa: PLC0415

    headers = models.InvokeFunctionHeaders(
        x_fc_invocation_type="Async" if invocation.asynchronous else "Sync",
        x_fc_log_type=None if invocation.asynchronous else "Tail",
    )
    request = models.InvokeFunctionRequest(body=invocation.payload, qualifier=QUALIFIER)
    try:
        response = _client(invocation).invoke_function_with_options(
            invocation.function, request, headers, _runtime()
        )
    except TeaException as error:
        raise InvokeError(_api_error(error)) from error
    except OSError as error:  # requests' connection errors are OSErrors
        raise InvokeError(f"cannot reach {invocation.endpoint}: {error}") from error
    answer = {k.lower(): v for k, v in (response.headers or {}).items()}
    error_type = answer.get("x-fc-error-type", "")
    return Reply(response.status_code, error_type, _read(response.body), answer)


def _client(invocation: InvokeRequest) -> Any:
    from alibabacloud_fc20230330.client import Client  # noqa: PLC0415
    from alibabacloud_tea_openapi import utils_models  # noqa: PLC0415

    key_id, secret, token = invocation.credentials
    config = utils_models.Config(
        access_key_id=key_id,
        access_key_secret=secret,
        security_token=token or None,
        endpoint=invocation.endpoint.removeprefix("https://"),
        protocol="https",
    )
    return Client(config)


def _runtime() -> Any:
    from darabonba.runtime import RuntimeOptions  # noqa: PLC0415

    # One attempt: a retried synchronous invocation would run the function twice.
    return RuntimeOptions(autoretry=False, max_attempts=1, read_timeout=TIMEOUT_MS)


def _read(body: Any) -> bytes:
    if body is None:
        return b""
    data = body.read() if hasattr(body, "read") else body
    return data if isinstance(data, bytes) else str(data).encode()


def _api_error(error: Any) -> str:
    data = getattr(error, "data", None) or {}
    code = data.get("Code") or getattr(error, "code", None) or "Error"
    message = data.get("Message") or "no message"
    status = getattr(error, "status_code", None) or data.get("statusCode")
    request_id = getattr(error, "request_id", None) or data.get("RequestId")
    return f"FC refused the call: HTTP {status} {code}: {message} (request id {request_id})"
