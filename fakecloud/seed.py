"""Seed files: declare keys, roles, VPCs and instances with explicit ids (YAML or JSON).

```yaml
account_id: "1234567890123456"        # the default account for what follows (optional)
keys:                                  # extra accepted key pairs (optional)
  - {access_key_id: AK, access_key_secret: SK, security_token: TOKEN,
     allowed_actions: [ecs:DescribeInstances], passable_roles: [AppReader], policy: {...}}
roles:
  - {name: AppReader}                  # trusts ecs.aliyuncs.com by default
  - {name: Untrusted, trusted_services: [fc.aliyuncs.com]}
regions:
  cn-hangzhou:
    vpcs:
      - vpc_id: vpc-bp1demo
        vswitches: [{vswitch_id: vsw-bp1demo, zone_id: cn-hangzhou-h, cidr: 172.16.1.0/24}]
    instances:
      - {instance_id: i-bp1demo0001, vswitch_id: vsw-bp1demo, tags: {team: payments},
         status: Running, role: AppReader, resource_group_id: rg-demo, name: web-1}
      - {instance_id: i-bp1classic01, network: classic}
```
Seeding emits no events: it describes the world as it already is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from fakecloud.cloud import DEFAULT_ACCOUNT_ID, REGIONS, FakeCloud
from fakecloud.ecs import EcsBackend, Instance
from fakecloud.errors import ApiError
from fakecloud.ram import ecs_trust_policy


class SeedError(ValueError):
    """The seed document is invalid; the message names the path."""


_STRINGS = {"type": "array", "items": {"type": "string"}}
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "account_id": {"type": "string", "pattern": "^[0-9]{1,32}$"},
        "keys": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["access_key_id", "access_key_secret"],
                "properties": {
                    "access_key_id": {"type": "string", "minLength": 1},
                    "access_key_secret": {"type": "string", "minLength": 1},
                    "account_id": {"type": "string", "pattern": "^[0-9]{1,32}$"},
                    "security_token": {"type": "string"},
                    "allowed_actions": _STRINGS,
                    "passable_roles": _STRINGS,
                    "policy": {"type": "object"},
                },
            },
        },
        "roles": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "trusted_services": _STRINGS,
                    "assume_role_policy_document": {"type": "string"},
                },
            },
        },
        "regions": {
            "type": "object",
            "propertyNames": {"enum": sorted(REGIONS)},
            "additionalProperties": {"$ref": "#/$defs/region"},
        },
    },
    "$defs": {
        "region": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "vpcs": {"type": "array", "items": {"$ref": "#/$defs/vpc"}},
                "instances": {"type": "array", "items": {"$ref": "#/$defs/instance"}},
            },
        },
        "vpc": {
            "type": "object",
            "additionalProperties": False,
            "required": ["vpc_id"],
            "properties": {
                "vpc_id": {"type": "string"},
                "vswitches": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["vswitch_id"],
                        "properties": {
                            "vswitch_id": {"type": "string"},
                            "zone_id": {"type": "string"},
                            "cidr": {"type": "string"},
                        },
                    },
                },
            },
        },
        "instance": {
            "type": "object",
            "additionalProperties": False,
            "required": ["instance_id"],
            "properties": {
                "instance_id": {"type": "string", "pattern": "^i-[A-Za-z0-9]{1,64}$"},
                "name": {"type": "string"},
                "vswitch_id": {"type": "string"},
                "network": {"enum": ["vpc", "classic"]},
                "status": {"enum": ["Pending", "Starting", "Running", "Stopping", "Stopped"]},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                "role": {"type": ["string", "null"]},
                "resource_group_id": {"type": "string"},
                "instance_type": {"type": "string"},
            },
        },
    },
}


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema  # noqa: PLC0415 - only seeding needs it

    return jsonschema.Draft202012Validator(_SCHEMA)


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
    account_id = document.get("account_id", DEFAULT_ACCOUNT_ID)
    for key in document.get("keys", []):
        cloud.add_key(**{"account_id": account_id, **key})
    for role in document.get("roles", []):
        _seed_role(cloud, account_id, role)
    for region, spec in document.get("regions", {}).items():
        backend = cloud.ecs(region, account_id)
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
        cloud.ram(account_id).create_role(spec["name"], document, spec.get("description", ""))
    except ApiError as error:
        raise SeedError(f"role {spec['name']}: {error.message}") from None


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
