"""Wiring: SDK clients, gateways and the engine, from the parsed settings and the FC context.

Credentials come from ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / _SECURITY_TOKEN (FC 3.0, and
python3.12 where `context.credentials` is gone) or from `context.credentials` (python3.10).
ROLEBINDER_ECS_ENDPOINT / ROLEBINDER_RAM_ENDPOINT point the clients elsewhere (the fake cloud).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
from aliyunsdkcore.client import AcsClient

from rolebinder.aliyun.ecs import EcsGateway
from rolebinder.aliyun.pacing import Pacer
from rolebinder.aliyun.ram import RamGateway
from rolebinder.aliyun.retry import Deadline
from rolebinder.aliyun.transport import CallCount, CallLimits, Transport
from rolebinder.entrypoints import config
from rolebinder.errors import InputError
from rolebinder.mapping import compiled as mapping_compiled
from rolebinder.mapping.model import RoleMapping
from rolebinder.service.engine import Engine, EngineOptions
from rolebinder.service.recent import SettledCache
from rolebinder.service.roles import RoleCache

SDK_LOGGERS = ("aliyunsdkcore", "aliyunsdkcore.client", "aliyunsdkcore.http.http_response")


def silence_sdk_logging() -> None:
    """The SDK logs every error answer, message included, and the SignatureDoesNotMatch message
    echoes the string to sign, which holds the security token. We log errors ourselves,
    redacted, so the SDK's loggers stay quiet."""
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


silence_sdk_logging()


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    access_key_secret: str = field(repr=False)  # never printed
    security_token: str | None = field(default=None, repr=False)


def credentials_from(env: Mapping[str, str], context: Any = None) -> Credentials:
    """The function's credentials: environment first, then `context.credentials`."""
    if env.get("ALIYUN_ACCESS_KEY_ID") and env.get("ALIYUN_ACCESS_KEY_SECRET"):
        # aliyunsdkcore would silently sign with these instead of the credentials we pass.
        raise InputError(
            "ALIYUN_ACCESS_KEY_ID/_SECRET are set: unset them, rolebinder uses "
            f"{config.ACCESS_KEY_ID} / {config.ACCESS_KEY_SECRET}"
        )
    key_id, secret = env.get(config.ACCESS_KEY_ID), env.get(config.ACCESS_KEY_SECRET)
    if key_id and secret:
        return Credentials(key_id, secret, env.get(config.SECURITY_TOKEN) or None)
    found = getattr(context, "credentials", None)
    if found is not None and getattr(found, "access_key_id", None):
        return Credentials(
            found.access_key_id,
            found.access_key_secret,
            getattr(found, "security_token", None) or None,
        )
    raise InputError(
        f"no credentials: set {config.ACCESS_KEY_ID} and {config.ACCESS_KEY_SECRET}"
        f" (and {config.SECURITY_TOKEN} for STS credentials)"
    )


class ClientPool:
    """SDK clients reused across invocations of a warm container, per region and credentials.

    Bounded (least recently used go first): rotating STS credentials and events naming many
    regions must not grow a long-lived container without limit.
    """

    MAX_CLIENTS = 16

    def __init__(self, settings: config.Settings) -> None:
        self.settings = settings
        self._clients: OrderedDict[tuple[str, str, str | None], AcsClient] = OrderedDict()
        self._lock = threading.Lock()

    def client(self, region: str, credentials: Credentials) -> AcsClient:
        key = (region, credentials.access_key_id, credentials.security_token)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._build(region, credentials)
                while len(self._clients) > self.MAX_CLIENTS:
                    self._clients.popitem(last=False)
            self._clients.move_to_end(key)
            return self._clients[key]

    def _build(self, region: str, credentials: Credentials) -> AcsClient:
        credential: AccessKeyCredential | StsTokenCredential
        if credentials.security_token:
            credential = StsTokenCredential(
                credentials.access_key_id, credentials.access_key_secret, credentials.security_token
            )
        else:
            credential = AccessKeyCredential(
                credentials.access_key_id, credentials.access_key_secret
            )
        # auto_retry off: our Transport is the one retry layer. pool_size: sweeps run threads.
        client = AcsClient(region_id=region, credential=credential, auto_retry=False, pool_size=16)
        if self.settings.ecs_endpoint:
            client.add_endpoint(region, "Ecs", self.settings.ecs_endpoint)
        if self.settings.ram_endpoint:
            client.add_endpoint(region, "Ram", self.settings.ram_endpoint)
        return client


@dataclass
class Gateways:
    """Gateways for one invocation: they share its deadline."""

    pool: ClientPool
    credentials: Credentials
    deadline: Deadline
    limits: CallLimits
    home_region: str

    def ecs(self, region: str) -> EcsGateway:
        client = self.pool.client(region, self.credentials)
        return EcsGateway(Transport(client, self.deadline, self.limits), region)

    def ram(self) -> RamGateway:
        # RAM is global; any region's client reaches it.
        client = self.pool.client(self.home_region, self.credentials)
        return RamGateway(Transport(client, self.deadline, self.limits))


@dataclass
class Runtime:
    """What a warm container keeps between invocations: settings, the validated mapping, and
    the caches and pools that make later invocations cheaper."""

    settings: config.Settings
    mapping: RoleMapping
    roles: RoleCache
    pool: ClientPool
    pacer: Pacer
    settled: SettledCache


def runtime_from(env: Mapping[str, str]) -> Runtime:
    """Settings and the validated mapping; raises InputError (MappingError) when unusable."""
    settings = config.Settings.from_env(env)
    if not settings.mapping_path:
        raise InputError(f"{config.MAPPING} is not set: point it at the tag-to-role mapping file")
    return Runtime(
        settings=settings,
        mapping=mapping_compiled.load(settings.mapping_path),
        roles=RoleCache(settings.role_cache_seconds),
        pool=ClientPool(settings),
        pacer=Pacer(settings.rate_limits),
        settled=SettledCache(settings.settled_seconds),
    )


def build_engine(
    runtime: Runtime,
    credentials: Credentials,
    home_region: str,
    deadline: Deadline,
    settings: config.Settings | None = None,
    allow_changes: int | None = None,
    calls: CallCount | None = None,
) -> Engine:
    """An engine over real gateways that share one deadline (handlers and the CLI alike);
    `settings` overrides the runtime's (the CLI's dry run); `allow_changes` raises the circuit
    breaker's limits for one run (`rolebinder apply --allow-changes`); `calls` counts the
    requests."""
    settings = settings or runtime.settings
    limits = CallLimits(
        api_timeout=settings.api_timeout, pacer=runtime.pacer, calls=calls or CallCount()
    )
    gateways = Gateways(runtime.pool, credentials, deadline, limits, home_region)
    options = EngineOptions(
        dry_run=settings.dry_run,
        visibility_wait=settings.visibility_wait,
        allow_changes=allow_changes,
        deployment=settings.deployment,
    )
    return Engine(
        runtime.mapping,
        gateways.ecs,
        gateways.ram(),
        runtime.roles,
        deadline,
        options,
        settled=runtime.settled,
    )
