"""`rolebinder invoke FUNCTION EVENT_FILE`: run a deployed function on a sample event.

FUNCTION is a handler directory (instance_events, tag_events, reconcile) or any deployed
function's name. --api fc3 (default; what template.yml deploys): a directory names the function
a default deployment of template.yml gets (rolebinder-instance-events, ...), invoked through
alibabacloud-fc20230330. --api fc2, for a stack of the earlier FC 2.0 template: the function is
InstanceEvents, TagEvents or Reconcile in --service (default rolebinder), through aliyun-fc2.
The event file's bytes are the payload, unchanged. Synchronous by default: prints the function's
result on stdout, and with --logs the tail of its log (last 4 KB) on stderr. --async only queues
the event and prints the request id. Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET
(/ _SECURITY_TOKEN); the endpoint is https://<account-id>.<region>.fc.aliyuncs.com.
Exit codes: 0 the function succeeded (or the event was queued); 1 the function reported an error
(X-Fc-Error-Type) or FC refused the call; 2 bad input, found before any request is sent.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rolebinder.cli import EXIT_FAILED, EXIT_OK
from rolebinder.cli.invoke_request import InvokeError, InvokeRequest, Reply
from rolebinder.deploy import template as tpl
from rolebinder.domain import ids
from rolebinder.entrypoints import config
from rolebinder.errors import InputError

# FC function names: letters, digits, _ and -, not starting with a digit or -, at most 64.
_FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_SERVICE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")
_REGION = ids.matcher(ids.REGION)
_ACCOUNT = ids.matcher(ids.ACCOUNT_ID)
MAX_SYNC_PAYLOAD = 32 * 1024 * 1024  # FC: synchronous invocation payload limit
MAX_ASYNC_PAYLOAD = 128 * 1024  # FC: asynchronous invocation payload limit
FC3, FC2 = "fc3", "fc2"
APIS = (FC3, FC2)
FC2_SERVICE = "rolebinder"  # the FC 2.0 template's default ServiceName


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "invoke",
        help="invoke a deployed function with a sample event",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("function", metavar="FUNCTION")
    parser.add_argument("event_file", metavar="EVENT_FILE", type=Path)
    parser.add_argument("--api", choices=APIS, default=FC3, help="FC API (default fc3)")
    parser.add_argument("--service", help=f"FC 2.0 service (--api fc2; default {FC2_SERVICE})")
    parser.add_argument("--region", required=True, help="region id, e.g. cn-hangzhou")
    parser.add_argument("--account-id", required=True, help="the account the service is in")
    parser.add_argument("--async", dest="async_", action="store_true", help="queue, do not wait")
    parser.add_argument("--logs", action="store_true", help="print the log tail on stderr")
    parser.add_argument(
        "--template", type=Path, default=tpl.DEFAULT_TEMPLATE, help=argparse.SUPPRESS
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    invocation = prepare(args)
    try:
        reply = send(invocation)
    except InvokeError as error:
        print(f"rolebinder invoke: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    if invocation.asynchronous:
        print(f"queued: request id {_request_id(reply)}")
        return EXIT_OK
    if args.logs:
        _print_logs(reply)
    print(reply.body.decode("utf-8", errors="replace"))
    if reply.error_type:
        print(
            f"rolebinder invoke: {invocation.function} failed: {_describe_error(reply)}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def prepare(args: argparse.Namespace) -> InvokeRequest:
    """Every check that needs no request: InputError (exit 2) for the first that fails."""
    if not _REGION.fullmatch(args.region):
        raise InputError(f"--region {args.region!r} is not a region id like cn-hangzhou")
    if not _ACCOUNT.fullmatch(args.account_id):
        raise InputError(f"--account-id {args.account_id!r} is not an account id (digits only)")
    service, function = _target(args)
    payload = read_event(args.event_file, MAX_ASYNC_PAYLOAD if args.async_ else MAX_SYNC_PAYLOAD)
    endpoint = f"https://{args.account_id}.{args.region}.fc.aliyuncs.com"
    return InvokeRequest(endpoint, service, function, payload, args.async_, credentials())


def _target(args: argparse.Namespace) -> tuple[str | None, str]:
    """(FC 2.0 service or None, function name) for the chosen API."""
    if args.api == FC2:
        service = args.service or FC2_SERVICE
        if not _SERVICE_NAME.match(service):
            raise InputError(f"--service {service!r} is not an FC service name")
        return service, function_name(args.function)
    if args.service:
        raise InputError("--service is for --api fc2: FC 3.0 has no services")
    return None, fc3_function_name(args.function, args.template)


def function_name(argument: str) -> str:
    """The FC 2.0 deployed name: a handler directory maps to its template logical id."""
    if argument in tpl.FUNCTION_DIRS:
        return tpl.logical_id(argument)
    return _checked_name(argument)


def fc3_function_name(argument: str, template: Path) -> str:
    """The FC 3.0 deployed name: a handler directory maps to the template's default name."""
    if argument not in tpl.FUNCTION_DIRS:
        return _checked_name(argument)
    names = tpl.deployed_names(tpl.load_template(template)) if template.is_file() else {}
    if argument not in names:
        raise InputError(f"no function name for {argument} in {template}: give the deployed name")
    return names[argument]


def _checked_name(argument: str) -> str:
    if _FUNCTION_NAME.match(argument):
        return argument
    known = ", ".join(tpl.FUNCTION_DIRS)
    raise InputError(f"unknown function {argument!r}: use one of {known} or a function name")


def read_event(path: Path, limit: int) -> bytes:
    """The event file's bytes, once they are known to be one JSON document within FC's limit."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise InputError(f"{path} is {len(data)} bytes; FC accepts at most {limit} for this call")
    try:
        json.loads(data)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise InputError(f"{path} is not JSON: {exc}") from exc
    return data


def credentials() -> tuple[str, str, str]:
    """(key id, secret, security token or '') from the standard environment variables."""
    import os  # noqa: PLC0415 - the one place this command reads the environment

    key_id, secret = os.environ.get(config.ACCESS_KEY_ID), os.environ.get(config.ACCESS_KEY_SECRET)
    if not key_id or not secret:
        raise InputError(f"set {config.ACCESS_KEY_ID} and {config.ACCESS_KEY_SECRET} to invoke")
    return key_id, secret, os.environ.get(config.SECURITY_TOKEN, "")


def send(invocation: InvokeRequest) -> Reply:
    """POST the invocation through the SDK of the API that deployed the function."""
    if invocation.service is None:
        from rolebinder.cli import invoke_fc3  # noqa: PLC0415 - the FC 3.0 SDK is a heavy import

        return invoke_fc3.send(invocation)
    return send_fc2(invocation)


def send_fc2(invocation: InvokeRequest) -> Reply:
    """POST the invocation through aliyun-fc2 (its signing, its endpoint layout)."""
    import fc2  # noqa: PLC0415 - a heavy import only this command needs
    from fc2.fc_exceptions import FcError  # noqa: PLC0415

    key_id, secret, token = invocation.credentials
    client = fc2.Client(
        endpoint=invocation.endpoint,
        accessKeyID=key_id,
        accessKeySecret=secret,
        securityToken=token,
    )
    headers = {"x-fc-invocation-type": "Async" if invocation.asynchronous else "Sync"}
    if not invocation.asynchronous:
        headers["x-fc-log-type"] = "Tail"
    try:
        with _quiet_fc2():
            response = _post(client, invocation, headers)
    except FcError as error:
        raise InvokeError(_api_error(error)) from error
    except OSError as error:  # requests' connection errors are OSErrors
        raise InvokeError(f"cannot reach {invocation.endpoint}: {error}") from error
    except ValueError as error:  # fc2 reads every error body as JSON before raising
        raise InvokeError(f"FC answered with an error that is not JSON: {error}") from error
    return Reply(
        response.status_code,
        response.headers.get("x-fc-error-type", ""),
        response.content,
        response.headers,
    )


def _post(client: Any, invocation: InvokeRequest, headers: dict[str, str]) -> Any:
    # Client.invoke_function sends exactly this request, but on a function error it raises and
    # drops the response headers: the log tail and the request id an operator needs most then.
    # So the same signed request goes through the client's own request path, minus that raise.
    function = f"services/{invocation.service}/functions/{invocation.function}"
    path = f"/{client.api_version}/{function}/invocations"
    signed = client._build_common_headers("POST", path, headers)
    return client._do_request("POST", path, signed, body=invocation.payload)


@contextlib.contextmanager
def _quiet_fc2() -> Iterator[None]:
    # fc2 logs a refused request with its signed headers (security token included) through the
    # root logger, which Python would print on stderr; secrets stay off the terminal.
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


def _api_error(error: Any) -> str:
    try:
        body = json.loads(error.message)
    except (TypeError, ValueError):
        body = {}
    code = body.get("ErrorCode") or error.err_code or "Error"
    message = body.get("ErrorMessage") or "no message"
    status, request_id = error.status_code, error.request_id
    return f"FC refused the call: HTTP {status} {code}: {message} (request id {request_id})"


def _describe_error(reply: Reply) -> str:
    try:
        body = json.loads(reply.body)
    except ValueError:
        body = {}
    kind = body.get("errorType") if isinstance(body, dict) else None
    message = body.get("errorMessage") if isinstance(body, dict) else None
    detail = f"{kind}: {message}" if kind or message else reply.error_type
    return f"{reply.error_type}: {detail} (request id {_request_id(reply)})"


def _request_id(reply: Reply) -> str:
    return reply.headers.get("x-fc-request-id", "unknown")


def _print_logs(reply: Reply) -> None:
    encoded = reply.headers.get("x-fc-log-result", "")
    if encoded:
        text = base64.b64decode(encoded).decode("utf-8", errors="replace")
        for line in text.splitlines():
            print(line, file=sys.stderr)
