"""FC 3.0 InvokeFunction through the real Tea SDK (alibabacloud_fc20230330), ACS3-signed."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid

import pytest
from alibabacloud_fc20230330 import models as fc_models
from darabonba.runtime import RuntimeOptions

from fakecloud import FakeCloud, FakeCloudServer
from fakecloud.acs3 import HttpRequest, signature
from fakecloud.fc import ASYNC_PAYLOAD_LIMIT
from fakecloud.policy import Policy
from tests.fakecloud.accounts import (
    FN_KEY,
    FN_SECRET,
    FN_TOKEN,
    HUB,
    MEMBER,
    allow,
    assume,
    document,
    fc_client,
    fc_error,
    invoke,
    member_role,
    rpc_client,
)
from tests.fakecloud.wire import send
from tests.support import REGION

FUNCTION = "reconcile"


def recorder(cloud: FakeCloud, region: str = REGION, account: str = HUB) -> list[bytes]:
    """Register FUNCTION; the list collects the bodies it is invoked with."""
    bodies: list[bytes] = []
    cloud.functions.register(account, region, FUNCTION, bodies.append)
    return bodies


def test_an_async_invocation_is_accepted_with_202_and_runs_the_function(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    bodies = recorder(cloud)

    response = invoke(fc_client(server), FUNCTION, b'{"account": "2", "region": "cn-hangzhou"}')

    assert response.status_code == 202
    assert response.headers["x-fc-request-id"]
    assert cloud.functions.wait()
    assert bodies == [b'{"account": "2", "region": "cn-hangzhou"}']
    last = cloud.calls.all()[-1]
    assert (last.product, last.action, last.account_id, last.region, last.status) == (
        "fc",
        "InvokeFunction",
        HUB,
        REGION,
        202,
    )


def test_the_caller_does_not_wait_for_the_function(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN a function that blocks until released
    release, started = threading.Event(), threading.Event()

    def slow(body: bytes) -> None:
        started.set()
        release.wait(10)

    cloud.functions.register(HUB, REGION, FUNCTION, slow)

    # WHEN
    response = invoke(fc_client(server), FUNCTION)

    # THEN the answer came while the function is still running
    assert response.status_code == 202
    assert started.wait(5)
    assert not cloud.functions.invocations[0].done
    release.set()
    assert cloud.functions.wait()


def test_a_failing_function_is_recorded_not_raised(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    def broken(body: bytes) -> None:
        raise RuntimeError("boom")

    cloud.functions.register(HUB, REGION, FUNCTION, broken)

    assert invoke(fc_client(server), FUNCTION).status_code == 202
    assert cloud.functions.wait()
    assert str(cloud.functions.invocations[0].error) == "boom"


def test_the_qualifier_and_task_id_are_kept(cloud: FakeCloud, server: FakeCloudServer) -> None:
    recorder(cloud)

    invoke(fc_client(server), FUNCTION, qualifier="prod")

    assert cloud.functions.invocations[0].qualifier == "prod"
    assert cloud.calls.all()[-1].params["Qualifier"] == "prod"


def test_a_wrong_secret_is_signature_not_match(cloud: FakeCloud, server: FakeCloudServer) -> None:
    recorder(cloud)

    error = fc_error(fc_client(server, access_key_secret="not-the-secret"), FUNCTION)

    assert (error.status_code, error.code) == (403, "SignatureNotMatch")
    assert cloud.functions.invocations == []


def test_an_unknown_key_is_invalid_access_key_id(cloud: FakeCloud, server: FakeCloudServer) -> None:
    recorder(cloud)

    error = fc_error(fc_client(server, access_key_id="LTAInobody"), FUNCTION)

    assert (error.status_code, error.code) == (403, "InvalidAccessKeyID")


def sign_raw(path: str, signed_body: bytes) -> dict[str, str]:
    """Headers of a request signed (with the default key) over `signed_body`."""
    headers = {
        "host": "127.0.0.1",
        "x-acs-action": "InvokeFunction",
        "x-acs-version": "2023-03-30",
        "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": hashlib.sha256(signed_body).hexdigest(),
        "x-fc-invocation-type": "Async",
    }
    names = sorted(headers)
    request = HttpRequest("POST", path, "", headers, signed_body)
    sig = signature("fake-cloud-test-secret", request, names)
    headers["authorization"] = (
        f"ACS3-HMAC-SHA256 Credential=LTAI5tFakeCloudTestKey,SignedHeaders={';'.join(names)},"
        f"Signature={sig}"
    )
    return headers


def test_a_body_swapped_after_signing_is_refused(cloud: FakeCloud, server: FakeCloudServer) -> None:
    # GIVEN a request signed over one body, sent with another
    bodies = recorder(cloud)
    path = f"/2023-03-30/functions/{FUNCTION}/invocations"

    # WHEN
    honest = send(server, "POST", path, b"{}", sign_raw(path, b"{}"))
    swapped = send(server, "POST", path, b'{"evil": 1}', sign_raw(path, b"{}"))

    # THEN only the honest one was accepted
    assert honest[0] == 202
    assert (swapped[0], swapped[1]["Code"]) == (403, "SignatureNotMatch")
    assert cloud.functions.wait() and bodies == [b"{}"]


def test_a_request_without_authorization_is_refused(server: FakeCloudServer) -> None:
    status, body = send(server, "POST", f"/2023-03-30/functions/{FUNCTION}/invocations", b"{}")

    assert (status, body["Code"]) == (400, "MissingRequiredHeader")
    assert body["RequestId"]


def test_sts_credentials_are_accepted_and_expire_by_the_fakes_clock(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN a member session (900 s) and a function in the member's account
    creds = assume(rpc_client(server), member_role(cloud), DurationSeconds=900)["Credentials"]
    bodies = recorder(cloud, account=MEMBER)
    client = fc_client(
        server, creds["AccessKeyId"], creds["AccessKeySecret"], creds["SecurityToken"]
    )

    # WHEN / THEN: accepted before expiry, refused after
    assert invoke(client, FUNCTION).status_code == 202
    cloud.advance(900)
    error = fc_error(client, FUNCTION)
    assert error.code == "InvalidSecurityToken.Expired"
    assert cloud.functions.wait() and len(bodies) == 1


def test_an_sts_key_with_another_token_is_refused(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    recorder(cloud)
    cloud.add_key(FN_KEY, FN_SECRET, security_token=FN_TOKEN)

    error = fc_error(fc_client(server, FN_KEY, FN_SECRET, "CAIS-not-it"), FUNCTION)

    assert error.code == "InvalidSecurityToken.MismatchWithAccessKey"


@pytest.mark.parametrize("kind", ["Sync", None])
def test_a_synchronous_invocation_is_not_modelled(
    cloud: FakeCloud, server: FakeCloudServer, kind: str | None
) -> None:
    recorder(cloud)

    error = fc_error(fc_client(server), FUNCTION, kind=kind)

    assert (error.status_code, error.code) == (400, "InvalidArgument")
    assert cloud.functions.invocations == []


def test_an_async_payload_over_128_kb_is_refused(cloud: FakeCloud, server: FakeCloudServer) -> None:
    bodies = recorder(cloud)

    error = fc_error(fc_client(server), FUNCTION, body=b"x" * (ASYNC_PAYLOAD_LIMIT + 1))
    accepted = invoke(fc_client(server), FUNCTION, b"x" * ASYNC_PAYLOAD_LIMIT)

    assert (error.status_code, error.code) == (400, "InvalidArgument")
    assert accepted.status_code == 202
    assert cloud.functions.wait() and [len(b) for b in bodies] == [ASYNC_PAYLOAD_LIMIT]


def test_an_unknown_function_is_function_not_found(server: FakeCloudServer) -> None:
    error = fc_error(fc_client(server), "nobody")

    assert (error.status_code, error.code) == (404, "FunctionNotFound")


def test_a_function_of_another_account_is_not_found(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN the hub's function and a member's key
    recorder(cloud)
    cloud.add_key("LTAImember", "member-secret", account_id=MEMBER)

    error = fc_error(fc_client(server, "LTAImember", "member-secret"), FUNCTION)

    assert (error.status_code, error.code) == (404, "FunctionNotFound")


def test_invoking_needs_fc_invoke_function_on_the_function(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN a key allowed to invoke another function only, and one allowed this one
    recorder(cloud)
    own = f"acs:fc:{REGION}:{HUB}:functions/{FUNCTION}"
    cloud.add_key("LTAIother", "o-secret", policy=document(allow("fc:InvokeFunction", own + "x")))
    cloud.add_key("LTAIinvoker", "i-secret", policy=document(allow("fc:InvokeFunction", own)))

    # WHEN / THEN
    error = fc_error(fc_client(server, "LTAIother", "o-secret"), FUNCTION)
    assert (error.status_code, error.code) == (403, "AccessDenied")
    assert invoke(fc_client(server, "LTAIinvoker", "i-secret"), FUNCTION).status_code == 202


def test_the_region_comes_from_the_host_header(cloud: FakeCloud, server: FakeCloudServer) -> None:
    # GIVEN the same function in two regions
    hangzhou, shanghai = recorder(cloud), recorder(cloud, region="cn-shanghai")

    # WHEN called through the regional endpoints (the fake as HTTP proxy keeps the Host)
    invoke(fc_client(server, host="fcv3.cn-shanghai.aliyuncs.com"), FUNCTION, b"sh")
    invoke(fc_client(server, host=f"{HUB}.cn-hangzhou.fc.aliyuncs.com"), FUNCTION, b"hz")

    # THEN
    assert cloud.functions.wait()
    assert (hangzhou, shanghai) == ([b"hz"], [b"sh"])
    assert [c.region for c in cloud.calls.all()] == ["cn-shanghai", "cn-hangzhou"]


def test_without_a_regional_host_a_function_in_two_regions_is_ambiguous(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    recorder(cloud)
    recorder(cloud, region="cn-shanghai")

    error = fc_error(fc_client(server), FUNCTION)

    assert (error.status_code, error.code) == (400, "InvalidArgument")


def test_function_credentials_are_a_role_session_for_fc_too(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN function credentials of a role that may invoke nothing
    recorder(cloud)
    trust = json.dumps(document(allow("sts:AssumeRole")))
    cloud.ram().create_role("hub", trust, policy=Policy(document(allow("ecs:*"))))
    cloud.add_key(FN_KEY, FN_SECRET, security_token=FN_TOKEN, role="hub")

    error = fc_error(fc_client(server, FN_KEY, FN_SECRET, FN_TOKEN), FUNCTION)

    assert (error.status_code, error.code) == (403, "AccessDenied")


def test_a_callback_registered_then_unregistered_is_gone(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    recorder(cloud)
    cloud.functions.unregister(HUB, REGION, FUNCTION)

    assert fc_error(fc_client(server), FUNCTION).code == "FunctionNotFound"


def test_a_bytes_body_as_the_hubs_gateway_sends_it_is_accepted(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN the request form rolebinder's FC gateway uses: bytes, not a stream, LATEST
    bodies = recorder(cloud)
    request = fc_models.InvokeFunctionRequest(body=b'{"shard": 7}', qualifier="LATEST")
    headers = fc_models.InvokeFunctionHeaders(x_fc_invocation_type="Async")

    # WHEN
    response = fc_client(server).invoke_function_with_options(
        FUNCTION, request, headers, RuntimeOptions(autoretry=False, max_attempts=1)
    )

    # THEN
    assert response.status_code == 202
    assert cloud.functions.wait() and bodies == [b'{"shard": 7}']
