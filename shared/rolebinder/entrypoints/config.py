"""Every environment variable rolebinder reads, with its default, in one place.

`Settings.from_env` is a pure function of a mapping (pass `os.environ`), so tests and the CLI
build settings without touching the process environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType

from rolebinder.domain import ids
from rolebinder.domain.ownership import DEFAULT_DEPLOYMENT
from rolebinder.errors import InputError
from rolebinder.value import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any

# The tag-to-role mapping file (YAML or JSON). Required by the handlers.
MAPPING = "ROLEBINDER_MAPPING"
# "1"/"true"/"yes" decide and log, but write nothing.
DRY_RUN = "ROLEBINDER_DRY_RUN"
# Comma-separated regions: the only ones any handler reads or writes (events from others are
# ignored, the sweep covers them all, a timer payload may only narrow them); default: the
# function's own region.
REGIONS = "ROLEBINDER_REGIONS"
# The account the functions run in; events from any other account are ignored.
ACCOUNT_ID = "ROLEBINDER_ACCOUNT_ID"
# Endpoint overrides, e.g. http://127.0.0.1:8790 for the fake cloud.
ECS_ENDPOINT = "ROLEBINDER_ECS_ENDPOINT"
RAM_ENDPOINT = "ROLEBINDER_RAM_ENDPOINT"
# Seconds a role-trust check stays cached in a warm container.
ROLE_CACHE_SECONDS = "ROLEBINDER_ROLE_CACHE_SECONDS"
# Seconds to keep looking for a just-created instance that the API does not show yet.
VISIBILITY_WAIT = "ROLEBINDER_VISIBILITY_WAIT"
# Seconds kept free before the function timeout, to log outcomes and return.
DEADLINE_MARGIN = "ROLEBINDER_DEADLINE_MARGIN"
# Per-call read timeout for API calls, seconds.
API_TIMEOUT = "ROLEBINDER_API_TIMEOUT"
# Calls per second per action this container may make, e.g. "AttachInstanceRamRole=10,
# DescribeInstances=20" (the account's quotas, from Quota Center). Unlisted actions are paced
# only once the service throttles them (rolebinder.aliyun.pacing).
RATE_LIMITS = "ROLEBINDER_RATE_LIMITS"
# Seconds a container remembers instances it has just bound, so a later creation event for one
# of them (the Running safety net) costs no API call. 0 turns it off.
SETTLED_SECONDS = "ROLEBINDER_SETTLED_SECONDS"
# This deployment's name, written beside every marker (rolebinder:owner): two deployments in one
# account leave each other's bindings alone. template.yml sets the stack's ServiceName.
DEPLOYMENT = "ROLEBINDER_DEPLOYMENT"

# A hub: the member accounts it also serves, "id,id,..." or "rd" (every member Resource
# Directory lists); empty serves only the account the functions run in. The hub's own account is
# always served, with its own credentials.
ACCOUNTS = "ROLEBINDER_ACCOUNTS"
# The role a hub assumes in each member account (STS AssumeRole); member.yml creates it.
MEMBER_ROLE = "ROLEBINDER_MEMBER_ROLE"
# The reconcile function's name: set, a timer sweep of several accounts fans out one
# asynchronous invocation per account; empty, it sweeps them one after another in place.
RECONCILE_FUNCTION = "ROLEBINDER_RECONCILE_FUNCTION"
STS_ENDPOINT = "ROLEBINDER_STS_ENDPOINT"
RESOURCEMANAGER_ENDPOINT = "ROLEBINDER_RESOURCEMANAGER_ENDPOINT"
FC_ENDPOINT = "ROLEBINDER_FC_ENDPOINT"
# The ROLEBINDER_ACCOUNTS value that lists the members from Resource Directory.
FROM_DIRECTORY = "rd"
DEFAULT_MEMBER_ROLE = "rolebinder-member"

# Standard credential variables (FC 3.0 sets them; python3.12 has no context.credentials).
ACCESS_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ACCESS_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"  # noqa: S105 - a variable name, not a secret
SECURITY_TOKEN = "ALIBABA_CLOUD_SECURITY_TOKEN"  # noqa: S105
# Set by Function Compute.
FC_REGION = "FC_REGION"
FC_ACCOUNT_ID = "FC_ACCOUNT_ID"

DEFAULT_ROLE_CACHE_SECONDS = 60.0
DEFAULT_VISIBILITY_WAIT = 30.0
DEFAULT_DEADLINE_MARGIN = 5.0
DEFAULT_API_TIMEOUT = 10.0
DEFAULT_SETTLED_SECONDS = 60.0
# Used when no FC context gives a timeout (CLI, local runs).
DEFAULT_BUDGET_SECONDS = 120.0

_REGION = ids.matcher(ids.REGION)
_ACCOUNT = ids.matcher(ids.ACCOUNT_ID)
# RAM role names: 1-64 letters, digits, '.', '-' (RAM's CreateRole rule).
_ROLE_NAME = ids.Pattern(r"[A-Za-z0-9.-]{1,64}")
_FUNCTION_NAME = ids.Pattern(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")
_DEPLOYMENT_NAME = ids.Pattern(r"[A-Za-z0-9._-]{1,64}")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class Settings(Value):
    """Runtime settings, resolved once per container or CLI run."""

    mapping_path: str | None = None
    dry_run: bool = False
    regions: tuple[str, ...] = ()
    account_id: str | None = None
    ecs_endpoint: str | None = None
    ram_endpoint: str | None = None
    role_cache_seconds: float = DEFAULT_ROLE_CACHE_SECONDS
    visibility_wait: float = DEFAULT_VISIBILITY_WAIT
    deadline_margin: float = DEFAULT_DEADLINE_MARGIN
    api_timeout: float = DEFAULT_API_TIMEOUT
    default_region: str | None = None
    rate_limits: Mapping[str, float] = MappingProxyType({})  # read-only: shared default
    settled_seconds: float = DEFAULT_SETTLED_SECONDS
    deployment: str = DEFAULT_DEPLOYMENT
    member_accounts: tuple[str, ...] = ()
    accounts_from_directory: bool = False
    member_role: str = DEFAULT_MEMBER_ROLE
    reconcile_function: str | None = None
    sts_endpoint: str | None = None
    resourcemanager_endpoint: str | None = None
    fc_endpoint: str | None = None

    @property
    def is_hub(self) -> bool:
        """True when the deployment serves accounts beyond its own."""
        return bool(self.member_accounts) or self.accounts_from_directory

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `env` (default: the process environment); bad values raise."""
        env = os.environ if env is None else env
        return cls(
            mapping_path=env.get(MAPPING) or None,
            dry_run=parse_flag(DRY_RUN, env.get(DRY_RUN, "")),
            regions=parse_regions(env.get(REGIONS, "")),
            account_id=env.get(ACCOUNT_ID) or env.get(FC_ACCOUNT_ID) or None,
            ecs_endpoint=env.get(ECS_ENDPOINT) or None,
            ram_endpoint=env.get(RAM_ENDPOINT) or None,
            role_cache_seconds=parse_seconds(ROLE_CACHE_SECONDS, env, DEFAULT_ROLE_CACHE_SECONDS),
            visibility_wait=parse_seconds(VISIBILITY_WAIT, env, DEFAULT_VISIBILITY_WAIT),
            deadline_margin=parse_seconds(DEADLINE_MARGIN, env, DEFAULT_DEADLINE_MARGIN),
            api_timeout=parse_seconds(API_TIMEOUT, env, DEFAULT_API_TIMEOUT),
            default_region=env.get(FC_REGION) or None,
            rate_limits=parse_rates(env.get(RATE_LIMITS, "")),
            settled_seconds=parse_seconds(SETTLED_SECONDS, env, DEFAULT_SETTLED_SECONDS),
            deployment=parse_deployment(env.get(DEPLOYMENT, "")),
            **parse_hub(env),
        )


def parse_flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def parse_regions(raw: str) -> tuple[str, ...]:
    """Region ids such as cn-hangzhou; a typo fails loudly rather than confining wrongly."""
    regions = parse_list(raw)
    for region in regions:
        if not _REGION.fullmatch(region):
            raise InputError(f"{REGIONS}: {region!r} is not a region id (like cn-hangzhou)")
    return tuple(dict.fromkeys(regions))


def parse_hub(env: Mapping[str, str]) -> dict[str, Any]:
    """The hub's settings: members, member role, fan-out target and endpoints."""
    listed = parse_accounts(env.get(ACCOUNTS, ""))
    return {
        "member_accounts": () if listed is None else listed,
        "accounts_from_directory": listed is None,
        "member_role": parse_role_name(env.get(MEMBER_ROLE, "")),
        "reconcile_function": parse_function_name(env.get(RECONCILE_FUNCTION, "")),
        "sts_endpoint": env.get(STS_ENDPOINT) or None,
        "resourcemanager_endpoint": env.get(RESOURCEMANAGER_ENDPOINT) or None,
        "fc_endpoint": env.get(FC_ENDPOINT) or None,
    }


def parse_accounts(raw: str, name: str = ACCOUNTS) -> tuple[str, ...] | None:
    """Account ids, or None for "rd" (list them from Resource Directory)."""
    accounts = parse_list(raw)
    if accounts == (FROM_DIRECTORY,):
        return None
    for account in accounts:
        if not _ACCOUNT.fullmatch(account):
            raise InputError(
                f"{name}: {account!r} is not an account id (digits, like 1234567890123456); "
                f"use a comma-separated list, or {FROM_DIRECTORY!r} for every Resource "
                "Directory member"
            )
    return tuple(dict.fromkeys(accounts))


def parse_role_name(raw: str) -> str:
    name = raw.strip() or DEFAULT_MEMBER_ROLE
    if not _ROLE_NAME.fullmatch(name):
        raise InputError(f"{MEMBER_ROLE}={raw!r} is not a RAM role name (1-64 of A-Z a-z 0-9 . -)")
    return name


def parse_function_name(raw: str) -> str | None:
    name = raw.strip()
    if name and not _FUNCTION_NAME.fullmatch(name):
        raise InputError(f"{RECONCILE_FUNCTION}={raw!r} is not a Function Compute function name")
    return name or None


def parse_deployment(raw: str) -> str:
    """A deployment name fit for a tag value: 1-64 letters, digits, '.', '_' or '-'."""
    name = raw.strip() or DEFAULT_DEPLOYMENT
    if not _DEPLOYMENT_NAME.fullmatch(name):
        raise InputError(f"{DEPLOYMENT}={raw!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return name


def parse_seconds(name: str, env: Mapping[str, str], default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{name}={raw!r} is not a number of seconds") from None
    if not value >= 0:  # also rejects NaN
        raise InputError(f"{name}={raw!r} must be zero or more seconds")
    return value


def parse_rates(raw: str) -> dict[str, float]:
    """`Action=calls-per-second,...` into a mapping; InputError names a bad entry."""
    rates: dict[str, float] = {}
    for item in parse_list(raw):
        action, sep, value = item.partition("=")
        try:
            rate = float(value) if sep and action.strip().isidentifier() else -1.0
        except ValueError:
            rate = -1.0
        if not rate > 0:
            raise InputError(f"{RATE_LIMITS}: {item!r} is not Action=calls-per-second (> 0)")
        rates[action.strip()] = rate
    return rates
