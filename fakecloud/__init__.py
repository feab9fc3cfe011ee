"""A stateful fake of the Alibaba Cloud ECS and RAM APIs that speaks the real wire protocol.

The real `aliyun-python-sdk-core` / `-ecs` / `-ram` clients talk to it over HTTP on 127.0.0.1,
with their own signing, retries and error parsing, exactly as they would talk to the cloud.
Test-only: never packaged for Function Compute.

Layers (moto's shape): `server` (HTTP, admin routes) -> `cloud` (routing, authentication,
faults, call log) -> `ecs_api` / `ram_api` (per-action parameter parsing and response shapes)
-> `ecs`, `tagging`, `ram` (state and behaviour, methods named after the API actions).

Supported actions
- ECS 2014-05-26: RunInstances, DescribeInstances, StartInstance, StopInstance, DeleteInstance,
  TagResources, UntagResources, AddTags, RemoveTags, ListTagResources,
  DescribeInstanceRamRole, AttachInstanceRamRole, DetachInstanceRamRole.
- RAM 2015-05-01: CreateRole, GetRole, ListRoles, DeleteRole.

Also modelled: signature v1 verification (with nonce replay and timestamp checks), STS
credentials, per-key permissions (a RAM policy document or lists of actions and passable
roles), per-account and per-region state, a driven or real clock for the instance lifecycle,
EventBridge-shaped events (instance state changes, tag changes, ActionTrail API calls), fault
injection (errors, latency, dropped connections, rate limits, per-instance batch failures,
eventual consistency), a call log and an admin endpoint. Where the docs show several shapes of
one field (a per-instance `Code` of "200" or 200, optional envelope fields, Created or Pending
creation events, ...), each answer or event takes one, chosen from the seed (`shapes.py`);
`FakeCloud(shapes=Shapes.uniform())` pins them all.

Not modelled: every other action; images, instance types, security groups, disks and billing
(accepted and echoed, not validated); RAM policies, users and groups; resource types other than
`instance` for tags; signature v3 (ACS3-HMAC-SHA256) and ROA-style requests; HTTPS.
Choices made where the public docs are silent are marked "choice" where they are implemented;
sources of the documented behaviour are in docs/research/api-facts.md.

Quick start (in-process):

    cloud = FakeCloud(clock=ManualClock())
    apply_seed(cloud, load_seed_file("events/seed.yaml"))
    with FakeCloudServer(cloud) as server:
        client = AcsClient(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, "cn-hangzhou")
        client.add_endpoint("cn-hangzhou", "Ecs", server.url)
        client.add_endpoint("cn-hangzhou", "Ram", server.url)
"""

from fakecloud.auth import KeyPair
from fakecloud.clock import ManualClock, RealClock
from fakecloud.cloud import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_ACCOUNT_ID,
    FakeCloud,
)
from fakecloud.ecs import Lifecycle
from fakecloud.errors import ApiError
from fakecloud.seed import SeedError, apply_seed, load_seed_file
from fakecloud.server import FakeCloudServer

__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCESS_KEY_SECRET",
    "DEFAULT_ACCOUNT_ID",
    "ApiError",
    "FakeCloud",
    "FakeCloudServer",
    "KeyPair",
    "Lifecycle",
    "ManualClock",
    "RealClock",
    "SeedError",
    "apply_seed",
    "load_seed_file",
]
