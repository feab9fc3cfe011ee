"""The handlers' contract with Function Compute: event forms, bad input, configuration,
credentials, the summary line, and secrets that must never reach a log.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from fakecloud import FakeCloud, FakeCloudServer
from rolebinder.entrypoints.invocation import RetryLaterError
from rolebinder.errors import InputError, MappingError
from tests.functional.conftest import (
    HANDLERS,
    CredentialContext,
    Credentials,
    ecs_state,
    event_bytes,
    make_context,
    seed_world,
    state_event,
    vm,
)
from tests.support import REGION

PAY1 = "i-bp1payments0000000001"
READER = "i-bp1reader00000000001"
SAMPLES = {
    "instance_events": ("eventbridge-ecs-instance-statechange-created.json", PAY1, "Payments"),
    "tag_events": ("cloudmonitor-tag-changeonresource.json", READER, "AppReader"),
    "reconcile": ("fc-timer-sweep.json", PAY1, "Payments"),
}


def as_form(raw: bytes, form: str) -> Any:
    return {"bytes": raw, "str": raw.decode("utf-8"), "dict": json.loads(raw)}[form]


@pytest.mark.parametrize("form", ["bytes", "str", "dict"])
@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_each_handler_accepts_bytes_str_and_parsed_events(
    seeded: FakeCloud, invoke, handler: str, form: str
) -> None:
    name, instance, role = SAMPLES[handler]

    run = invoke(handler, as_form(event_bytes(name), form))

    assert run.error is None
    assert run.outcome(instance)["outcome"] == "attached"
    assert run.result == run.summary
    assert ecs_state(seeded)[instance] == role


# -- bad input ----------------------------------------------------------------------------------

MALFORMED = {
    "not-json": b"{not json",
    "truncated": '{"id": "x", "source": "acs.ecs"',
    "scalar": b"42",
    "not-utf8": b"\xff\xfe\x00{",
    "empty": b"",
    "broken-cloudevent": {"specversion": "1.0", "source": "acs.ecs", "id": "e-1"},
    "state-change-without-instance": {
        **state_event(PAY1),
        "data": {"resourceType": "ALIYUN::ECS::Instance", "state": "Running"},
    },
}


@pytest.mark.parametrize("event", list(MALFORMED.values()), ids=list(MALFORMED))
@pytest.mark.parametrize("handler", sorted(HANDLERS))
def test_a_malformed_event_is_an_error_line_and_no_call(
    seeded: FakeCloud, invoke, handler: str, event: Any
) -> None:
    run = invoke(handler, event)

    # THEN one error line names the problem, the handler returns (a retry cannot help) and
    # the cloud is not called at all
    assert run.error is None
    [error] = run.errors
    assert (error["kind"], error["error"]) == ("error", "malformed-event")
    assert error["message"]
    assert run.outcomes == []
    assert run.summary["errors"] == 1
    assert run.summary["events"] == 0
    assert len(seeded.calls.all()) == 0


@pytest.mark.parametrize("handler", sorted(HANDLERS))
@pytest.mark.parametrize("problem", ["unset", "missing-file", "invalid"])
def test_an_unusable_mapping_fails_every_invocation_loudly(
    seeded: FakeCloud, handler_env, write_mapping, invoke, handler: str, problem: str
) -> None:
    # GIVEN a mapping that cannot be used
    if problem == "unset":
        handler_env.delenv("ROLEBINDER_MAPPING")
    elif problem == "missing-file":
        handler_env.setenv("ROLEBINDER_MAPPING", "/nonexistent/mapping.yaml")
    else:
        bad = write_mapping({"version": 1, "roles": ["AppReader"], "rules": [], "on_no_match": 1})
        handler_env.setenv("ROLEBINDER_MAPPING", str(bad))
    name = SAMPLES[handler][0]

    # WHEN two events arrive in the same container
    runs = [invoke(handler, event_bytes(name)) for _ in range(2)]

    # THEN both invocations raise (the failure is not cached as a success), naming the problem,
    # and nothing is called
    for run in runs:
        assert isinstance(run.error, InputError)
        assert "ROLEBINDER_MAPPING" in str(run.error) or isinstance(run.error, MappingError)
        assert run.outcomes == []
    assert len(seeded.calls.all()) == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ROLEBINDER_DRY_RUN", "maybe"),
        ("ROLEBINDER_VISIBILITY_WAIT", "soon"),
        ("ROLEBINDER_API_TIMEOUT", "-1"),
    ],
)
def test_a_bad_setting_fails_every_invocation_loudly(
    seeded: FakeCloud, handler_env, invoke, name: str, value: str
) -> None:
    handler_env.setenv(name, value)

    runs = [invoke("instance_events", state_event(PAY1)) for _ in range(2)]

    for run in runs:
        assert isinstance(run.error, InputError)
        assert name in str(run.error)
    assert len(seeded.calls.all()) == 0


SHANGHAI_MAPPING = {
    "version": 1,
    "roles": ["Payments"],
    "rules": [{"name": "p", "when": {"tags": {"team": "payments"}}, "role": "Payments"}],
}


def test_an_event_from_another_region_is_ignored_without_a_call(
    cloud: FakeCloud, invoke, use_mapping
) -> None:
    # GIVEN a function in cn-hangzhou (ROLEBINDER_REGIONS unset) and an instance in cn-shanghai
    use_mapping(SHANGHAI_MAPPING)
    seed_world(cloud, [vm("i-shanghai00001", {"team": "payments"})], region="cn-shanghai")

    # WHEN an event naming cn-shanghai arrives (forged, or routed there by mistake)
    run = invoke("instance_events", state_event("i-shanghai00001", region="cn-shanghai"))

    # THEN it is ignored as foreign-region, and the cloud was not called at all
    line = run.outcome("i-shanghai00001")
    assert (line["outcome"], line["reason"], line["region"]) == (
        "ignored",
        "foreign-region",
        "cn-shanghai",
    )
    assert cloud.calls.all() == []
    assert ecs_state(cloud, "cn-shanghai") == {"i-shanghai00001": None}


def test_an_event_from_a_configured_region_is_served_there(
    cloud: FakeCloud, invoke, use_mapping, handler_env
) -> None:
    # GIVEN a function in cn-hangzhou configured for cn-hangzhou and cn-shanghai
    use_mapping(SHANGHAI_MAPPING)
    handler_env.setenv("ROLEBINDER_REGIONS", "cn-hangzhou,cn-shanghai")
    seed_world(cloud, [vm("i-shanghai00001", {"team": "payments"})], region="cn-shanghai")

    run = invoke("instance_events", state_event("i-shanghai00001", region="cn-shanghai"))

    assert run.outcome("i-shanghai00001")["region"] == "cn-shanghai"
    assert ecs_state(cloud, "cn-shanghai") == {"i-shanghai00001": "Payments"}
    assert {c.region for c in cloud.calls.all() if c.product == "ecs"} == {"cn-shanghai"}


# -- credentials --------------------------------------------------------------------------------

STS_KEY_ID = "STS.NUfunctional0001"
STS_SECRET = "sts-secret-7f3a9c1e5b"
STS_TOKEN = "CAIS-token-b8e2d4f6a0c1e3"


def test_credentials_come_from_the_context_on_python310(
    seeded: FakeCloud, handler_env, invoke
) -> None:
    # GIVEN no credential variables, and a python3.10-style context carrying STS credentials
    seeded.add_key(STS_KEY_ID, STS_SECRET, security_token=STS_TOKEN)
    handler_env.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
    handler_env.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    context = CredentialContext(
        region=REGION, credentials=Credentials(STS_KEY_ID, STS_SECRET, STS_TOKEN)
    )

    run = invoke("instance_events", state_event(PAY1), context)

    # THEN every call was signed with them (the fake refuses an STS key without its token)
    assert run.error is None
    assert run.outcome(PAY1)["outcome"] == "attached"
    assert {c.access_key_id for c in seeded.calls.all()} == {STS_KEY_ID}
    assert all(c.ok for c in seeded.calls.all())


def test_sts_credentials_from_the_environment(seeded: FakeCloud, handler_env, invoke) -> None:
    seeded.add_key(STS_KEY_ID, STS_SECRET, security_token=STS_TOKEN)
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", STS_KEY_ID)
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", STS_SECRET)
    handler_env.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)

    run = invoke("instance_events", state_event(PAY1))

    assert run.outcome(PAY1)["outcome"] == "attached"
    assert {c.access_key_id for c in seeded.calls.all()} == {STS_KEY_ID}


def test_no_credentials_at_all_is_an_input_error(seeded: FakeCloud, handler_env, invoke) -> None:
    handler_env.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID")
    handler_env.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")

    run = invoke("instance_events", state_event(PAY1))

    assert isinstance(run.error, InputError)
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in str(run.error)
    assert len(seeded.calls.all()) == 0


def test_aliyun_credential_variables_are_refused(seeded: FakeCloud, handler_env, invoke) -> None:
    # GIVEN the variables the SDK would silently prefer over the credentials we pass
    handler_env.setenv("ALIYUN_ACCESS_KEY_ID", "LTAIsomebodyElse")
    handler_env.setenv("ALIYUN_ACCESS_KEY_SECRET", "somebody-elses-secret")

    run = invoke("instance_events", state_event(PAY1))

    # THEN a clear InputError, before any call
    assert isinstance(run.error, InputError)
    assert "ALIYUN_ACCESS_KEY_ID" in str(run.error)
    assert "somebody-elses-secret" not in str(run.error)
    assert len(seeded.calls.all()) == 0


# -- the summary line ---------------------------------------------------------------------------


def test_the_summary_counts_every_line(seeded: FakeCloud, invoke) -> None:
    # WHEN a batch with an attach, a malformed element, an unchanged instance and an ignored
    # call is handled after PAY1 got its role
    invoke("instance_events", state_event(PAY1))
    run = invoke("instance_events", event_bytes("batch-mixed-events.json"))

    # THEN the summary (also the return value) counts them by outcome and by reason
    summary = run.summary
    assert run.result == summary
    assert summary["outcomes"] == {"attached": 1, "ignored": 2, "unchanged": 1}
    assert summary["reasons"] == {
        "rule-matched": 1,
        "malformed-event": 1,
        "already-bound": 1,
        "unsupported-api-call": 1,
    }
    assert (summary["events"], summary["errors"], summary["retryable_failures"]) == (4, 0, 0)
    assert (summary["dry_run"], summary["function"]) == (False, "instance_events")
    assert summary["invocation_id"] == run.outcomes[0]["invocation_id"]
    assert run.lines[-1] == summary  # the last line


# -- secrets ------------------------------------------------------------------------------------


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
    # A signature or token parameter may be named, never valued.
    leaks = re.findall(r"(?:Signature|SecurityToken)(?:=|%3D)(?!<redacted>)[^&\s\"']+", text)
    assert leaks == []
    assert "string to sign is:GET" not in text


def everything_written(run: Any, caplog: pytest.LogCaptureFixture) -> str:
    records = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    return "\n".join([json.dumps(run.lines), run.stderr, repr(run.error), str(run.error), records])


def test_a_wrong_secret_leaks_nothing(
    seeded: FakeCloud, handler_env, invoke, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN STS credentials whose secret is wrong: the fake answers SignatureDoesNotMatch with
    # the string it signed, which holds the security token
    caplog.set_level(logging.DEBUG)
    seeded.add_key(STS_KEY_ID, STS_SECRET, security_token=STS_TOKEN)
    wrong = "wrong-secret-5d1c9e"
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", STS_KEY_ID)
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", wrong)
    handler_env.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)

    # WHEN an event is handled
    run = invoke("instance_events", state_event(PAY1))

    # THEN the instance fails with the signature error (permanent: the handler returns) ...
    assert run.error is None
    line = run.outcome(PAY1)
    assert line["outcome"] == "failed"
    assert line["error_code"] in {"SignatureDoesNotMatch", "InvalidAccessKeySecret"}
    assert line["retryable"] is False
    assert [c.code for c in seeded.calls.all()] == ["SignatureDoesNotMatch"]
    # ... and neither secret, the token nor a signature appears anywhere
    assert_no_secret(everything_written(run, caplog), wrong, STS_SECRET, STS_TOKEN)


class _Tamper(BaseHTTPRequestHandler):
    """Forwards to the fake with one extra query parameter, so the signature no longer fits."""

    target = ""

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        joiner = "&" if "?" in self.path else "?"
        request = urllib.request.Request(
            f"{self.target}{self.path}{joiner}Tampered=1", data=body, method=self.command
        )
        for name in ("Content-Type", "User-Agent", "Accept"):
            if self.headers.get(name):
                request.add_header(name, self.headers[name])
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                status, payload = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def tampering_proxy(server: FakeCloudServer) -> Iterator[str]:
    """An endpoint in front of the fake that changes every request after it was signed."""
    handler = type("Tamper", (_Tamper,), {"target": server.url})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{proxy.server_address[1]}"
    proxy.shutdown()
    proxy.server_close()
    thread.join(timeout=5)


def test_the_servers_string_to_sign_leaks_nothing(
    seeded: FakeCloud,
    handler_env,
    invoke,
    tampering_proxy: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN STS credentials, and requests altered after signing: the fake answers
    # SignatureDoesNotMatch quoting its own string to sign, token included (the SDK rewrites
    # that message only when both strings are equal, so here it reaches us unchanged)
    caplog.set_level(logging.DEBUG)
    seeded.add_key(STS_KEY_ID, STS_SECRET, security_token=STS_TOKEN)
    handler_env.setenv("ROLEBINDER_ECS_ENDPOINT", tampering_proxy)
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", STS_KEY_ID)
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", STS_SECRET)
    handler_env.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)

    run = invoke("instance_events", state_event(PAY1))

    # THEN the failure is reported with its code, and the quoted string to sign is not
    assert run.error is None
    line = run.outcome(PAY1)
    assert (line["outcome"], line["error_code"]) == ("failed", "SignatureDoesNotMatch")
    assert line["detail"].endswith("server string to sign is:<redacted>")
    assert [c.code for c in seeded.calls.all()] == ["SignatureDoesNotMatch"]
    assert_no_secret(everything_written(run, caplog), STS_SECRET, STS_TOKEN)


def test_an_unreachable_endpoint_leaks_nothing(
    seeded: FakeCloud, handler_env, invoke, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN STS credentials and an endpoint nobody listens on: connection errors quote the
    # request URL, whose query string holds the signature and the token
    caplog.set_level(logging.DEBUG)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    handler_env.setenv("ROLEBINDER_ECS_ENDPOINT", closed)
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", STS_KEY_ID)
    handler_env.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", STS_SECRET)
    handler_env.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)

    # WHEN an event is handled with a short function timeout
    run = invoke("instance_events", state_event(PAY1), make_context(timeout=2))

    # THEN it is a retryable failure, and nothing secret was written
    assert isinstance(run.error, RetryLaterError)
    line = run.outcome(PAY1)
    assert (line["outcome"], line["error_code"], line["retryable"]) == (
        "failed",
        "SDK.HttpError",
        True,
    )
    written = everything_written(run, caplog)
    assert_no_secret(written, STS_SECRET, STS_TOKEN)
    assert "Signature=<redacted>" in line["detail"]  # the URL was there, and was redacted


def test_foreign_account_events_cost_no_call(seeded: FakeCloud, invoke) -> None:
    run = invoke("instance_events", state_event(PAY1, account="9999999999999999"))

    assert run.outcome(PAY1)["reason"] == "foreign-account"
    assert run.outcome(PAY1)["outcome"] == "ignored"
    assert len(seeded.calls.all()) == 0


def test_concurrent_first_invocations_share_one_runtime(handler_env: pytest.MonkeyPatch) -> None:
    # GIVEN a cold container (the YAML mapping: a 50 ms load, so the first callers overlap)
    import threading  # noqa: PLC0415

    from rolebinder.entrypoints import invocation  # noqa: PLC0415

    invocation.container_runtime.cache_clear()
    start = threading.Barrier(8)
    found: list[object] = []

    def first_invocation() -> None:
        start.wait()
        found.append(invocation.container_runtime())

    threads = [threading.Thread(target=first_invocation) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN they all got one runtime: one pacer, one role cache, one set of member credentials
    assert len({id(runtime) for runtime in found}) == 1
