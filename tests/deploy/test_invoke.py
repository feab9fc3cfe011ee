"""`rolebinder invoke --api fc2`: the request FC gets, what is printed, exit codes; no account.

For stacks of the earlier FC 2.0 template (tests/deploy/test_invoke_fc3.py covers the default,
FC 3.0). The FC 2.0 HTTP API is mocked with `responses` (aliyun-fc2 speaks plain `requests`). The
signature is recomputed here from FC's documented scheme (HMAC-SHA256 over the verb, the
content headers, the date, the x-fc-* headers and the path), not with fc2's own code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
import responses

from rolebinder.cli import main

ROOT = Path(__file__).resolve().parents[2]
EVENT = ROOT / "events" / "eventbridge-ecs-instance-statechange-created.json"
ACCOUNT = "1234567890123456"
REGION = "cn-hangzhou"
KEY_ID, SECRET, TOKEN = "LTAI-test-key", "test-secret-value", "test-sts-token-value"
BASE = f"https://{ACCOUNT}.{REGION}.fc.aliyuncs.com/2016-08-15/services"
RESULT = {"function": "instance_events", "events": 1, "outcomes": {"attached": 1}}


def url(function: str, service: str = "rolebinder") -> str:
    return f"{BASE}/{service}/functions/{function}/invocations"


def argv(*extra: str, function: str = "instance_events", event: Path = EVENT) -> list[str]:
    return [
        *("invoke", function, str(event), "--api", "fc2"),
        *("--region", REGION, "--account-id", ACCOUNT, *extra),
    ]


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)


@pytest.fixture
def fc() -> responses.RequestsMock:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def expected_signature(request: responses.Call, path: str) -> str:
    """FC's documented request signature, computed independently of aliyun-fc2."""
    headers = {k.lower(): v for k, v in request.request.headers.items()}
    fc_headers = "".join(f"{k}:{headers[k]}\n" for k in sorted(headers) if k.startswith("x-fc-"))
    text = "\n".join(
        [
            "POST",
            headers.get("content-md5", ""),
            headers["content-type"],
            headers["date"],
            fc_headers + path,
        ]
    )
    digest = hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).digest()
    return f"FC {KEY_ID}:{base64.b64encode(digest).decode()}"


@pytest.mark.usefixtures("credentials")
def test_a_sync_invocation_sends_the_file_and_prints_the_result(
    fc: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a function that succeeds and returns a log tail
    tail = base64.b64encode(b'FC Invoke Start RequestId: r-1\n{"outcome": "attached"}\n').decode()
    fc.post(
        url("InstanceEvents"),
        json=RESULT,
        headers={"x-fc-request-id": "r-1", "x-fc-log-result": tail},
    )
    # WHEN it is invoked with --logs
    code = main(argv("--logs"))
    # THEN one signed, synchronous POST carried the file's bytes unchanged
    assert code == 0
    (request,) = fc.calls
    sent = request.request
    assert sent.method == "POST" and sent.url == url("InstanceEvents")
    assert sent.headers["x-fc-invocation-type"] == "Sync"
    assert sent.headers["x-fc-log-type"] == "Tail"
    assert sent.headers["authorization"] == expected_signature(
        request, "/2016-08-15/services/rolebinder/functions/InstanceEvents/invocations"
    )
    assert "x-fc-security-token" not in sent.headers
    assert sent.body == EVENT.read_bytes()
    # AND the result is on stdout, the decoded log tail on stderr
    out, err = capsys.readouterr()
    assert json.loads(out) == RESULT
    assert err.splitlines() == ["FC Invoke Start RequestId: r-1", '{"outcome": "attached"}']


@pytest.mark.usefixtures("credentials")
def test_without_logs_nothing_goes_to_stderr(
    fc: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    fc.post(
        url("InstanceEvents"),
        json=RESULT,
        headers={"x-fc-log-result": base64.b64encode(b"noise").decode()},
    )
    assert main(argv()) == 0
    out, err = capsys.readouterr()
    assert (json.loads(out), err) == (RESULT, "")


@pytest.mark.usefixtures("credentials")
def test_an_sts_token_is_sent_and_never_printed(
    fc: responses.RequestsMock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
    fc.post(
        url("InstanceEvents"),
        status=403,
        json={"ErrorCode": "InvalidAccessKeyId", "ErrorMessage": "denied"},
    )
    code = main(argv())
    (request,) = fc.calls
    assert request.request.headers["x-fc-security-token"] == TOKEN
    out, err = capsys.readouterr()
    assert code == 1
    assert TOKEN not in out + err and SECRET not in out + err
    assert "signature" not in (out + err).lower()


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize(
    ("function", "deployed"),
    [
        ("instance_events", "InstanceEvents"),
        ("tag_events", "TagEvents"),
        ("reconcile", "Reconcile"),
        ("my-other_fn", "my-other_fn"),
    ],
)
def test_function_names(fc: responses.RequestsMock, function: str, deployed: str) -> None:
    fc.post(url(deployed), json={})
    assert main(argv(function=function)) == 0
    assert fc.calls[0].request.url == url(deployed)


@pytest.mark.usefixtures("credentials")
def test_service_option_overrides_the_template_default(fc: responses.RequestsMock) -> None:
    fc.post(url("InstanceEvents", service="rolebinder-staging"), json={})
    assert main(argv("--service", "rolebinder-staging")) == 0
    assert len(fc.calls) == 1


@pytest.mark.usefixtures("credentials")
def test_async_queues_the_event_and_prints_the_request_id(
    fc: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    fc.post(url("Reconcile"), status=202, body=b"", headers={"x-fc-request-id": "r-async"})
    sweep = ROOT / "events" / "fc-timer-sweep.json"
    code = main(argv("--async", function="reconcile", event=sweep))
    assert code == 0
    (request,) = fc.calls
    assert request.request.headers["x-fc-invocation-type"] == "Async"
    assert "x-fc-log-type" not in request.request.headers
    assert request.request.body == sweep.read_bytes()
    assert capsys.readouterr().out == "queued: request id r-async\n"


@pytest.mark.usefixtures("credentials")
def test_a_function_error_exits_1_with_one_line(
    fc: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a function that raised (FC answers 200 with X-Fc-Error-Type)
    error = {
        "errorMessage": "2 instance(s) hit transient errors",
        "errorType": "RetryLaterError",
        "stackTrace": ["..."],
    }
    tail = base64.b64encode(b"Traceback (most recent call last):\n").decode()
    headers = {
        "X-Fc-Error-Type": "UnhandledInvocationError",
        "X-Fc-Request-Id": "r-err",
        "X-Fc-Log-Result": tail,
    }
    fc.post(url("InstanceEvents"), status=200, json=error, headers=headers)
    # WHEN it is invoked
    code = main(argv("--logs"))
    # THEN exit 1: the error body on stdout, the log tail and one summary line on stderr
    out, err = capsys.readouterr()
    assert code == 1
    assert json.loads(out) == error
    assert err.splitlines() == [
        "Traceback (most recent call last):",
        "rolebinder invoke: InstanceEvents failed: UnhandledInvocationError: RetryLaterError: "
        "2 instance(s) hit transient errors (request id r-err)",
    ]


@pytest.mark.usefixtures("credentials")
def test_fc_refusing_the_call_exits_1_with_one_line(
    fc: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {
        "ErrorCode": "FunctionNotFound",
        "ErrorMessage": "function 'InstanceEvents' does not exist",
    }
    fc.post(url("InstanceEvents"), status=404, json=body, headers={"X-Fc-Request-Id": "r-404"})
    code = main(argv())
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err == (
        "rolebinder invoke: error: FC refused the call: HTTP 404 FunctionNotFound: "
        "function 'InstanceEvents' does not exist (request id r-404)\n"
    )


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing-file", "cannot read"),
        ("bad-json", "is not JSON"),
        ("not-utf8", "is not JSON"),
        ("unknown-function", "unknown function"),
        ("no-credentials", "ALIBABA_CLOUD_ACCESS_KEY_ID"),
        ("bad-region", "--region"),
        ("bad-account", "--account-id"),
        ("async-too-large", "at most 131072"),
        ("fc3-service", "--service is for --api fc2"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_sends_nothing(
    case: str,
    message: str,
    tmp_path: Path,
    fc: responses.RequestsMock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    credentials: None,
) -> None:
    args = {
        "missing-file": argv(event=tmp_path / "nope.json"),
        "bad-json": argv(event=write(tmp_path, "bad.json", b'{"id": ')),
        "not-utf8": argv(event=write(tmp_path, "latin.json", b'{"a": "\xe9"}')),
        "unknown-function": argv(function="no such function"),
        "no-credentials": argv(),
        "bad-region": [
            "invoke",
            "reconcile",
            str(EVENT),
            "--region",
            "Hangzhou",
            "--account-id",
            ACCOUNT,
        ],
        "bad-account": [
            "invoke",
            "reconcile",
            str(EVENT),
            "--region",
            REGION,
            "--account-id",
            "acct",
        ],
        "async-too-large": argv(
            "--async", event=write(tmp_path, "big.json", b'"' + b"x" * 140_000 + b'"')
        ),
        "fc3-service": [
            *("invoke", "reconcile", str(EVENT), "--region", REGION),
            *("--account-id", ACCOUNT, "--service", "rolebinder"),
        ],
    }[case]
    if case == "no-credentials":
        monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
    code = main(args)
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and message in err
    assert len(fc.calls) == 0
