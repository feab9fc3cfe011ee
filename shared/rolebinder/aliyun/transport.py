"""How the gateways send SDK requests: timeouts, our retry policy, JSON, error translation.

Both gateways (`rolebinder.aliyun.ecs`, `rolebinder.aliyun.ram`) send through `Transport`; only
operator tooling (the local demo) calls the SDK otherwise. Reads are retried on every
transient error. Writes are retried only on throttling, which the service answers before doing
anything; after a timeout, a dropped connection or a 5xx the write may have happened, so the
error goes up to the engine, which reads the binding again instead of repeating the write.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable

from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest

from rolebinder.aliyun.pacing import Pacer
from rolebinder.aliyun.retry import Backoff, Deadline, retry_transient
from rolebinder.domain import ids
from rolebinder.errors import CloudError, MalformedResponseError
from rolebinder.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "Throttling.Resource",
        "ServiceUnavailable.Throttling",
        "Rejected.Throttling",
    }
)
TRANSIENT_CODES = THROTTLING_CODES | {
    "ServiceUnavailable",
    "InternalError",
    "UnknownError",
    "OperationConflict",
    "IncorrectInstanceStatus",
    "SDK.HttpError",
    "SDK.ServerUnreachable",
}
# The SignatureDoesNotMatch message echoes the string to sign, which holds the security token.
_SECRETS = ids.Pattern(
    r"(server string to sign is:).*|(SecurityToken|Signature)(=|%3D)[^&\s]*", re.I
)
# Keeps a call from waiting past what is left of the invocation.
_MIN_TIMEOUT = 1.0


def redact(text: str) -> str:
    """Strip anything derived from credentials out of an error message."""
    return _SECRETS.sub(lambda m: f"{m.group(1) or m.group(2) + '='}<redacted>", text)[:500]


class CallCount:
    """Requests sent (retries included), counted across threads: the summary line reports it."""

    def __init__(self) -> None:
        self.total = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.total += 1


_BACKOFF = Backoff()


class _Limits(Value):
    api_timeout: float
    connect_timeout: float
    backoff: Backoff
    pacer: Pacer | None  # container-wide; spaces each action's calls (rolebinder.aliyun.pacing)
    calls: CallCount  # this invocation's requests


class CallLimits(_Limits):
    """How one invocation calls the API; `calls` defaults to a fresh counter."""

    __slots__ = ()

    def __new__(
        cls,
        api_timeout: float = 10.0,
        connect_timeout: float = 3.0,
        backoff: Backoff = _BACKOFF,
        pacer: Pacer | None = None,
        calls: CallCount | None = None,
    ) -> CallLimits:
        return super().__new__(
            cls,
            api_timeout,
            connect_timeout,
            backoff,
            pacer,
            CallCount() if calls is None else calls,
        )


# The limits of a Transport built without any (tests, tools): one shared counter, as before.
_NO_LIMITS = CallLimits()


class _Turn:
    """One call's place in its action's pacing queue, kept across its retries."""

    __slots__ = ("ticket",)

    def __init__(self) -> None:
        self.ticket: int | None = None


class Transport:
    """Sends requests for one SDK client under one invocation's deadline."""

    def __init__(self, client: AcsClient, deadline: Deadline, limits: CallLimits = _NO_LIMITS):
        self.client = client
        self.deadline = deadline
        self.limits = limits

    def read(self, request: RpcRequest) -> dict[str, Any]:
        """A read: retried on any transient error while the deadline allows."""
        turn = _Turn()
        return retry_transient(
            lambda: self._send(request, turn),
            self.deadline,
            self.limits.backoff,
            pause=self._pause_for(request),
        )

    def idempotent_write(self, request: RpcRequest) -> dict[str, Any]:
        """A write that may safely happen twice (setting a tag): retried like a read."""
        return self.read(request)

    def write(self, request: RpcRequest) -> dict[str, Any]:
        """A write: retried only on throttling (the call was refused before it ran)."""
        turn = _Turn()
        return retry_transient(
            lambda: self._send(request, turn),
            self.deadline,
            self.limits.backoff,
            retryable=lambda error: error.code in THROTTLING_CODES,
            pause=self._pause_for(request),
        )

    def _pause_for(self, request: RpcRequest) -> Callable[[CloudError, float], float]:
        """A throttled call of a paced action waits for its next slot, not a random backoff."""
        pacer, action = self.limits.pacer, request.get_action_name()

        def pause(error: CloudError, delay: float) -> float:
            paced = pacer is not None and pacer.rate(action) is not None
            return 0.0 if paced and error.code in THROTTLING_CODES else delay

        return pause

    def _send(self, request: RpcRequest, turn: _Turn) -> dict[str, Any]:
        action = request.get_action_name()
        pacer = self.limits.pacer
        if pacer is not None:
            turn.ticket = pacer.wait(action, self.deadline.remaining(), turn.ticket)
        timeout = max(_MIN_TIMEOUT, min(self.limits.api_timeout, self.deadline.remaining()))
        request.set_read_timeout(timeout)
        request.set_connect_timeout(min(self.limits.connect_timeout, timeout))
        self.limits.calls.add()
        try:
            body = self.client.do_action_with_exception(request)
        except ServerException as error:
            cloud_error = translate_server_error(action, error)
            if pacer is not None and cloud_error.code in THROTTLING_CODES:
                pacer.throttled(action, turn.ticket)
            raise cloud_error from error
        except ClientException as error:
            raise translate_client_error(action, error) from error
        if pacer is not None:
            pacer.succeeded(action)
        return parse_body(action, body)


def translate_server_error(action: str, error: ServerException) -> CloudError:
    code = error.get_error_code() or "SDK.UnknownServerError"
    status = error.get_http_status()
    return CloudError(
        action,
        code,
        redact(error.get_error_msg() or ""),
        request_id=error.get_request_id(),
        http_status=status,
        transient=code in TRANSIENT_CODES or (status is not None and status >= 500),
    )


def translate_client_error(action: str, error: ClientException) -> CloudError:
    code = error.get_error_code() or "SDK.ClientError"
    return CloudError(
        action, code, redact(error.get_error_msg() or ""), transient=code in TRANSIENT_CODES
    )


def parse_body(action: str, body: bytes | str) -> dict[str, Any]:
    """The JSON object of a 2xx answer, or MalformedResponseError naming what was wrong."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedResponseError(action, f"the answer is not JSON: {body[:80]!r}") from None
    if not isinstance(document, dict):
        raise MalformedResponseError(action, f"the answer is not a JSON object: {body[:80]!r}")
    return document


_MISSING = object()


class Answer:
    """Typed, path-aware reads from a response document; bad shapes raise MalformedResponseError."""

    def __init__(self, action: str, document: dict[str, Any]) -> None:
        self.action = action
        self.document = document
        request_id = document.get("RequestId")
        self.request_id = request_id if isinstance(request_id, str) else None

    def get(self, path: str, kind: type | tuple[type, ...], default: Any = _MISSING) -> Any:
        """The value at a dotted `path`, which must be of `kind`; `default` when absent."""
        value: Any = self.document
        for part in path.split("."):
            value = value.get(part, _MISSING) if isinstance(value, dict) else _MISSING
            if value is _MISSING:
                if default is _MISSING:
                    self.fail(f"{path}: missing")
                return default
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int, str))):
            self.fail(f"{path}: expected {_kind_name(kind)}, got {type(value).__name__}")
        return value

    def fail(self, detail: str) -> Any:
        raise MalformedResponseError(self.action, detail, request_id=self.request_id)


def item_get(
    answer: Answer,
    item: Any,
    where: str,
    key: str,
    kind: type | tuple[type, ...],
    default: Any = _MISSING,
) -> Any:
    """A field of one list element, with the same checks as `Answer.get`."""
    if not isinstance(item, dict):
        answer.fail(f"{where}: expected an object, got {type(item).__name__}")
    value = item.get(key, default)
    if value is _MISSING:
        answer.fail(f"{where}.{key}: missing")
    if value is not default and not isinstance(value, kind):
        answer.fail(f"{where}.{key}: expected {_kind_name(kind)}, got {type(value).__name__}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)
