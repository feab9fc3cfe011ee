"""Fixtures: a fresh fake cloud per test, served on an ephemeral 127.0.0.1 port.

Every test also runs under the secret scan (tests/secrets_scan.py): a test whose output or log
records carry an AccessKey secret, a security token or a signature fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from aliyunsdkcore.client import AcsClient

from fakecloud import FakeCloud, FakeCloudServer, ManualClock
from rolebinder.entrypoints.wiring import silence_sdk_logging
from tests.support import make_client

pytest_plugins = ["tests.secrets_scan"]

# The SDK honours proxy variables; the fake is always reached directly.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_name, None)
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
# The SDK reads these before any credential object it is given; they must never leak in.
os.environ.pop("ALIYUN_ACCESS_KEY_ID", None)
os.environ.pop("ALIYUN_ACCESS_KEY_SECRET", None)
# As in production (rolebinder.entrypoints.wiring): the SDK's own error logs would echo signed
# strings.
silence_sdk_logging()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def cloud(clock: ManualClock) -> FakeCloud:
    """An empty fake cloud on a hand-driven clock (advance it with cloud.advance(seconds))."""
    return FakeCloud(clock=clock)


@pytest.fixture
def server(cloud: FakeCloud) -> Iterator[FakeCloudServer]:
    with FakeCloudServer(cloud) as running:
        yield running


@pytest.fixture
def client(server: FakeCloudServer) -> AcsClient:
    """A real SDK client (default test key pair, cn-hangzhou) talking to the fake over HTTP."""
    return make_client(server)
