"""Signature v1, key pairs and STS credentials, checked as the real gateway checks them."""

from __future__ import annotations

import time

import pytest
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest

from fakecloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, FakeCloud, FakeCloudServer
from fakecloud.auth import sign, string_to_sign
from tests.fakecloud.builders import assert_error, run_request, seed_vpc, server_error
from tests.fakecloud.wire import ECS, query_string, send, signed_params
from tests.support import call, make_client

DESCRIBE = {**ECS, "Action": "DescribeInstances"}
STS_ID, STS_SECRET, STS_TOKEN = "STS.NUfakeTemporary", "sts-secret", "CAIS-the-token"


def get(server: FakeCloudServer, params: dict[str, str]) -> tuple[int, dict]:
    return send(server, "GET", "/?" + query_string(params))


def sts_cloud(cloud: FakeCloud) -> FakeCloud:
    cloud.add_key(STS_ID, STS_SECRET, security_token=STS_TOKEN)
    return cloud


def test_a_correctly_signed_sdk_call_is_accepted(cloud: FakeCloud, client) -> None:
    body = call(client, DescribeInstancesRequest())

    assert body["TotalCount"] == 0
    last = cloud.calls.all()[-1]
    assert (last.status, last.access_key_id, last.account_id) == (
        200,
        DEFAULT_ACCESS_KEY_ID,
        "1234567890123456",
    )


def test_sdk_rewrites_a_wrong_secret_into_invalid_access_key_secret(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    client = make_client(server, access_key_secret="not-the-secret")

    error = server_error(client, DescribeInstancesRequest())

    # The SDK recognises its own string-to-sign in the server's message and says so.
    assert_error(error, "InvalidAccessKeySecret", 400)
    assert cloud.calls.all()[-1].code == "SignatureDoesNotMatch"


def test_a_bad_signature_shows_the_servers_string_to_sign(server: FakeCloudServer) -> None:
    # GIVEN a request signed with the wrong secret
    params = signed_params(DESCRIBE, secret="not-the-secret")

    # WHEN
    status, body = get(server, params)

    # THEN
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    assert "server string to sign is:" in body["Message"]
    unsigned = {k: v for k, v in params.items() if k != "Signature"}
    assert body["Message"].endswith("is:" + string_to_sign("GET", unsigned))


def test_a_signature_for_another_method_does_not_match(server: FakeCloudServer) -> None:
    params = signed_params(DESCRIBE, method="POST")

    status, body = get(server, params)

    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")


def test_an_unknown_access_key_is_not_found(server: FakeCloudServer) -> None:
    client = make_client(server, access_key_id="LTAI5tNobodyHasThis")

    error = server_error(client, DescribeInstancesRequest())

    assert_error(error, "InvalidAccessKeyId.NotFound", 404)


def test_a_replayed_request_is_refused(cloud: FakeCloud, server: FakeCloudServer) -> None:
    # GIVEN one signed URL
    params = signed_params(DESCRIBE)

    # WHEN it is sent twice
    first, _ = get(server, params)
    second, body = get(server, params)

    # THEN only the first is answered
    assert first == 200
    assert (second, body["Code"]) == (400, "SignatureNonceUsed")
    assert body["Message"] == "The request signature nonce has been used."
    assert cloud.calls.count("DescribeInstances", ok=True) == 1


def test_a_badly_signed_request_does_not_burn_its_nonce(server: FakeCloudServer) -> None:
    # GIVEN a forged request with a nonce
    forged = signed_params(DESCRIBE, secret="forged", nonce="nonce-1")
    assert get(server, forged)[1]["Code"] == "SignatureDoesNotMatch"

    # WHEN the genuine request uses the same nonce
    status, _ = get(server, signed_params(DESCRIBE, nonce="nonce-1"))

    # THEN it is accepted
    assert status == 200


@pytest.mark.parametrize("offset", [-3600, 3600, -16 * 60])
def test_a_timestamp_outside_fifteen_minutes_has_expired(
    server: FakeCloudServer, offset: int
) -> None:
    status, body = get(server, signed_params(DESCRIBE, timestamp=time.time() + offset))

    assert (status, body["Code"]) == (400, "InvalidTimeStamp.Expired")
    assert body["Message"] == "Specified time stamp or date value is expired."


def test_a_timestamp_within_fifteen_minutes_is_accepted(server: FakeCloudServer) -> None:
    status, _ = get(server, signed_params(DESCRIBE, timestamp=time.time() - 10 * 60))

    assert status == 200


@pytest.mark.parametrize("stamp", ["yesterday", "2026-01-01 10:00:00", "2026-01-01T10:00:00", ""])
def test_a_malformed_timestamp_is_refused(server: FakeCloudServer, stamp: str) -> None:
    status, body = get(server, signed_params(DESCRIBE, timestamp=stamp))

    assert (status, body["Code"]) == (400, "InvalidTimeStamp.Format")


@pytest.mark.parametrize("dropped", ["Signature", "AccessKeyId", "SignatureNonce"])
def test_an_incomplete_signature_is_refused(server: FakeCloudServer, dropped: str) -> None:
    params = signed_params(DESCRIBE)
    del params[dropped]

    status, body = get(server, params)

    assert (status, body["Code"]) == (400, "IncompleteSignature")


def test_blank_values_take_part_in_the_signature(server: FakeCloudServer) -> None:
    # GIVEN a request signed with the SDK's blank SignatureType= and a blank action parameter
    params = signed_params({**DESCRIBE, "VpcId": ""})
    assert params["SignatureType"] == ""

    # WHEN it is sent as it was signed
    status, _ = get(server, params)

    # THEN it is accepted
    assert status == 200


def test_a_signature_that_skipped_blank_values_does_not_match(server: FakeCloudServer) -> None:
    # GIVEN a request sent with SignatureType= but signed as if blank values did not count
    params = signed_params(DESCRIBE)
    unsigned = {k: v for k, v in params.items() if k not in ("Signature", "SignatureType")}
    params["Signature"] = sign(DEFAULT_ACCESS_KEY_SECRET, string_to_sign("GET", unsigned))

    # WHEN
    status, body = get(server, params)

    # THEN
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")


def test_sts_credentials_are_accepted(cloud: FakeCloud, server: FakeCloudServer) -> None:
    # GIVEN an STS credential
    sts_cloud(cloud)
    client = make_client(
        server, access_key_id=STS_ID, access_key_secret=STS_SECRET, security_token=STS_TOKEN
    )
    seed_vpc(cloud)

    # WHEN it runs an instance
    body = call(client, run_request())

    # THEN the call worked and the token was checked but not logged
    assert len(body["InstanceIdSets"]["InstanceIdSet"]) == 1
    last = cloud.calls.all()[-1]
    assert last.access_key_id == STS_ID
    assert "SecurityToken" not in last.params


def test_an_sts_key_without_its_token_is_refused(cloud: FakeCloud, server: FakeCloudServer) -> None:
    sts_cloud(cloud)
    client = make_client(server, access_key_id=STS_ID, access_key_secret=STS_SECRET)

    error = server_error(client, DescribeInstancesRequest())

    assert_error(error, "MissingSecurityToken", 400)


def test_an_sts_key_with_another_token_is_refused(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    sts_cloud(cloud)
    client = make_client(
        server, access_key_id=STS_ID, access_key_secret=STS_SECRET, security_token="CAIS-other"
    )

    error = server_error(client, DescribeInstancesRequest())

    assert_error(error, "InvalidSecurityToken.MismatchWithAccessKey", 400)


def test_an_expired_sts_token_is_refused(cloud: FakeCloud, server: FakeCloudServer) -> None:
    cloud.add_key(STS_ID, STS_SECRET, security_token=STS_TOKEN).token_expired = True
    client = make_client(
        server, access_key_id=STS_ID, access_key_secret=STS_SECRET, security_token=STS_TOKEN
    )

    error = server_error(client, DescribeInstancesRequest())

    assert_error(error, "InvalidSecurityToken.Expired", 400)


def test_a_refused_call_changes_nothing(cloud: FakeCloud, server: FakeCloudServer) -> None:
    # GIVEN a VPC and a client with the wrong secret
    seed_vpc(cloud)
    client = make_client(server, access_key_secret="wrong")

    # WHEN it tries to run an instance
    server_error(client, run_request())

    # THEN nothing was created and nothing was emitted
    assert cloud.ecs("cn-hangzhou").instances == {}
    assert cloud.events.since(0) == []


def test_keys_of_other_accounts_see_their_own_world(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN an instance in the default account and a key of another account
    seed_vpc(cloud)
    call(make_client(server), run_request())
    cloud.add_key("LTAI5tOtherAccount", "other-secret", account_id="9999999999999999")
    other = make_client(
        server, access_key_id="LTAI5tOtherAccount", access_key_secret="other-secret"
    )

    # WHEN the other account describes its instances
    body = call(other, DescribeInstancesRequest())

    # THEN it sees none
    assert body["TotalCount"] == 0
