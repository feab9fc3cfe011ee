"""Seed files: declare keys, roles, VPCs and instances with explicit ids (YAML or JSON).

```yaml
account_id: "1234567890123456"        # the default account for what follows (optional)
keys:                                  # extra accepted key pairs (optional)
  - {access_key_id: STS.reader, access_key_secret: seed-reader-secret, security_token: CAIS-r,
     allowed_actions: [ecs:DescribeInstances], passable_roles: [AppReader]}  # or policy:
  - {access_key_id: LTAIroot, access_key_secret: seed-root-secret, root: true}  # root
  - {access_key_id: STS.fn, access_key_secret: seed-fn-secret,   # FC's function credentials:
     security_token: CAIS-seed-fn-token, role: rolebinder-hub}   # a session of the hub role
roles:
  - {name: AppReader}                  # trusts ecs.aliyuncs.com by default
  - {name: Untrusted, trusted_services: [fc.aliyuncs.com]}
  - {name: rolebinder-hub, trusted_services: [fc.aliyuncs.com],
     policy: {Version: "1", Statement: [{Effect: Allow, Action: "sts:AssumeRole", Resource: "*"}]}}
regions:
  cn-hangzhou:
    vpcs:
      - vpc_id: vpc-bp1demo
        vswitches: [{vswitch_id: vsw-bp1demo, zone_id: cn-hangzhou-h, cidr: 172.16.1.0/24}]
    instances:
      - {instance_id: i-bp1demo0001, vswitch_id: vsw-bp1demo, tags: {team: payments},
         status: Running, role: AppReader, resource_group_id: rg-demo, name: web-1}
      - {instance_id: i-bp1classic01, network: classic}
accounts:                              # more accounts, each with the same three sections
  "2222222222222222":
    roles:
      - name: rolebinder-member        # trusts exactly the hub's role; `policy:` its rights
        assume_role_policy_document: >-
          {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
          "Principal": {"RAM": ["acs:ram::1234567890123456:role/rolebinder-hub"]}}]}
        max_session_duration: 3600
    regions: {cn-hangzhou: {instances: [{instance_id: i-bp1member01, network: classic}]}}
resource_directory:                    # ListAccounts lists exactly `members`
  management_account: "1234567890123456"
  members: [{account_id: "2222222222222222", display_name: member, status: CreateSuccess}]
```
A role without `policy:` gives its sessions every permission (so older seeds keep working).
Seeding emits no events: it describes the world as it already is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from fakecloud.cloud import DEFAULT_ACCOUNT_ID, FakeCloud
from fakecloud.ecs import EcsBackend, Instance
from fakecloud.errors import ApiError
from fakecloud.policy import Policy
from fakecloud.ram import ecs_trust_policy
from fakecloud.seed_schema import SCHEMA


class SeedError(ValueError):
    """The seed document is invalid; the message names the path."""


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema  # noqa: PLC0415 - only seeding needs it

    return jsonschema.Draft202012Validator(SCHEMA)


def load_seed_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON seed file."""
    import yaml  # noqa: PLC0415

    try:
        text = Path(path).read_text(encoding="utf-8")
        document = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (OSError, UnicodeError, ValueError, yaml.YAMLError) as error:
        raise SeedError(f"cannot read seed file {path}: {error}") from None
    if not isinstance(document, dict):
        raise SeedError(f"seed file {path}: the top level must be a mapping")
    return document


def apply_seed(cloud: FakeCloud, document: Mapping[str, Any]) -> None:
    """Validate a seed document and create what it declares."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "<root>"
        raise SeedError(f"seed {where}: {errors[0].message}")
    _seed_account(cloud, document.get("account_id", DEFAULT_ACCOUNT_ID), document)
    for account_id, spec in document.get("accounts", {}).items():
        _seed_account(cloud, account_id, spec)
    directory = document.get("resource_directory")
    if directory is not None:
        cloud.create_resource_directory(
            directory["management_account"], directory.get("members", [])
        )


def _seed_account(cloud: FakeCloud, account_id: str, spec: Mapping[str, Any]) -> None:
    """The keys, roles and regions of one account (the top level's, or one of `accounts:`)."""
    for key in spec.get("keys", []):
        try:
            cloud.add_key(**{"account_id": account_id, **key})
        except ValueError as error:  # a role key without a token, a root STS key...
            raise SeedError(f"key {key['access_key_id']}: {error}") from None
    for role in spec.get("roles", []):
        _seed_role(cloud, account_id, role)
    for region, region_spec in spec.get("regions", {}).items():
        _seed_region(cloud, cloud.ecs(region, account_id), region_spec)


def _seed_region(cloud: FakeCloud, backend: EcsBackend, spec: Mapping[str, Any]) -> None:
    region = backend.region
    for vpc in spec.get("vpcs", []):
        for vswitch in vpc.get("vswitches", []):
            backend.add_vswitch(
                vswitch["vswitch_id"],
                vpc["vpc_id"],
                vswitch.get("zone_id", f"{region}-h"),
                vswitch.get("cidr", "172.16.0.0/24"),
            )
    for instance in spec.get("instances", []):
        _seed_instance(cloud, backend, instance)


def _seed_role(cloud: FakeCloud, account_id: str, spec: Mapping[str, Any]) -> None:
    document = spec.get("assume_role_policy_document")
    if document is None:
        services = spec.get("trusted_services", ["ecs.aliyuncs.com"])
        document = ecs_trust_policy().replace('["ecs.aliyuncs.com"]', json.dumps(services))
    try:
        policy = Policy(spec["policy"]) if "policy" in spec else None
        cloud.ram(account_id).create_role(
            spec["name"],
            document,
            spec.get("description", ""),
            spec.get("max_session_duration", 3600),
            policy,
        )
    except ApiError as error:
        raise SeedError(f"role {spec['name']}: {error.message}") from None
    except ValueError as error:  # the policy document
        raise SeedError(f"role {spec['name']}: policy: {error}") from None


def _seed_instance(cloud: FakeCloud, backend: EcsBackend, spec: Mapping[str, Any]) -> None:
    vswitch = backend.vswitches.get(spec.get("vswitch_id", ""))
    classic = spec.get("network") == "classic"
    if not classic and vswitch is None:
        raise SeedError(
            f"instance {spec['instance_id']}: a VPC instance needs a declared vswitch_id"
        )
    if spec.get("role") and classic:
        raise SeedError(f"instance {spec['instance_id']}: a classic instance cannot have a role")
    instance_id = spec["instance_id"]
    if instance_id in backend.instances:
        raise SeedError(f"instance {instance_id}: the id is already taken")
    backend.add_instance(
        Instance(
            instance_id=instance_id,
            seq=backend.next_seq(),
            name=spec.get("name", instance_id),
            region=backend.region,
            zone_id=vswitch.zone_id if vswitch else f"{backend.region}-b",
            status=spec.get("status", "Running"),
            network_type="classic" if classic else "vpc",
            created=cloud.clock.now(),
            instance_type=spec.get("instance_type", "ecs.g7.large"),
            image_id="aliyun_3_x64_20G_alibase_20240819.vhd",
            private_ip=(vswitch.cidr.split("/")[0].rsplit(".", 1)[0] + ".10")
            if vswitch
            else "10.0.0.10",
            vpc_id=vswitch.vpc_id if vswitch else "",
            vswitch_id=vswitch.vswitch_id if vswitch else "",
            resource_group_id=spec.get("resource_group_id", ""),
            tags=dict(spec.get("tags", {})),
            role=_role_name(cloud, backend, spec.get("role")),
        )
    )


def _role_name(cloud: FakeCloud, backend: EcsBackend, role: str | None) -> str | None:
    if not role:
        return None
    found = cloud.ram(backend.account_id).find_role(role)
    if found is None:
        raise SeedError(f"role {role} is bound to an instance but not declared under roles")
    return found.name
