"""Helpers shared by the tests: SDK clients pointed at a fake cloud, sample events."""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
from pathlib import Path
from typing import Any

from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest

from fakecloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, FakeCloudServer

ROOT = Path(__file__).resolve().parent.parent
# A child process imports `rolebinder` from this checkout (its source root is shared/) and
# `functions` / `tests` from the root, as the mutation copies need.
PYTHONPATH = os.pathsep.join((str(ROOT / "shared"), str(ROOT)))
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


def make_unreadable(path: Path, monkeypatch: Any) -> Path:
    """Make `path` unreadable: mode 000, and, for a user who reads it anyway (root, as in CI),
    opening it raises the PermissionError the kernel gives anyone else. Python's own `open`
    is what every reader here goes through (pathlib included), so the error path runs as it
    would for an unprivileged user."""
    path.chmod(0)
    if not os.access(path, os.R_OK):
        return path
    target = os.path.realpath(path)
    real_open = builtins.open

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, bytes, os.PathLike)) and os.path.realpath(file) == target:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    return path


# The hub's environment variables, which template.yml's hub switch sets.
HUB_VARIABLES = frozenset(
    {"ROLEBINDER_ACCOUNTS", "ROLEBINDER_MEMBER_ROLE", "ROLEBINDER_RECONCILE_FUNCTION"}
)
