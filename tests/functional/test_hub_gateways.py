"""The hub's gateways through the real SDKs against the fake: Resource Directory paging, a
credential that must outlive the invocation, and FC unreachable as a transient failure."""

from __future__ import annotations

import pytest

from fakecloud import FakeCloud, FakeCloudServer
from rolebinder.aliyun.credentials import Credentials, TemporaryCredentials
from rolebinder.aliyun.directory import PAGE_SIZE, DirectoryGateway
from rolebinder.aliyun.functions import FunctionGateway
from rolebinder.aliyun.retry import Deadline
from rolebinder.aliyun.transport import Transport
from rolebinder.errors import CloudError
from rolebinder.service.accounts import CredentialCache
from tests.functional.conftest import ACCOUNT
from tests.support import make_client


def test_the_directory_is_read_page_by_page(cloud: FakeCloud, server: FakeCloudServer) -> None:
    members = [str(3000000000000000 + n) for n in range(2 * PAGE_SIZE + 30)]
    cloud.create_resource_directory(ACCOUNT, members)
    client = make_client(server)
    client.add_endpoint("cn-hangzhou", "ResourceManager", server.url)

    found = DirectoryGateway(Transport(client, Deadline(30))).member_accounts()

    assert list(found) == members
    assert [c.params.get("PageNumber") for c in cloud.calls.all()] == ["1", "2", "3"]
    assert {c.params.get("PageSize") for c in cloud.calls.all()} == {str(PAGE_SIZE)}


def test_credentials_are_renewed_when_they_would_expire_within_the_invocation() -> None:
    now = [1_000_000.0]
    issued: list[int] = []

    class Sts:
        def assume_role(self, arn: str, session: str, seconds: int = 3600) -> TemporaryCredentials:
            issued.append(seconds)
            return TemporaryCredentials(Credentials(f"STS.{len(issued)}", "s", "t"), now[0] + 3600)

    cache = CredentialCache("rolebinder-member", "rolebinder", 900.0, lambda: now[0])
    cache.credentials("2000000000000001", Sts())
    now[0] += 1000  # 2600 s left: enough for a short event, not for a 50-minute sweep
    assert cache.credentials("2000000000000001", Sts(), valid_for=60).access_key_id == "STS.1"
    assert cache.credentials("2000000000000001", Sts(), valid_for=3000).access_key_id == "STS.2"
    # a budget longer than any session asks for as much as a session gives, no more
    now[0] += 1
    assert cache.credentials("2000000000000001", Sts(), valid_for=86_400).access_key_id == "STS.2"


def test_an_unreachable_fc_endpoint_is_a_transient_failure() -> None:
    gateway = FunctionGateway(Credentials("LTAIx", "secret-x"), "cn-hangzhou", "http://127.0.0.1:9")
    with pytest.raises(CloudError) as caught:
        gateway.invoke_async("reconcile", b"{}")
    assert (caught.value.code, caught.value.transient) == ("SDK.HttpError", True)
    assert "secret-x" not in str(caught.value)
