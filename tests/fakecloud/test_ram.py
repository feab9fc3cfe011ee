"""RAM roles: CreateRole, GetRole, ListRoles, DeleteRole."""

from __future__ import annotations

import json
import re

import pytest
from aliyunsdkram.request.v20150501.CreateRoleRequest import CreateRoleRequest
from aliyunsdkram.request.v20150501.DeleteRoleRequest import DeleteRoleRequest
from aliyunsdkram.request.v20150501.GetRoleRequest import GetRoleRequest
from aliyunsdkram.request.v20150501.ListRolesRequest import ListRolesRequest

from fakecloud import DEFAULT_ACCOUNT_ID, FakeCloud
from fakecloud.ram import ecs_trust_policy
from tests.fakecloud.builders import (
    ROLE,
    assert_error,
    attach_request,
    run,
    seed_role,
    seed_vpc,
    server_error,
)
from tests.support import call

ISO_SECONDS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def create(name: str, policy: str | None = None, **options: object) -> CreateRoleRequest:
    request = CreateRoleRequest()
    request.set_RoleName(name)
    request.set_AssumeRolePolicyDocument(ecs_trust_policy() if policy is None else policy)
    for setter, value in options.items():
        getattr(request, f"set_{setter}")(value)
    return request


def get(name: str) -> GetRoleRequest:
    request = GetRoleRequest()
    request.set_RoleName(name)
    return request


def delete(name: str) -> DeleteRoleRequest:
    request = DeleteRoleRequest()
    request.set_RoleName(name)
    return request


def list_page(marker: str | None = None, max_items: int | None = None) -> ListRolesRequest:
    request = ListRolesRequest()
    if marker:
        request.set_Marker(marker)
    if max_items:
        request.set_MaxItems(max_items)
    return request


def test_create_role_answers_the_role(client) -> None:
    body = call(client, create(ROLE, Description="reads the app bucket", MaxSessionDuration=7200))

    role = body["Role"]
    assert role["RoleName"] == ROLE
    assert re.fullmatch(r"\d{19}", role["RoleId"])
    # The name keeps its case in the ARN, as in the published samples (api-facts 5.6)
    assert role["Arn"] == f"acs:ram::{DEFAULT_ACCOUNT_ID}:role/AppReader"
    assert role["Description"] == "reads the app bucket"
    assert role["MaxSessionDuration"] == 7200
    assert re.fullmatch(ISO_SECONDS, role["CreateDate"])
    assert role["AssumeRolePolicyDocument"] == ecs_trust_policy()


def test_get_role_returns_the_trust_policy_as_a_json_string(client) -> None:
    # GIVEN a role with a trust policy
    call(client, create(ROLE))

    # WHEN it is read back, in another case
    role = call(client, get(ROLE.upper()))["Role"]

    # THEN
    assert role["RoleName"] == ROLE
    assert isinstance(role["AssumeRolePolicyDocument"], str)
    document = json.loads(role["AssumeRolePolicyDocument"])
    assert document["Statement"][0]["Principal"] == {"Service": ["ecs.aliyuncs.com"]}
    assert {
        "RoleId",
        "Arn",
        "Description",
        "CreateDate",
        "UpdateDate",
        "MaxSessionDuration",
    } <= set(role)


def test_list_roles_pages_with_a_marker(cloud: FakeCloud, client) -> None:
    # GIVEN seven roles
    names = [f"Role{n}" for n in range(7)]
    for name in names:
        seed_role(cloud, name)

    # WHEN they are listed three at a time
    pages, marker = [], None
    while True:
        page = call(client, list_page(marker, 3))
        pages.append(page)
        marker = page.get("Marker")
        if not page["IsTruncated"]:
            break

    # THEN every role came once; Marker only on truncated pages; no trust policy in the list
    assert [p["IsTruncated"] for p in pages] == [True, True, False]
    assert "Marker" not in pages[-1]
    listed = [r for p in pages for r in p["Roles"]["Role"]]
    assert [r["RoleName"] for r in listed] == names
    assert all("AssumeRolePolicyDocument" not in r for r in listed)


def test_list_roles_defaults_to_a_hundred(cloud: FakeCloud, client) -> None:
    for n in range(101):
        seed_role(cloud, f"Role{n:03d}")

    page = call(client, list_page())

    assert (len(page["Roles"]["Role"]), page["IsTruncated"]) == (100, True)


def test_list_roles_with_a_bad_marker(client) -> None:
    error = server_error(client, list_page("no-such-marker"))

    assert_error(error, "InvalidParameter.Marker", 400)


def test_delete_role(client) -> None:
    call(client, create(ROLE))

    body = call(client, delete(ROLE))

    assert set(body) == {"RequestId"}
    assert_error(server_error(client, get(ROLE)), "EntityNotExist.Role", 404)


@pytest.mark.parametrize("make", [get, delete])
def test_an_unknown_role_does_not_exist(client, make) -> None:
    error = server_error(client, make("Nobody"))

    assert_error(error, "EntityNotExist.Role", 404)
    assert error.get_error_msg() == "The role does not exist."


@pytest.mark.parametrize("name", [ROLE, ROLE.lower()])
def test_a_role_name_is_taken_whatever_its_case(client, name: str) -> None:
    call(client, create(ROLE))

    error = server_error(client, create(name))

    assert_error(error, "EntityAlreadyExists.Role", 409)
    assert error.get_error_msg() == "The role does already EXIST."


@pytest.mark.parametrize(
    "policy",
    ["not json", "[]", '{"Version": "1"}', '{"Statement": {"Effect": "Allow"}}'],
)
def test_a_malformed_trust_policy(cloud: FakeCloud, client, policy: str) -> None:
    error = server_error(client, create(ROLE, policy))

    assert_error(error, "MalformedPolicyDocument", 400)
    assert cloud.ram().roles == {}


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("has space", "InvalidParameter.RoleName.InvalidChars"),
        ("under_score", "InvalidParameter.RoleName.InvalidChars"),
        ("r" * 65, "InvalidParameter.RoleName.Length"),
    ],
)
def test_bad_role_names_are_refused(client, name: str, code: str) -> None:
    error = server_error(client, create(name))

    assert_error(error, code, 400)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("has space", "InvalidParameter.RoleName.InvalidChars"),
        ("r" * 65, "InvalidParameter.RoleName.Length"),
    ],
)
@pytest.mark.parametrize("make", [get, delete])
def test_get_and_delete_check_the_role_name(client, make, name: str, code: str) -> None:
    error = server_error(client, make(name))

    assert_error(error, code, 400)


def test_the_longest_role_name(client) -> None:
    name = "r" * 64

    assert call(client, create(name))["Role"]["RoleName"] == name


@pytest.mark.parametrize("seconds", [3599, 43201])
def test_max_session_duration_out_of_range(client, seconds: int) -> None:
    error = server_error(client, create(ROLE, MaxSessionDuration=seconds))

    assert_error(error, "InvalidParameter.MaxSessionDuration", 400)


def test_role_name_is_required(client) -> None:
    error = server_error(client, GetRoleRequest())

    assert_error(error, "MissingParameter.RoleName", 400)


def test_a_role_bound_to_an_instance_cannot_be_deleted(cloud: FakeCloud, client) -> None:
    # GIVEN a role bound to an instance
    seed_vpc(cloud)
    seed_role(cloud)
    [instance_id] = run(client)
    call(client, attach_request([instance_id]))

    # WHEN it is deleted
    error = server_error(client, delete(ROLE))

    # THEN it is refused (the fake's choice) and the role stays
    assert_error(error, "DeleteConflict.Role.Instance", 409)
    assert call(client, get(ROLE))["Role"]["RoleName"] == ROLE
