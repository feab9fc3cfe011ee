"""Resource Directory ListAccounts (2020-03-31) through the real aliyunsdkresourcemanager."""

from __future__ import annotations

import re

import pytest
from aliyunsdkresourcemanager.request.v20200331.ListAccountsRequest import ListAccountsRequest

from fakecloud import FakeCloud, FakeCloudServer
from tests.fakecloud.accounts import HUB, MEMBER, OTHER, allow, document, rpc_client
from tests.fakecloud.builders import assert_error, server_error
from tests.support import call

MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def list_request(page: int | None = None, size: int | None = None) -> ListAccountsRequest:
    request = ListAccountsRequest()
    if page is not None:
        request.set_PageNumber(page)
    if size is not None:
        request.set_PageSize(size)
    return request


def test_the_management_account_lists_the_members_with_every_documented_field(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN a directory managed by the hub with two members
    directory = cloud.create_resource_directory(
        HUB, [MEMBER, {"account_id": OTHER, "display_name": "prod", "status": "InviteSuccess"}]
    )

    # WHEN
    body = call(rpc_client(server), list_request())

    # THEN
    assert (body["TotalCount"], body["PageNumber"], body["PageSize"]) == (2, 1, 10)
    first, second = body["Accounts"]["Account"]
    assert (first["AccountId"], first["Type"], first["Status"], first["JoinMethod"]) == (
        MEMBER,
        "ResourceAccount",
        "CreateSuccess",
        "created",
    )
    assert (second["DisplayName"], second["Type"], second["JoinMethod"]) == (
        "prod",
        "CloudAccount",
        "invited",
    )
    assert first["ResourceDirectoryId"] == directory.directory_id
    assert first["FolderId"] == directory.root_folder_id
    assert MILLIS.match(first["JoinTime"]) and MILLIS.match(first["ModifyTime"])
    last = cloud.calls.all()[-1]
    assert (last.product, last.action, last.account_id) == ("resourcemanager", "ListAccounts", HUB)


def test_pages_follow_page_number_and_page_size(cloud: FakeCloud, server: FakeCloudServer) -> None:
    members = [f"{n:016d}" for n in range(100, 125)]
    cloud.create_resource_directory(HUB, members)

    body = call(rpc_client(server), list_request(page=3, size=10))

    assert body["TotalCount"] == 25
    assert [a["AccountId"] for a in body["Accounts"]["Account"]] == members[20:]


def test_a_page_past_the_end_is_empty(cloud: FakeCloud, server: FakeCloudServer) -> None:
    cloud.create_resource_directory(HUB, [MEMBER])

    body = call(rpc_client(server), list_request(page=2, size=100))

    assert (body["TotalCount"], body["Accounts"]["Account"]) == (1, [])


@pytest.mark.parametrize(
    ("page", "size", "code"),
    [
        (0, None, "InvalidParameter.PageNumber"),
        (None, 0, "InvalidParameter.PageSize"),
        (None, 101, "InvalidParameter.PageSize"),
    ],
)
def test_paging_outside_the_documented_ranges_is_refused(
    cloud: FakeCloud, server: FakeCloudServer, page: int | None, size: int | None, code: str
) -> None:
    cloud.create_resource_directory(HUB, [MEMBER])

    error = server_error(rpc_client(server), list_request(page, size))

    assert_error(error, code, 400)


def test_an_account_without_a_directory_gets_entity_not_exists(server: FakeCloudServer) -> None:
    error = server_error(rpc_client(server), list_request())

    assert_error(error, "EntityNotExists.ResourceDirectory", 404)
    assert error.get_error_msg().startswith("The resource directory for the account is not enabled")


def test_a_member_account_may_not_list(cloud: FakeCloud, server: FakeCloudServer) -> None:
    # GIVEN a member's key
    cloud.create_resource_directory(HUB, [MEMBER])
    cloud.add_key("LTAImember", "member-secret", account_id=MEMBER)

    # WHEN
    client = rpc_client(server, access_key_id="LTAImember", access_key_secret="member-secret")
    error = server_error(client, list_request())

    # THEN
    assert_error(error, "NoPermission", 403)


def test_the_caller_needs_resourcemanager_list_accounts(
    cloud: FakeCloud, server: FakeCloudServer
) -> None:
    # GIVEN two management-account keys, one without the permission
    cloud.create_resource_directory(HUB, [MEMBER])
    cloud.add_key("LTAInoList", "no-list-secret", policy=document(allow("sts:AssumeRole")))
    resource = f"acs:resourcemanager:*:{HUB}:account/*"
    cloud.add_key(
        "LTAIlister",
        "lister-secret",
        policy=document(allow("resourcemanager:ListAccounts", resource)),
    )

    # WHEN / THEN
    refused = rpc_client(server, access_key_id="LTAInoList", access_key_secret="no-list-secret")
    assert_error(server_error(refused, list_request()), "NoPermission", 403)
    allowed = rpc_client(server, access_key_id="LTAIlister", access_key_secret="lister-secret")
    assert call(allowed, list_request())["TotalCount"] == 1


def test_an_unknown_member_status_is_refused_when_the_directory_is_built(cloud: FakeCloud) -> None:
    with pytest.raises(ValueError, match="unknown status"):
        cloud.create_resource_directory(HUB, [{"account_id": MEMBER, "status": "Joined"}])
