"""A simulated organisation in the fake cloud, and a function container in a child process.

- `Org`: a hub account (its functions run as a session of the hub role, with the hub's
  least-privilege policy and sts:AssumeRole on the member role) and N member accounts, each with
  the member role (trusting exactly the hub's role, with `member_policy`), the mapping's roles,
  a VPC per region, and its instances; Resource Directory lists the members. The same seed as
  tests/functional/hub.py, through the fake's seed format; the instances are stored straight in
  each backend (no calls, no events), so 300,000 of them take seconds.
- The function runs in bench.fccontainer's child process, which the fake's FC registry calls
  for every asynchronous InvokeFunction (`register`).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.harness import ACCOUNT, ROLES, ROOT, handler_values
from fakecloud import FakeCloud, FakeCloudServer, apply_seed
from fakecloud.ecs import Instance
from fakecloud.shapes import CREATION_EVENTS, Shapes
from rolebinder.mapping.model import load_mapping
from rolebinder.mapping.permissions import hub_policy, member_policy, policy_document

HUB = ACCOUNT
# examples/mapping.yaml without its region scope: every shard gets the same work.
MAPPING = ROOT / "bench" / "org-mapping.yaml"
REGIONS = ("cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen", "cn-qingdao")
HUB_ROLE, MEMBER_ROLE, RECONCILE = "rolebinder-fc", "rolebinder-member", "reconcile"
HUB_KEY = ("STS.BenchHubSession0001", "bench-hub-session-secret", "CAIS-bench-hub-token")
PAYMENTS_PROD = {"team": "payments", "env": "prod"}
READER = {"ram-role": "AppReader"}
Shard = tuple[str, str]  # (account, region)


@dataclass(frozen=True)
class Scale:
    accounts: int
    regions: int
    instances: int  # per (account, region) shard

    def label(self) -> str:
        return f"{self.accounts} accounts x {self.regions} regions x {self.instances:,} instances"


def member_id(index: int) -> str:
    return f"2{index:015d}"


def vpc_of(region: str) -> tuple[str, str]:
    tag = region.replace("-", "")
    return f"vpc-bench{tag}", f"vsw-bench{tag}"


class Org:
    """The organisation, served on 127.0.0.1: the hub, its members, their instances."""

    def __init__(self, scale: Scale) -> None:
        self.scale = scale
        self.regions = REGIONS[: scale.regions]
        self.members = [member_id(i) for i in range(scale.accounts)]
        self.cloud = FakeCloud(shapes=Shapes(fixed={CREATION_EVENTS: ("Created",)}))
        apply_seed(self.cloud, self._seed())
        for account in self.members:
            for region in self.regions:
                self._add_instances(account, region)
        self.server = FakeCloudServer(self.cloud)

    def __enter__(self) -> Org:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def _seed(self) -> dict[str, Any]:
        mapping = load_mapping(MAPPING)
        hub_document = policy_document(mapping, HUB, self.regions)
        function = f"acs:fc:{self.regions[0]}:{HUB}:functions/{RECONCILE}"
        hub_document["Statement"] += hub_policy(MEMBER_ROLE, function, True)["Statement"]
        roles: list[dict[str, Any]] = [{"name": role} for role in ROLES]
        key_id, secret, token = HUB_KEY
        hub_role = {
            "name": HUB_ROLE,
            "trusted_services": ["fc.aliyuncs.com"],
            "policy": hub_document,
        }
        member_role = {
            "name": MEMBER_ROLE,
            "assume_role_policy_document": _trust(f"acs:ram::{HUB}:role/{HUB_ROLE}"),
            "policy": member_policy(mapping, regions=self.regions),
            "max_session_duration": 3600,
        }
        regions = {region: {"vpcs": [_vpc(region)]} for region in self.regions}
        member = {"roles": [*roles, member_role], "regions": regions}
        return {
            "account_id": HUB,
            "keys": [
                {
                    "access_key_id": key_id,
                    "access_key_secret": secret,
                    "security_token": token,
                    "role": HUB_ROLE,
                }
            ],
            "roles": [*roles, hub_role],
            "regions": regions,
            "accounts": {account: member for account in self.members},
            "resource_directory": {
                "management_account": HUB,
                "members": [{"account_id": account} for account in self.members],
            },
        }

    def _add_instances(self, account: str, region: str) -> None:
        """VPC instances without roles, alternately for Payments and AppReader (as the sweeps
        family's fleet), stored straight in the backend."""
        backend, now = self.cloud.ecs(region, account), time.time()
        vpc, vswitch = vpc_of(region)
        prefix = f"i-o{account[-4:]}{self.regions.index(region)}"
        for n in range(self.scale.instances):
            ident = f"{prefix}{n:07d}"
            backend.add_instance(
                Instance(
                    instance_id=ident,
                    seq=backend.next_seq(),
                    name=ident,
                    region=region,
                    zone_id=f"{region}-h",
                    status="Running",
                    network_type="vpc",
                    created=now,
                    instance_type="ecs.g7.large",
                    image_id="aliyun_3_x64_20G_alibase_20240819.vhd",
                    private_ip="172.16.0.10",
                    vpc_id=vpc,
                    vswitch_id=vswitch,
                    tags=dict(PAYMENTS_PROD if n % 2 == 0 else READER),
                )
            )

    @property
    def url(self) -> str:
        return self.server.url

    def environment(self, rate_limits: str = "") -> dict[str, str]:
        """What template.yml's hub switch gives the reconcile function, pointed at the fake."""
        key_id, secret, token = HUB_KEY
        values = {
            **handler_values(self.url, MAPPING),
            "ROLEBINDER_REGIONS": ",".join(self.regions),
            "ROLEBINDER_ACCOUNTS": "rd",
            "ROLEBINDER_MEMBER_ROLE": MEMBER_ROLE,
            "ROLEBINDER_RECONCILE_FUNCTION": RECONCILE,
            "ROLEBINDER_STS_ENDPOINT": self.url,
            "ROLEBINDER_RESOURCEMANAGER_ENDPOINT": self.url,
            "ROLEBINDER_FC_ENDPOINT": self.url,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
            "ALIBABA_CLOUD_SECURITY_TOKEN": token,
        }
        if rate_limits:
            values["ROLEBINDER_RATE_LIMITS"] = rate_limits
        return values

    def register(self, callback: Callable[[bytes], object]) -> None:
        """The hub's reconcile function, as the fake's FC runs it for an async invocation."""
        self.cloud.functions.register(HUB, self.regions[0], RECONCILE, callback)

    def limit(self, rates: Mapping[str, float], latency: float) -> None:
        """Each (account, region) its own one-token buckets, as ECS throttles; latency on all."""
        for action, per_second in rates.items():
            self.cloud.faults.rate_limit(action, per_second, burst=1.0, per_account_region=True)
        self.cloud.faults.delay("*", latency)

    def reset(self, account: str, region: str) -> None:
        """Unbind a shard's instances (its first sweep can run again)."""
        for instance in self.cloud.ecs(region, account).instances.values():
            instance.role = None

    def unbound(self) -> int:
        """Member instances still without the role the mapping gives them."""
        expected = {"payments": "Payments", None: "AppReader"}
        return sum(
            1
            for account in self.members
            for region in self.regions
            for i in self.cloud.ecs(region, account).instances.values()
            if i.role != expected[i.tags.get("team")]
        )

    def mark(self) -> int:
        return len(self.cloud.calls.all())

    def per_shard(self, since: int) -> dict[Shard, Counter[str]]:
        """Calls per (account, region) since `mark()`: ECS by the caller's account and region.
        RAM (global), STS, Resource Directory and FC calls are left out: they are per account
        or per hub, counted by `per_account`."""
        found: dict[Shard, Counter[str]] = {}
        for call in self.cloud.calls.all(since):
            if call.product.lower() == "ecs":
                found.setdefault((call.account_id, call.region), Counter())[call.action] += 1
        return found

    def per_account(self, since: int) -> dict[str, Counter[str]]:
        """The other calls since `mark()`, by the account they are for: AssumeRole by the role's
        account (the hub makes it), the rest by the caller's."""
        found: dict[str, Counter[str]] = {}
        for call in self.cloud.calls.all(since):
            if call.product.lower() == "ecs":
                continue
            account = call.account_id
            if call.action == "AssumeRole":
                account = call.params.get("RoleArn", "::").split(":")[3]
            found.setdefault(account, Counter())[call.action] += 1
        return found


def _trust(principal: str) -> str:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": [principal]}}
    return json.dumps({"Version": "1", "Statement": [statement]})


def _vpc(region: str) -> dict[str, Any]:
    vpc, vswitch = vpc_of(region)
    return {"vpc_id": vpc, "vswitches": [{"vswitch_id": vswitch, "cidr": "172.16.0.0/16"}]}
