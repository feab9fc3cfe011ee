"""The project's own errors.

`InputError` and its children mean the caller gave us something unusable (an event, a mapping
file, a CLI argument): nothing is written and the message names what was wrong.
`CloudError` carries what an Alibaba Cloud API said (code, message, request id, HTTP status) and
whether trying again can help. Gateways are the only code that creates `CloudError`s from SDK
exceptions; everything above them sees only these types.
"""

from __future__ import annotations

from rolebinder.value import Value


class RolebinderError(Exception):
    """Base of every error rolebinder raises on purpose."""


class InputError(RolebinderError):
    """Unusable input: bad event, mapping, argument or file. Never retried, never written."""


class EventError(InputError):
    """An event could not be parsed; the message names the field and the problem."""


class Problem(Value):
    """One validation problem at a JSON path such as `rules[1].when.tags`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class MappingError(InputError):
    """The tag-to-role mapping is invalid. Carries every problem found, sorted by path."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "; ".join(str(problem) for problem in problems)
        super().__init__(f"invalid mapping {source}: {lines}")


class CloudError(RolebinderError):
    """An Alibaba Cloud API call failed.

    `transient` is True when the same call may succeed later (throttling, 5xx, network);
    such errors are retried, and when retries run out the handler raises so FC retries the event.
    """

    def __init__(
        self,
        action: str,
        code: str,
        message: str,
        *,
        request_id: str | None = None,
        http_status: int | None = None,
        transient: bool = False,
    ) -> None:
        self.action = action
        self.code = code
        self.message = message
        self.request_id = request_id
        self.http_status = http_status
        self.transient = transient
        status = f" HTTP {http_status}" if http_status else ""
        rid = f" (request {request_id})" if request_id else ""
        super().__init__(f"{action} failed:{status} {code}: {message}{rid}")


class MalformedResponseError(CloudError):
    """A 2xx response whose body does not have the documented shape.

    Transient: a gateway glitch answering an HTML page is the usual cause, and a retry (ours,
    or FC's redelivery) is how nothing gets lost; a lasting change of shape ends in the
    dead-letter queue with this error on every attempt.
    """

    def __init__(self, action: str, detail: str, *, request_id: str | None = None) -> None:
        super().__init__(action, "MalformedResponse", detail, request_id=request_id, transient=True)
