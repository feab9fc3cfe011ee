"""Helpers shared by the tests: SDK clients pointed at a fake cloud, sample events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest

from fakecloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, FakeCloudServer

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
REGION = "cn-hangzhou"


def make_client(
    server: FakeCloudServer,
    region: str = REGION,
    access_key_id: str = DEFAULT_ACCESS_KEY_ID,
    access_key_secret: str = DEFAULT_ACCESS_KEY_SECRET,
    security_token: str | None = None,
) -> AcsClient:
    """A real SDK client whose ECS and RAM endpoints are the fake cloud; no SDK retries."""
    if security_token is None:
        client = AcsClient(access_key_id, access_key_secret, region, auto_retry=False)
    else:
        credential = StsTokenCredential(access_key_id, access_key_secret, security_token)
        client = AcsClient(region_id=region, credential=credential, auto_retry=False)
    client.add_endpoint(region, "Ecs", server.url)
    client.add_endpoint(region, "Ram", server.url)
    return client


def call(client: AcsClient, request: RpcRequest) -> dict[str, Any]:
    """Send a request and parse the JSON answer."""
    return json.loads(client.do_action_with_exception(request))


def load_event(name: str) -> Any:
    """A sample event from events/ by file name."""
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))
