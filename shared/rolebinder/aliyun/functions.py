"""Function Compute 3.0 gateway: a hub's sweep fans out as asynchronous invocations.

FC 3.0's API (2023-03-30) signs with ACS3-HMAC-SHA256, which only the official SDK
`alibabacloud-fc20230330` speaks; it is imported here, on first use, so no event's cold start
pays for it. An asynchronous invocation is accepted, queued and retried by FC itself (at least
once; payload at most 128 KB: docs/research/multi-account.md §5).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from rolebinder.aliyun.credentials import Credentials
from rolebinder.aliyun.transport import CallCount, redact
from rolebinder.errors import CloudError

ACTION = "InvokeFunction"
QUALIFIER = "LATEST"
MAX_ASYNC_PAYLOAD = 128 * 1024
_TIMEOUT_MS = 10_000


class FunctionGateway:
    """Invokes functions of the hub's own account and region, asynchronously."""

    def __init__(
        self,
        credentials: Credentials,
        region: str,
        endpoint: str | None = None,
        calls: CallCount | None = None,
    ):
        self.credentials = credentials
        self.region = region
        self.endpoint = endpoint
        self.calls = calls or CallCount()  # the invocation's request count
        self._client: Any = None

    def invoke_async(self, function: str, payload: bytes) -> str | None:
        """Queue one invocation; its request id. CloudError when FC refuses it."""
        from alibabacloud_fc20230330 import models  # noqa: PLC0415 - the fan-out path only
        from Tea.exceptions import TeaException  # noqa: PLC0415

        if len(payload) > MAX_ASYNC_PAYLOAD:
            raise CloudError(ACTION, "PayloadTooLarge", f"{len(payload)} bytes > 128 KB")
        headers = models.InvokeFunctionHeaders(x_fc_invocation_type="Async")
        request = models.InvokeFunctionRequest(body=payload, qualifier=QUALIFIER)
        self.calls.add()
        try:
            response = self.client().invoke_function_with_options(
                function, request, headers, _runtime()
            )
        except TeaException as error:
            raise _translate(error) from error
        except OSError as error:  # the SDK's connection errors
            raise CloudError(ACTION, "SDK.HttpError", redact(str(error)), transient=True) from error
        answer = {k.lower(): v for k, v in (response.headers or {}).items()}
        return answer.get("x-fc-request-id")

    def client(self) -> Any:
        if self._client is None:
            from alibabacloud_fc20230330.client import Client  # noqa: PLC0415
            from alibabacloud_tea_openapi import utils_models  # noqa: PLC0415

            config = utils_models.Config(
                access_key_id=self.credentials.access_key_id,
                access_key_secret=self.credentials.access_key_secret,
                security_token=self.credentials.security_token or None,
                region_id=self.region,
                **_endpoint(self.endpoint),
            )
            self._client = Client(config)
        return self._client


def _endpoint(url: str | None) -> dict[str, str]:
    """An override such as http://127.0.0.1:8790 (the fake) as the SDK's endpoint and protocol."""
    if not url:
        return {}
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return {"endpoint": parts.netloc, "protocol": parts.scheme or "https"}


def _runtime() -> Any:
    from darabonba.runtime import RuntimeOptions  # noqa: PLC0415

    # Our caller decides about retries; an accepted async call is FC's to retry.
    return RuntimeOptions(
        autoretry=False, max_attempts=1, read_timeout=_TIMEOUT_MS, connect_timeout=3000
    )


def _translate(error: Any) -> CloudError:
    data = getattr(error, "data", None) or {}
    status = getattr(error, "status_code", None) or data.get("statusCode")
    status = status if isinstance(status, int) else None
    if status is None:
        # No answer at all (connection refused, reset, timed out): the SDK wraps the network
        # error; trying again later may succeed.
        message = redact(str(getattr(error, "inner_exception", None) or error))
        return CloudError(ACTION, "SDK.HttpError", message, transient=True)
    code = data.get("Code") or getattr(error, "code", None) or "FC.Error"
    return CloudError(
        ACTION,
        str(code),
        redact(str(data.get("Message") or getattr(error, "message", "") or "")),
        request_id=data.get("RequestId") or getattr(error, "request_id", None),
        http_status=status,
        transient=status is not None and (status == 429 or status >= 500),
    )
