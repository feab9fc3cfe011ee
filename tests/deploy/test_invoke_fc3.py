"""`rolebinder invoke` on FC 3.0 (the default): the request, what is printed, exit codes.

The FC 3.0 HTTP API is mocked with `responses` (alibabacloud-fc20230330 sends through plain
`requests`). The ACS3-HMAC-SHA256 signature is recomputed here from the documented scheme
(canonical request -> SHA-256 -> HMAC-SHA256 with the secret), not with the SDK's own code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import responses

from rolebinder.cli import main
from rolebinder.deploy import template as tpl

ROOT = Path(__file__).resolve().parents[2]
EVENT = ROOT / "events" / "eventbridge-ecs-instance-statechange-created.json"
ACCOUNT = "1234567890123456"
REGION = "cn-hangzhou"
KEY_ID, SECRET, TOKEN = "LTAI-test-key", "test-secret-value", "test-sts-token-value"
BASE = f"https://{ACCOUNT}.{REGION}.fc.aliyuncs.com/2023-03-30/functions"
RESULT = {"function": "instance_events", "events": 1, "outcomes": {"attached": 1}}


def url(function: str) -> str:
    return f"{BASE}/{function}/invocations?qualifier=LATEST"


def argv(*extra: str, function: str = "instance_events", event: Path = EVENT) -> list[str]:
    return ["invoke", function, str(event), "--region", REGION, "--account-id", ACCOUNT, *extra]


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)


@pytest.fixture
def fc() -> responses.RequestsMock:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def acs3_signature(request: responses.Call) -> str:
    """The ACS3-HMAC-SHA256 Authorization value, computed independently of the SDK, over the
    headers the request declares signed (as the server does); those must cover host,
    content-type and every x-acs-* and x-fc-* header."""
    sent = request.request
    headers = {k.lower(): str(v).strip() for k, v in sent.headers.items()}
    signed = signed_headers(request)
    must = {k for k in headers if k.startswith(("x-acs-", "x-fc-"))} | {"host", "content-type"}
    assert must <= set(signed) and signed == sorted(signed)
    parts = urlsplit(sent.url)
    body = sent.body or b""
    canonical = "\n".join(
        [
            sent.method,
            parts.path,
            parts.query,
            "".join(f"{k}:{headers[k]}\n" for k in signed),
            ";".join(signed),
            hashlib.sha256(body if isinstance(body, bytes) else body.encode()).hexdigest(),
        ]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    digest = hmac.new(SECRET.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"ACS3-HMAC-SHA256 Credential={KEY_ID},SignedHeaders={';'.join(signed)},Signature={digest}"
    )


def signed_headers(request: responses.Call) -> list[str]:
    authorization = request.request.headers["authorization"]
    return authorization.split("SignedHeaders=")[1].split(",")[0].split(";")


@pytest.mark.usefixtures("credentials")
def test_a_sync_invocation_sends_the_file_and_prints_the_result(
    fc: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a function that succeeds and returns a log tail
    tail = base64.b64encode(b'FC Invoke Start RequestId: r-1\n{"outcome": "attached"}\n').decode()
    fc.post(
        url("rolebinder-instance-events"),
        json=RESULT,
        headers={"x-fc-request-id": "r-1", "x-fc-log-result": tail},
    )
    # WHEN it is invoked with --logs
    code = main(argv("--logs"))
    # THEN one signed, synchronous POST to the template's default name carried the bytes unchanged
    assert code == 0
    (request,) = fc.calls
    sent = request.request
    assert sent.method == "POST" and sent.url == url("rolebinder-instance-events")
    assert sent.headers["x-fc-invocation-type"] == "Sync"
    assert sent.headers["x-fc-log-type"] == "Tail"
    assert {"host", "x-fc-invocation-type", "x-acs-date"} <= set(signed_headers(request))
    assert sent.headers["authorization"] == acs3_signature(request)
    assert "x-acs-security-token" not in sent.headers
    assert sent.body == EVENT.read_bytes()
    # AND the result is on stdout, the decoded log tail on stderr
    out, err = capsys.readouterr()
    assert json.loads(out) == RESULT
    assert err.splitlines() == ["FC Invoke Start RequestId: r-1", '{"outcome": "attached"}']


@pytest.mark.usefixtures("credentials")
def test_the_signature_check_catches_a_tampered_body(fc: responses.RequestsMock) -> None:
    # GIVEN a recorded, correctly signed request
    fc.post(url("rolebinder-reconcile"), json={})
    assert main(argv(function="reconcile")) == 0
    (request,) = fc.calls
    # WHEN its body is changed after signing
    request.request.body = b'{"tampered": true}'
    # THEN the independent signature no longer matches the one sent
    assert request.request.headers["authorization"] != acs3_signature(request)


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize("function", [*tpl.FUNCTION_DIRS, "my-other_fn"])
def test_function_names_follow_the_template(fc: responses.RequestsMock, function: str) -> None:
    deployed = tpl.deployed_names(tpl.load_template()).get(function, function)
    fc.post(url(deployed), json={})
    assert main(argv(function=function)) == 0
    assert fc.calls[0].request.url == url(deployed)
    if function in tpl.FUNCTION_DIRS:
        assert deployed == "rolebinder-" + function.replace("_", "-")


@pytest.mark.usefixtures("credentials")
def test_an_sts_token_is_sent_and_never_printed(
    fc: responses.RequestsMock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
    body = {"Code": "InvalidAccessKeyId", "Message": "denied", "RequestId": "r-403"}
    fc.post(url("rolebinder-instance-events"), status=403, json=body)
    code = main(argv())
    (request,) = fc.calls
    assert request.request.headers["x-acs-security-token"] == TOKEN
    assert request.request.headers["authorization"] == acs3_signature(request)
    out, err = capsys.readouterr()
    assert code == 1
    assert TOKEN not in out + err and SECRET not in out + err
    assert "signature" not in (out + err).lower()


@pytest.mark.usefixtures("credentials")
def test_async_queues_the_event_and_prints_the_request_id(
    fc: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    fc.post(url("rolebinder-reconcile"), status=202, body=b"", headers={"x-fc-request-id": "r-a"})
    sweep = ROOT / "events" / "fc-timer-sweep.json"
    code = main(argv("--async", function="reconcile", event=sweep))
    assert code == 0
    (request,) = fc.calls
    assert request.request.headers["x-fc-invocation-type"] == "Async"
    assert "x-fc-log-type" not in request.request.headers
    assert request.request.body == sweep.read_bytes()
    assert capsys.readouterr().out == "queued: request id r-a\n"


@pytest.mark.usefixtures("credentials")
def test_a_function_error_exits_1_with_one_line(
    fc: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a function that raised (FC answers 200 with x-fc-error-type)
    error = {"errorMessage": "2 instance(s) hit transient errors", "errorType": "RetryLaterError"}
    headers = {"X-Fc-Error-Type": "UnhandledInvocationError", "X-Fc-Request-Id": "r-err"}
    fc.post(url("rolebinder-instance-events"), status=200, json=error, headers=headers)
    # WHEN it is invoked
    code = main(argv())
    # THEN exit 1: the error body on stdout, one summary line on stderr
    out, err = capsys.readouterr()
    assert code == 1
    assert json.loads(out) == error
    assert err == (
        "rolebinder invoke: rolebinder-instance-events failed: UnhandledInvocationError: "
        "RetryLaterError: 2 instance(s) hit transient errors (request id r-err)\n"
    )


@pytest.mark.usefixtures("credentials")
def test_fc_refusing_the_call_exits_1_with_one_line_and_one_attempt(
    fc: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {"Code": "FunctionNotFound", "Message": "function not found", "RequestId": "r-404"}
    fc.post(url("rolebinder-tag-events"), status=404, json=body)
    code = main(argv(function="tag_events"))
    out, err = capsys.readouterr()
    assert (code, out, len(fc.calls)) == (1, "", 1)
    assert err == (
        "rolebinder invoke: error: FC refused the call: HTTP 404 FunctionNotFound: "
        "function not found (request id r-404)\n"
    )


@pytest.mark.usefixtures("credentials")
def test_a_missing_template_needs_the_deployed_name(
    fc: responses.RequestsMock, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(argv("--template", str(tmp_path / "missing.yml")))
    out, err = capsys.readouterr()
    assert (code, out, len(fc.calls)) == (2, "", 0)
    assert err.count("\n") == 1 and "give the deployed name" in err
