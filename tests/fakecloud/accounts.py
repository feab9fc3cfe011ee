"""Builders for the multi-account tests: trust and permission documents, and real SDK clients
for STS, ResourceManager (aliyunsdk*) and FC 3.0 (the Tea SDK) pointed at the fake."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from alibabacloud_fc20230330 import models as fc_models
from alibabacloud_fc20230330.client import Client as FcClient
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.client import AcsClient
from aliyunsdksts.request.v20150401.AssumeRoleRequest import AssumeRoleRequest
from darabonba.runtime import RuntimeOptions

from fakecloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, FakeCloud, FakeCloudServer
from fakecloud.policy import Policy
from tests.support import REGION, call, make_client

HUB = "1234567890123456"  # the default account: the hub
MEMBER = "2222222222222222"
OTHER = "3333333333333333"
MEMBER_ROLE = "rolebinder-member"
HUB_ROLE = "rolebinder-hub"
FN_KEY, FN_SECRET, FN_TOKEN = "STS.hubFunctionKey", "hub-fn-secret", "CAIS-hub-fn-token"


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "1", "Statement": list(statements)}


def allow(action: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def trust(*principals: str, effect: str = "Allow") -> dict[str, Any]:
    """A trust statement naming RAM principals (`acs:ram::<id>:root` or a role ARN)."""
    return {"Effect": effect, "Action": "sts:AssumeRole", "Principal": {"RAM": list(principals)}}


def member_role(
    cloud: FakeCloud,
    *statements: dict[str, Any],
    account: str = MEMBER,
    name: str = MEMBER_ROLE,
    policy: dict[str, Any] | None = None,
    max_session_duration: int = 3600,
) -> str:
    """Create a role trusted by `statements` (default: the hub account) and return its ARN."""
    role = cloud.ram(account).create_role(
        name,
        json.dumps(document(*(statements or (trust(f"acs:ram::{HUB}:root"),)))),
        max_session_duration=max_session_duration,
        policy=None if policy is None else Policy(policy),
    )
    return role.arn


def rpc_client(server: FakeCloudServer, **credentials: Any) -> AcsClient:
    """An aliyunsdkcore client whose ECS, RAM, STS and ResourceManager endpoints are the fake."""
    client = make_client(server, **credentials)
    client.add_endpoint(REGION, "Sts", server.url)
    client.add_endpoint(REGION, "ResourceManager", server.url)
    return client


def assume_request(arn: str, session: str = "rolebinder-hub", **setters: Any) -> AssumeRoleRequest:
    request = AssumeRoleRequest()
    request.set_RoleArn(arn)
    request.set_RoleSessionName(session)
    for name, value in setters.items():
        getattr(request, f"set_{name}")(value)
    return request


def assume(client: AcsClient, arn: str, **setters: Any) -> dict[str, Any]:
    return call(client, assume_request(arn, **setters))


def session_client(server: FakeCloudServer, body: dict[str, Any]) -> AcsClient:
    """A client signing with the credentials an AssumeRole answer carries."""
    creds = body["Credentials"]
    return rpc_client(
        server,
        access_key_id=creds["AccessKeyId"],
        access_key_secret=creds["AccessKeySecret"],
        security_token=creds["SecurityToken"],
    )


def fc_client(
    server: FakeCloudServer,
    access_key_id: str = DEFAULT_ACCESS_KEY_ID,
    access_key_secret: str = DEFAULT_ACCESS_KEY_SECRET,
    security_token: str | None = None,
    host: str | None = None,
) -> FcClient:
    """The FC 3.0 SDK client. With `host` (e.g. `fcv3.cn-shanghai.aliyuncs.com`) the fake is
    its HTTP proxy, so the request carries that Host header, as it would in the cloud."""
    config = openapi_models.Config(
        access_key_id=access_key_id,
        access_key_secret=access_key_secret,
        security_token=security_token,
        region_id=REGION,
        endpoint=host or f"127.0.0.1:{server.port}",
        protocol="http",
        http_proxy=server.url if host else None,
    )
    return FcClient(config)


def invoke(
    client: FcClient,
    name: str,
    body: bytes = b'{"shard": 1}',
    kind: str | None = "Async",
    qualifier: str | None = None,
) -> fc_models.InvokeFunctionResponse:
    request = fc_models.InvokeFunctionRequest(body=io.BytesIO(body), qualifier=qualifier)
    headers = fc_models.InvokeFunctionHeaders(x_fc_invocation_type=kind)
    return client.invoke_function_with_options(name, request, headers, RuntimeOptions())


def fc_error(client: FcClient, name: str, **options: Any) -> ClientException:
    with pytest.raises(ClientException) as caught:
        invoke(client, name, **options)
    return caught.value
