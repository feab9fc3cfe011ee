"""A stateful fake of the Alibaba Cloud ECS, RAM, STS, Resource Directory and FC 3.0 invoke APIs
that speaks the real wire protocol.

The real `aliyun-python-sdk-core` / `-ecs` / `-ram` / `-sts` / `-resourcemanager` clients and the
`alibabacloud-fc20230330` Tea client talk to it over HTTP on 127.0.0.1, with their own signing,
retries and error parsing, exactly as they would talk to the cloud.
Test-only: never packaged for Function Compute.

Layers (moto's shape): `server` (HTTP, admin routes) -> `cloud` (routing, authentication,
faults, call log) -> `ecs_api` / `ram_api` (per-action parameter parsing and response shapes)
-> `ecs`, `tagging`, `ram` (state and behaviour, methods named after the API actions).

Supported actions
- ECS 2014-05-26: RunInstances, DescribeInstances, StartInstance, StopInstance, DeleteInstance,
  TagResources, UntagResources, AddTags, RemoveTags, ListTagResources,
  DescribeInstanceRamRole, AttachInstanceRamRole, DetachInstanceRamRole.
- RAM 2015-05-01: CreateRole, GetRole, ListRoles, DeleteRole.
- STS 2015-04-01: AssumeRole (trust policies, role and session policies, expiry: `sts`).
- ResourceManager 2020-03-31: ListAccounts (`cloud.create_resource_directory`).
- FC 2023-03-30: InvokeFunction, asynchronous only, ACS3-signed (`cloud.functions.register`).

Also modelled: signature v1 and v3 (ACS3-HMAC-SHA256) verification (with nonce replay and
timestamp checks), STS credentials that expire by the fake's clock, key principals (a RAM user,
a role session such as FC's function credentials, or the root account), per-key permissions (a
RAM policy document, lists of actions and passable roles, or a role's permission policy),
several accounts with per-account and per-region state, cross-account EventBridge delivery
(`eventbridge.deliver_cross_account`), a driven or real clock for the instance lifecycle,
EventBridge-shaped events (instance state changes, tag changes, ActionTrail API calls), fault
injection (errors, latency, dropped connections, rate limits, per-instance batch failures,
eventual consistency), a call log and an admin endpoint. Where the docs show several shapes of
one field (a per-instance `Code` of "200" or 200, optional envelope fields, Created or Pending
creation events, ...), each answer or event takes one, chosen from the seed (`shapes.py`);
`FakeCloud(shapes=Shapes.uniform())` pins them all.

Not modelled: every other action; images, instance types, security groups, disks and billing
(accepted and echoed, not validated); the RAM policy APIs, users and groups; resource types
other than `instance` for tags; ROA-style requests other than FC's InvokeFunction; synchronous
FC invocations; delegated Resource Directory administrators; HTTPS.
Choices made where the public docs are silent are marked "choice" where they are implemented;
sources of the documented behaviour are in docs/research/api-facts.md.

Quick start (in-process):

    cloud = FakeCloud(clock=ManualClock())
    apply_seed(cloud, load_seed_file("events/seed.yaml"))
    with FakeCloudServer(cloud) as server:
        client = AcsClient(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, "cn-hangzhou")
        client.add_endpoint("cn-hangzhou", "Ecs", server.url)
        client.add_endpoint("cn-hangzhou", "Ram", server.url)
        client.add_endpoint("cn-hangzhou", "Sts", server.url)  # and "ResourceManager"
        # FC 3.0: Config(endpoint=f"127.0.0.1:{server.port}", protocol="http"), or
        # endpoint="fcv3.<region>.aliyuncs.com" with http_proxy=server.url to name the region.
"""

from fakecloud.auth import KeyPair, Principal
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
    "Principal",
    "RealClock",
    "SeedError",
    "apply_seed",
    "load_seed_file",
]
