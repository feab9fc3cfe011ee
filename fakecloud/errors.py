"""Errors the fake cloud answers with: the real service's code, message and HTTP status.

Backends raise `ApiError`; the server turns it into the wire error body
`{RequestId, HostId, Code, Message, Recommend}` so the real SDK parses it as it would the cloud's.
"""

from __future__ import annotations


class ApiError(Exception):
    """An API error answer: `code` and `status` are what the real service documents."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def missing_parameter(name: str) -> ApiError:
    return ApiError(
        f"MissingParameter.{name}",
        f'The input parameter "{name}" that is mandatory for processing this request '
        "is not supplied.",
    )


def invalid_parameter(name: str, detail: str) -> ApiError:
    return ApiError(f"InvalidParameter.{name}", f'The specified parameter "{name}" {detail}')


def throttling(code: str = "Throttling") -> ApiError:
    messages = {
        "Throttling": "Request was denied due to request throttling.",
        "Throttling.User": "Request was denied due to user flow control.",
        "Throttling.Api": "Request was denied due to api flow control.",
    }
    return ApiError(code, messages.get(code, "Request was denied due to flow control."), 400)


# Default statuses for codes injected as faults without an explicit status.
FAULT_STATUS = {
    "Throttling": 400,
    "Throttling.User": 400,
    "Throttling.Api": 400,
    "InternalError": 500,
    "UnknownError": 400,
    "ServiceUnavailable": 503,
}

FAULT_MESSAGES = {
    "InternalError": "The request processing has failed due to some unknown error.",
    "ServiceUnavailable": "The request has failed due to a temporary failure of the server.",
    "UnknownError": "The request processing has failed due to some unknown error.",
}


def fault_error(code: str, status: int | None = None, message: str | None = None) -> ApiError:
    """An injected error with the status and wording the real service uses for `code`."""
    if code.startswith("Throttling") and message is None:
        error = throttling(code)
        return ApiError(error.code, error.message, status or error.status)
    return ApiError(
        code,
        message or FAULT_MESSAGES.get(code, "Injected fault."),
        status or FAULT_STATUS.get(code, 400),
    )
