"""The JSON Schema of seed files (`fakecloud.seed`): closed, so a typo is an error, not a no-op."""

from __future__ import annotations

from typing import Any

from fakecloud.regions import REGIONS
from fakecloud.resourcedirectory import MEMBER_STATUSES

_STRINGS = {"type": "array", "items": {"type": "string"}}
_ACCOUNT_ID = {"type": "string", "pattern": "^[0-9]{1,32}$"}
_KEY_PROPERTIES: dict[str, Any] = {
    "access_key_id": {"type": "string", "minLength": 1},
    "access_key_secret": {"type": "string", "minLength": 1},
    "security_token": {"type": "string"},
    "allowed_actions": _STRINGS,
    "passable_roles": _STRINGS,
    "policy": {"type": "object"},
    "role": {"type": "string", "minLength": 1},  # a role session (needs security_token)
    "root": {"type": "boolean"},  # the account's root credential
}


def _key(with_account: bool) -> dict[str, Any]:
    """A key entry; under `accounts:` its account is the enclosing one, so it names none."""
    properties = dict(_KEY_PROPERTIES)
    if with_account:
        properties["account_id"] = _ACCOUNT_ID
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["access_key_id", "access_key_secret"],
        "properties": properties,
    }


SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "account_id": _ACCOUNT_ID,
        "keys": {"type": "array", "items": _key(with_account=True)},
        "roles": {"$ref": "#/$defs/roles"},
        "regions": {"$ref": "#/$defs/regions"},
        "accounts": {
            "type": "object",
            "propertyNames": _ACCOUNT_ID,
            "additionalProperties": {"$ref": "#/$defs/account"},
        },
        "resource_directory": {"$ref": "#/$defs/resource_directory"},
    },
    "$defs": {
        "account": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "keys": {"type": "array", "items": _key(with_account=False)},
                "roles": {"$ref": "#/$defs/roles"},
                "regions": {"$ref": "#/$defs/regions"},
            },
        },
        "resource_directory": {
            "type": "object",
            "additionalProperties": False,
            "required": ["management_account"],
            "properties": {
                "management_account": _ACCOUNT_ID,
                "members": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["account_id"],
                        "properties": {
                            "account_id": _ACCOUNT_ID,
                            "display_name": {"type": "string"},
                            "status": {"enum": list(MEMBER_STATUSES)},
                        },
                    },
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
                    "policy": {"type": "object"},  # its sessions' permissions; absent: all
                    "max_session_duration": {"type": "integer", "minimum": 3600, "maximum": 43200},
                },
            },
        },
        "regions": {
            "type": "object",
            "propertyNames": {"enum": sorted(REGIONS)},
            "additionalProperties": {"$ref": "#/$defs/region"},
        },
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
