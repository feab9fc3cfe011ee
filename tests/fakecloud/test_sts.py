"""STS AssumeRole through the real aliyunsdksts request: parameters, callers, trust, session
policies and expiry, as docs/research/multi-account.md section 1 documents them."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest

from fakecloud import FakeCloud, FakeCloudServer
from fakecloud.auth import ISSUED_SECRETS
from fakecloud.policy import Policy
from tests.fakecloud.accounts import (
    FN_KEY,
    FN_SECRET,
    FN_TOKEN,
    HUB,
    HUB_ROLE,
    MEMBER,
    OTHER,
    allow,
    assume,
    assume_request,
    document,
    member_role,
    rpc_client,
    session_client,
    trust,
)
from tests.fakecloud.builders import assert_error, run_request, seed_vpc, server_error
from tests.support import call

NOT_AUTHORIZED = "You are not authorized to do this action. You should be authorized by RAM."


def test_assume_role_answers_the_documented_shape_and_logs_the_callers_account(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN a member role trusting the hub account
    arn = member_role(cloud)

    # WHEN
    body = assume(rpc_client(server), arn, session="hub-sweep")

    # THEN
    creds = body["Credentials"]
    assert creds["AccessKeyId"].startswith("STS.")
    expires = datetime.strptime(creds["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    expected = datetime.fromtimestamp(cloud.clock.now() + 3600, timezone.utc)
    assert expires == expected.replace(tzinfo=None, microsecond=0)
    assert body["AssumedRoleUser"]["Arn"] == f"acs:ram::{MEMBER}:role/rolebinder-member/hub-sweep"
    assert body["AssumedRoleUser"]["AssumedRoleId"].endswith(":hub-sweep")
    assert {creds["AccessKeySecret"], creds["SecurityToken"]} <= ISSUED_SECRETS
    last = cloud.calls.all()[-1]
    assert (last.product, last.action, last.account_id, last.status) == (
        "sts",
        "AssumeRole",
        HUB,
        200,
    )
    assert "SecurityToken" not in json.dumps(last.params)


def test_the_issued_credentials_act_in_the_members_account(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN a member instance
    seed_vpc(cloud)  # in the hub
    cloud.ecs("cn-hangzhou", MEMBER).add_vswitch(
        "vsw-bp1member", "vpc-m", "cn-hangzhou-h", "172.16.2.0/24"
    )
    member = session_client(server, assume(rpc_client(server), member_role(cloud)))
    call(member, run_request(vswitch_id="vsw-bp1member"))

    # WHEN the member session describes instances
    body = call(member, DescribeInstancesRequest())

    # THEN it sees the member's, and the call is the member's
    assert body["TotalCount"] == 1
    assert cloud.calls.all()[-1].account_id == MEMBER
    assert call(rpc_client(server), DescribeInstancesRequest())["TotalCount"] == 0


@pytest.mark.parametrize(
    "arn",
    [
        f"acs:ram:{MEMBER}:role/x",
        f"acs:ram::{MEMBER}:user/x",
        "acs:ram::not-an-id:role/x",
        f"acs:ram::{MEMBER}:role/",
        "rolebinder-member",
    ],
)
def test_a_malformed_role_arn_is_refused(server: FakeCloudServer, arn: str) -> None:
    error = server_error(rpc_client(server), assume_request(arn))

    assert_error(error, "InvalidParameter.RoleArn", 400)


def test_a_missing_role_is_entity_not_exist(server: FakeCloudServer) -> None:
    error = server_error(rpc_client(server), assume_request(f"acs:ram::{MEMBER}:role/nope"))

    assert_error(error, "EntityNotExist.Role", 404)
    assert error.get_error_msg() == "The specified Role not exists ."


def test_the_root_account_may_not_assume_roles(cloud: FakeCloud, server: FakeCloudServer) -> None:
    # GIVEN the hub's root key and a role that trusts the hub account
    cloud.add_key("LTAIhubRoot", "hub-root-secret", root=True)
    arn = member_role(cloud)

    # WHEN
    client = rpc_client(server, access_key_id="LTAIhubRoot", access_key_secret="hub-root-secret")
    error = server_error(client, assume_request(arn))

    # THEN
    assert_error(error, "NoPermission", 403)
    assert error.get_error_msg() == "Roles may not be assumed by root accounts."


def test_a_caller_without_sts_assume_role_is_refused(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    arn = member_role(cloud)
    cloud.add_key("LTAIreader", "reader-secret", policy=document(allow("ecs:*")))

    client = rpc_client(server, access_key_id="LTAIreader", access_key_secret="reader-secret")
    error = server_error(client, assume_request(arn))

    assert_error(error, "NoPermission", 403)
    assert error.get_error_msg() == NOT_AUTHORIZED


def test_sts_assume_role_scoped_to_the_faqs_role_resource_is_enough(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN the FAQ's policy: the role ARN with region `*`
    arn = member_role(cloud)
    resource = f"acs:ram:*:{MEMBER}:role/rolebinder-member"
    cloud.add_key("LTAIscoped", "scoped-secret", policy=document(allow("sts:AssumeRole", resource)))
    client = rpc_client(server, access_key_id="LTAIscoped", access_key_secret="scoped-secret")

    # WHEN / THEN: this role yes, another no
    assert assume(client, arn)["Credentials"]["AccessKeyId"]
    other = member_role(cloud, name="another")
    assert_error(server_error(client, assume_request(other)), "NoPermission", 403)


def test_a_trust_policy_that_does_not_name_the_caller_refuses(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    arn = member_role(cloud, trust(f"acs:ram::{OTHER}:root"))

    error = server_error(rpc_client(server), assume_request(arn))

    assert_error(error, "NoPermission", 403)
    assert error.get_error_msg() == NOT_AUTHORIZED


def test_a_service_trust_is_not_a_ram_trust(cloud: FakeCloud, server: FakeCloudServer) -> None:
    service = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": [HUB]}}
    arn = member_role(cloud, service)

    assert_error(server_error(rpc_client(server), assume_request(arn)), "NoPermission", 403)


def test_a_deny_statement_naming_the_caller_wins_over_the_allow(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    arn = member_role(
        cloud, trust(f"acs:ram::{HUB}:root"), trust(f"acs:ram::{HUB}:root", effect="Deny")
    )

    assert_error(server_error(rpc_client(server), assume_request(arn)), "NoPermission", 403)


@pytest.mark.parametrize("name", ["x", "a" * 65, "has space", "slash/no", "colon:no"])
def test_a_bad_role_session_name_is_refused(
    cloud: FakeCloud, server: FakeCloudServer, name: str
) -> None:
    arn = member_role(cloud)

    error = server_error(rpc_client(server), assume_request(arn, session=name))

    assert_error(error, "InvalidParameter.RoleSessionName", 400)


def test_a_64_character_session_name_of_every_allowed_kind_is_accepted(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    name = ("Ab9.@_-" * 10)[:64]

    body = assume(rpc_client(server), member_role(cloud), session=name)

    assert body["AssumedRoleUser"]["Arn"].endswith("/" + name)


@pytest.mark.parametrize("seconds", ["899", "3601", "abc"])
def test_a_duration_outside_900_to_the_roles_maximum_is_refused(
    cloud: FakeCloud, server: FakeCloudServer, seconds: str
) -> None:
    arn = member_role(cloud)

    error = server_error(rpc_client(server), assume_request(arn, DurationSeconds=seconds))

    assert_error(error, "InvalidParameter.DurationSeconds", 400)


def test_a_longer_max_session_duration_allows_a_longer_session(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    arn = member_role(cloud, max_session_duration=7200)

    body = assume(rpc_client(server), arn, DurationSeconds=7200)

    expires = datetime.strptime(body["Credentials"]["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    assert expires.replace(tzinfo=timezone.utc).timestamp() == int(cloud.clock.now() + 7200)


def test_a_policy_over_2048_characters_is_refused(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    arn = member_role(cloud)
    big = json.dumps(document(allow("ecs:DescribeInstances", "acs:ecs:*:*:instance/" + "a" * 2100)))

    error = server_error(rpc_client(server), assume_request(arn, Policy=big))

    assert_error(error, "InvalidParameter.PolicySize", 400)


@pytest.mark.parametrize("text", ["{not json", '["a list"]', '{"Statement": "none"}'])
def test_an_ungrammatical_policy_is_refused(
    cloud: FakeCloud, server: FakeCloudServer, text: str
) -> None:
    arn = member_role(cloud)

    error = server_error(rpc_client(server), assume_request(arn, Policy=text))

    assert_error(error, "InvalidParameter.PolicyGrammar", 400)


def test_the_roles_permission_policy_binds_its_sessions(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN a member role that may only describe
    arn = member_role(cloud, policy=document(allow("ecs:DescribeInstances")))
    member = session_client(server, assume(rpc_client(server), arn))

    # WHEN / THEN
    assert call(member, DescribeInstancesRequest())["TotalCount"] == 0
    assert_error(server_error(member, run_request(vswitch_id=None)), "Forbidden.RAM", 403)


def test_a_session_policy_narrows_the_roles_policy(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN a role allowed everything in ECS, assumed with a describe-only session policy
    arn = member_role(cloud, policy=document(allow("ecs:*")))
    narrow = json.dumps(document(allow("ecs:DescribeInstances")))
    member = session_client(server, assume(rpc_client(server), arn, Policy=narrow))
    wide = session_client(server, assume(rpc_client(server), arn))

    # WHEN / THEN: only the narrowed session is refused the write
    assert call(member, DescribeInstancesRequest())["TotalCount"] == 0
    assert_error(server_error(member, run_request(vswitch_id=None)), "Forbidden.RAM", 403)
    assert call(wide, run_request(vswitch_id=None))["InstanceIdSets"]["InstanceIdSet"]


def test_a_session_policy_cannot_widen_the_role(cloud: FakeCloud, server: FakeCloudServer) -> None:
    arn = member_role(cloud, policy=document(allow("ecs:DescribeInstances")))
    member = session_client(
        server, assume(rpc_client(server), arn, Policy=json.dumps(document(allow("*"))))
    )

    assert_error(server_error(member, run_request(vswitch_id=None)), "Forbidden.RAM", 403)


def test_issued_credentials_expire_by_the_fakes_clock(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN a 900-second session
    member = session_client(
        server, assume(rpc_client(server), member_role(cloud), DurationSeconds=900)
    )

    # WHEN the clock reaches one second before, then the expiration
    cloud.advance(899)
    assert call(member, DescribeInstancesRequest())["TotalCount"] == 0
    cloud.advance(1)

    # THEN
    error = server_error(member, DescribeInstancesRequest())
    assert_error(error, "InvalidSecurityToken.Expired", 400)


def test_function_credentials_assume_a_member_role_that_trusts_that_exact_role(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN the hub function's credentials (a session of rolebinder-hub) and a member role
    # that trusts exactly that role
    cloud.ram().create_role(HUB_ROLE, json.dumps(document(trust(f"acs:ram::{HUB}:root"))))
    cloud.add_key(FN_KEY, FN_SECRET, security_token=FN_TOKEN, role=HUB_ROLE)
    arn = member_role(cloud, trust(f"acs:ram::{HUB}:role/{HUB_ROLE}"))
    hub = rpc_client(
        server, access_key_id=FN_KEY, access_key_secret=FN_SECRET, security_token=FN_TOKEN
    )

    # WHEN
    body = assume(hub, arn)

    # THEN
    assert body["AssumedRoleUser"]["Arn"].startswith(f"acs:ram::{MEMBER}:role/")
    assert cloud.calls.all()[-1].account_id == HUB


def test_the_same_role_name_in_another_account_is_not_trusted(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN a session of a role named like the hub's, but in another account
    cloud.add_key(
        "STS.other", "other-secret", account_id=OTHER, security_token="CAIS-o", role=HUB_ROLE
    )
    cloud.ram(OTHER).create_role(HUB_ROLE, json.dumps(document(trust(f"acs:ram::{OTHER}:root"))))
    arn = member_role(cloud, trust(f"acs:ram::{HUB}:role/{HUB_ROLE}"))
    impostor = rpc_client(
        server, access_key_id="STS.other", access_key_secret="other-secret", security_token="CAIS-o"
    )

    # WHEN / THEN
    assert_error(server_error(impostor, assume_request(arn)), "NoPermission", 403)


def test_another_role_of_the_hub_account_is_not_the_trusted_role(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    cloud.add_key("STS.sibling", "sib-secret", security_token="CAIS-s", role="sibling")
    cloud.ram().create_role("sibling", json.dumps(document(trust(f"acs:ram::{HUB}:root"))))
    arn = member_role(cloud, trust(f"acs:ram::{HUB}:role/{HUB_ROLE}"))
    sibling = rpc_client(
        server, access_key_id="STS.sibling", access_key_secret="sib-secret", security_token="CAIS-s"
    )

    assert_error(server_error(sibling, assume_request(arn)), "NoPermission", 403)


def test_function_credentials_carry_their_roles_permission_policy(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN the hub role may only describe instances: no sts:AssumeRole
    cloud.ram().create_role(
        HUB_ROLE,
        json.dumps(document(trust(f"acs:ram::{HUB}:root"))),
        policy=Policy(document(allow("ecs:DescribeInstances"))),
    )
    cloud.add_key(FN_KEY, FN_SECRET, security_token=FN_TOKEN, role=HUB_ROLE)
    hub = rpc_client(
        server, access_key_id=FN_KEY, access_key_secret=FN_SECRET, security_token=FN_TOKEN
    )

    # WHEN / THEN
    assert_error(server_error(hub, assume_request(member_role(cloud))), "NoPermission", 403)


def test_a_role_session_key_whose_role_is_gone_may_do_nothing(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    cloud.add_key(FN_KEY, FN_SECRET, security_token=FN_TOKEN, role="never-created")
    hub = rpc_client(
        server, access_key_id=FN_KEY, access_key_secret=FN_SECRET, security_token=FN_TOKEN
    )

    assert_error(server_error(hub, assume_request(member_role(cloud))), "NoPermission", 403)
