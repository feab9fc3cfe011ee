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

from aliyunsdkcore.auth.credentials import AccessKeyCredential, StsTokenCredential
from aliyunsdkcore.client import AcsClient

from rolebinder.aliyun.credentials import Credentials
from rolebinder.aliyun.directory import DirectoryGateway
from rolebinder.aliyun.ecs import EcsGateway
from rolebinder.aliyun.pacing import Pacer
from rolebinder.aliyun.ram import RamGateway
from rolebinder.aliyun.retry import Deadline
from rolebinder.aliyun.sts import StsGateway, session_name
from rolebinder.aliyun.transport import CallCount, CallLimits, Transport
from rolebinder.entrypoints import config
from rolebinder.errors import InputError
from rolebinder.mapping import compiled as mapping_compiled
from rolebinder.mapping.model import RoleMapping
from rolebinder.service.accounts import CredentialCache, MemberList
from rolebinder.service.engine import Engine, EngineOptions
from rolebinder.service.recent import SettledCache
from rolebinder.service.roles import RoleCache

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any

SDK_LOGGERS = ("aliyunsdkcore", "aliyunsdkcore.client", "aliyunsdkcore.http.http_response")


def silence_sdk_logging() -> None:
    """The SDK logs every error answer, message included, and the SignatureDoesNotMatch message
    echoes the string to sign, which holds the security token. We log errors ourselves,
    redacted, so the SDK's loggers stay quiet."""
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


silence_sdk_logging()


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

    # A hub holds one client per (member, region) it serves at once.
    MAX_CLIENTS = 64

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
        for product, endpoint in (
            ("Ram", self.settings.ram_endpoint),
            ("Sts", self.settings.sts_endpoint),
            ("ResourceManager", self.settings.resourcemanager_endpoint),
        ):
            if endpoint:
                client.add_endpoint(region, product, endpoint)
        return client


class Gateways:
    """Gateways for one invocation: they share its deadline."""

    def __init__(
        self,
        pool: ClientPool,
        credentials: Credentials,
        deadline: Deadline,
        limits: CallLimits,
        home_region: str,
        account_id: str | None = None,  # whose credentials these are (instances read carry it)
    ) -> None:
        self.pool = pool
        self.credentials = credentials
        self.deadline = deadline
        self.limits = limits
        self.home_region = home_region
        self.account_id = account_id

    def ecs(self, region: str) -> EcsGateway:
        client = self.pool.client(region, self.credentials)
        limits = self.limits
        if limits.pacer is not None:  # ECS quotas are per region: regions swept side by side
            limits = limits._replace(pacer=limits.pacer.region(region))
        return EcsGateway(Transport(client, self.deadline, limits), region, self.account_id)

    def ram(self) -> RamGateway:
        # RAM is global; any region's client reaches it.
        return RamGateway(self._home_transport())

    def sts(self) -> StsGateway:
        return StsGateway(self._home_transport())

    def directory(self) -> DirectoryGateway:
        return DirectoryGateway(self._home_transport())

    def _home_transport(self) -> Transport:
        client = self.pool.client(self.home_region, self.credentials)
        return Transport(client, self.deadline, self.limits)


class Runtime:
    """What a warm container keeps between invocations: settings, the validated mapping, and
    the caches and pools that make later invocations cheaper."""

    def __init__(
        self,
        settings: config.Settings,
        mapping: RoleMapping,
        roles: RoleCache,
        pool: ClientPool,
        pacer: Pacer,
        settled: SettledCache,
        member_credentials: CredentialCache,
        members: MemberList,
    ) -> None:
        self.settings = settings
        self.mapping = mapping
        self.roles = roles
        self.pool = pool
        self.pacer = pacer
        self.settled = settled
        self.member_credentials = member_credentials
        self.members = members
        # Role verdicts and call pacing are per account: each member has its own roles and
        # quotas.
        self._member_roles: dict[str, RoleCache] = {}
        self._member_pacers: dict[str, Pacer] = {}
        self._lock = threading.Lock()

    def roles_of(self, account_id: str | None) -> RoleCache:
        """The account's role-check cache (the home account's is `roles`)."""
        if account_id is None or account_id == self.settings.account_id:
            return self.roles
        with self._lock:
            return self._member_roles.setdefault(
                account_id, RoleCache(self.settings.role_cache_seconds)
            )

    def pacer_of(self, account_id: str | None) -> Pacer:
        """The account's call pacer (the home account's is `pacer`)."""
        if account_id is None or account_id == self.settings.account_id:
            return self.pacer
        with self._lock:
            return self._member_pacers.setdefault(account_id, Pacer(self.settings.rate_limits))


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
        member_credentials=CredentialCache(settings.member_role, session_name(settings.deployment)),
        members=MemberList(settings.member_accounts, settings.accounts_from_directory),
    )


def build_engine(
    runtime: Runtime,
    credentials: Credentials,
    home_region: str,
    deadline: Deadline,
    settings: config.Settings | None = None,
    allow_changes: int | None = None,
    calls: CallCount | None = None,
    account_id: str | None = None,
) -> Engine:
    """An engine over real gateways that share one deadline (handlers and the CLI alike);
    `settings` overrides the runtime's (the CLI's dry run); `allow_changes` raises the circuit
    breaker's limits for one run (`rolebinder apply --allow-changes`); `calls` counts the
    requests; `account_id` is whose `credentials` they are (default: the deployment's own)."""
    settings = settings or runtime.settings
    gateways = gateways_for(
        runtime, credentials, home_region, deadline, settings, calls, account_id
    )
    return engine_over(runtime, gateways, settings, allow_changes)


def gateways_for(
    runtime: Runtime,
    credentials: Credentials,
    home_region: str,
    deadline: Deadline,
    settings: config.Settings,
    calls: CallCount | None = None,
    account_id: str | None = None,
) -> Gateways:
    """Gateways signed with `credentials`, paced by their account's pacer."""
    account_id = account_id or settings.account_id
    limits = CallLimits(
        api_timeout=settings.api_timeout,
        pacer=runtime.pacer_of(account_id),
        calls=calls or CallCount(),
    )
    return Gateways(runtime.pool, credentials, deadline, limits, home_region, account_id)


def engine_over(
    runtime: Runtime,
    gateways: Gateways,
    settings: config.Settings,
    allow_changes: int | None = None,
) -> Engine:
    """The engine for the account `gateways` are signed for."""
    options = EngineOptions(
        dry_run=settings.dry_run,
        visibility_wait=settings.visibility_wait,
        allow_changes=allow_changes,
        deployment=settings.deployment,
        account_id=gateways.account_id,
    )
    return Engine(
        runtime.mapping,
        gateways.ecs,
        gateways.ram(),
        runtime.roles_of(gateways.account_id),
        gateways.deadline,
        options,
        settled=runtime.settled,
    )
