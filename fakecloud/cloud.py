"""The fake cloud's root: accounts, regions, credentials, and the request pipeline (the wire
protocol is in `protocol`, authorisation in `authorizer`, the ActionTrail record in `trail`).

One request goes: route (Version + Action) -> authenticate -> faults -> backend (under one lock)
-> ActionTrail record -> call log. Events produced while the lock is held are published after it
is released, so subscribers may call the API again.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fakecloud import ecs_api, ram_api
from fakecloud.auth import Authenticator, KeyPair, Permissions, Principal
from fakecloud.authorizer import key_permissions
from fakecloud.calllog import CallLog
from fakecloud.clock import ManualClock, RealClock
from fakecloud.corruption import corrupt
from fakecloud.dispatch import execute
from fakecloud.ecs import EcsBackend, Instance, Lifecycle
from fakecloud.emitter import Emitter, Event
from fakecloud.errors import ApiError
from fakecloud.faults import DropConnection, FaultPlan, pause
from fakecloud.fc import FunctionRegistry
from fakecloud.ids import IdFactory
from fakecloud.params import Params
from fakecloud.protocol import ApiRequest, ApiResponse, CallInfo, error_body, parse_params, route
from fakecloud.ram import RamBackend
from fakecloud.regions import REGIONS
from fakecloud.resourcedirectory import ResourceDirectory, build_directory, directory_members
from fakecloud.shapes import CREATION_EVENTS, Shapes
from fakecloud.trail import api_call_facts

DEFAULT_ACCOUNT_ID = "1234567890123456"
DEFAULT_ACCESS_KEY_ID = "LTAI5tFakeCloudTestKey"
DEFAULT_ACCESS_KEY_SECRET = "fake-cloud-test-secret"  # noqa: S105 - a documented test credential
_WRITE_ACTIONS = ecs_api.WRITE_ACTIONS | ram_api.WRITE_ACTIONS


@dataclass
class Account:
    account_id: str
    ram: RamBackend
    ecs: dict[str, EcsBackend] = field(default_factory=dict)


class FakeCloud:
    """A stateful fake of ECS and RAM, for any number of accounts and regions."""

    def __init__(
        self,
        *,
        seed: int | str = 0,
        clock: RealClock | ManualClock | None = None,
        lifecycle: Lifecycle | None = None,
        add_default_key: bool = True,
        shapes: Shapes | None = None,
    ) -> None:
        self.clock = clock or RealClock()
        self.ids = IdFactory(seed)
        # Documented alternatives (number or string, optional fields...), chosen per key.
        self.shapes = shapes or Shapes(seed)
        self.lifecycle = lifecycle or Lifecycle()
        self.auth = Authenticator(now=self.clock.now)
        self.faults = FaultPlan()
        self.calls = CallLog()
        self.events = Emitter(new_id=lambda: self.ids.request_id().lower(), shapes=self.shapes)
        self.accounts: dict[str, Account] = {}
        self.list_roleless = False
        self.directory: ResourceDirectory | None = None  # see create_resource_directory
        self.functions = FunctionRegistry()  # FC 3.0 functions InvokeFunction may reach
        self._lock = threading.RLock()
        self._pending: list[Event] = []
        if add_default_key:
            self.add_key(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)

    # -- configuration ------------------------------------------------------------------------

    def add_key(
        self,
        access_key_id: str,
        access_key_secret: str,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        security_token: str | None = None,
        allowed_actions: Iterable[str] | None = None,
        passable_roles: Iterable[str] | None = None,
        policy: Mapping[str, Any] | None = None,
        role: str | None = None,
        root: bool = False,
    ) -> KeyPair:
        """Accept a key pair (an STS credential when `security_token` is given).

        It belongs to a RAM user by default; to a session of the RAM role `role` (FC's function
        credentials: needs a security token; it gets the role's permission policy unless
        `policy` or the lists say otherwise); or to the root account with `root=True`.
        """
        principal = Principal.of(role, root, security_token)
        role_policy = functools.partial(self._role_permissions, account_id, role) if role else None
        permissions = key_permissions(role_policy, allowed_actions, passable_roles, policy)
        key = KeyPair(access_key_id, access_key_secret, account_id, security_token, permissions)
        key.principal = principal
        self.auth.add(key)
        self.account(account_id)
        return key

    def create_resource_directory(
        self, management_account: str, members: Iterable[str | Mapping[str, Any]] = ()
    ) -> ResourceDirectory:
        """Enable the one Resource Directory: `members` are account ids or `{account_id,
        display_name?, status?}`; ListAccounts lists exactly them (add the management account to
        have it listed, as the real directory does: our choice, so tests state it)."""
        members = list(members)
        for account_id in (management_account, *directory_members(members)):
            self.account(account_id)
        self.directory = build_directory(
            self.ids.alnum, self.clock.now(), management_account, members
        )
        return self.directory

    def _role_permissions(self, account_id: str, role: str) -> Permissions | None:
        """A role session's permissions, read at each call (a seed may declare the role after
        the key): the role's policy, or None when there is no such role."""
        found = self.ram(account_id).find_role(role)
        return None if found is None else found.permissions()

    def account(self, account_id: str = DEFAULT_ACCOUNT_ID) -> Account:
        with self._lock:
            if account_id not in self.accounts:
                ram = RamBackend(account_id, self.ids, self.clock.now)
                account = Account(account_id, ram)
                ram.role_in_use = lambda name: any(
                    backend.instances_with_role(name) for backend in account.ecs.values()
                )
                self.accounts[account_id] = account
            return self.accounts[account_id]

    def ecs(self, region: str, account_id: str = DEFAULT_ACCOUNT_ID) -> EcsBackend:
        if region not in REGIONS:
            raise ApiError(
                "InvalidRegionId.NotFound", "The specified RegionId does not exist.", 404
            )
        account = self.account(account_id)
        with self._lock:
            if region not in account.ecs:
                publish = functools.partial(self._queue_event, account_id)
                backend = EcsBackend(
                    account_id, region, account.ram, self.ids, self.clock.now, publish
                )
                backend.lifecycle = self.lifecycle
                backend.creation_states = functools.partial(self.shapes.pick, CREATION_EVENTS)
                account.ecs[region] = backend
            backend = account.ecs[region]
            backend.list_roleless = self.list_roleless
            backend.invisibility = self.faults.invisibility
            return backend

    def ram(self, account_id: str = DEFAULT_ACCOUNT_ID) -> RamBackend:
        return self.account(account_id).ram

    # -- time ---------------------------------------------------------------------------------

    def tick(self) -> None:
        """Apply due state transitions everywhere, then publish the events they produced."""
        with self._lock:
            self._tick_locked()
        self.flush_events()

    def advance(self, seconds: float) -> None:
        """Move a ManualClock forward and apply what became due."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs a FakeCloud built with clock=ManualClock()")
        self.clock.advance(seconds)
        self.tick()

    # -- events -------------------------------------------------------------------------------

    def _queue_event(
        self, account: str, kind: str, instance: Instance, details: dict[str, object]
    ) -> None:
        now = self.clock.now()
        if kind == "state":
            event = self.events.state_change(
                account, instance.region, instance.instance_id, str(details["state"]), now
            )
        else:
            changed = details["changed_keys"]
            assert isinstance(changed, list)
            event = self.events.tag_change(
                account, instance.region, instance.instance_id, changed, instance.tags, now
            )
        self._pending.append(event)

    def flush_events(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        self.events.publish(pending)

    # -- the request pipeline -----------------------------------------------------------------

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one RPC request as the real service would; may raise DropConnection."""
        started = time.monotonic()
        request_id = self.ids.request_id()
        params = parse_params(request)
        call = CallInfo(params)
        try:
            body = self._process(request, params, call, request_id)
            response = ApiResponse(200, {"RequestId": request_id, **body})
            if call.corruption is not None:
                response.raw = corrupt(response.body, *call.corruption)
        except ApiError as error:
            response = ApiResponse(error.status, error_body(error, request_id, call.product))
        except DropConnection:
            self._log(call, params, 0, "ConnectionDropped", request_id, started)
            raise
        self._log(call, params, response.status, response.body.get("Code", ""), request_id, started)
        return response

    def _process(
        self, request: ApiRequest, params: dict[str, str], call: CallInfo, request_id: str
    ) -> dict[str, Any]:
        call.product, action = route(params)
        key = self.auth.authenticate(request.method, params)
        call.key = key
        plan = self.faults.before(action, key.account_id, params.get("RegionId", ""))
        pause(plan.delay_before)
        if plan.drop_before:
            raise DropConnection
        try:
            with self._lock:
                self._tick_locked()
                try:
                    body = execute(self, call.product, action, key, Params(params))
                except ApiError as error:
                    # ActionTrail records failed writes too, with errorCode and errorMessage.
                    self._trail(action, request, params, call, request_id, {}, error)
                    raise
                self._trail(action, request, params, call, request_id, body, None)
        finally:
            self.flush_events()
        pause(plan.delay_after)
        if plan.drop_after:
            raise DropConnection
        call.corruption = plan.corrupt
        return body

    def _trail(
        self,
        action: str,
        request: ApiRequest,
        params: dict[str, str],
        call: CallInfo,
        request_id: str,
        body: dict[str, Any],
        error: ApiError | None,
    ) -> None:
        """Queue the ActionTrail record of a write call (lock held)."""
        if action not in _WRITE_ACTIONS or call.key is None:
            return
        facts = api_call_facts(
            request, params, call.product, call.key, request_id, body, self.clock.now()
        )
        facts.error = error
        self._pending.append(self.events.api_call(facts))

    def _tick_locked(self) -> None:
        for account in self.accounts.values():
            for backend in account.ecs.values():
                backend.tick()

    def _log(
        self,
        call: CallInfo,
        params: dict[str, str],
        status: int,
        code: str,
        request_id: str,
        started: float,
    ) -> None:
        key = call.key
        self.calls.record(
            when=time.time(),
            product=call.product,
            action=params.get("Action", ""),
            access_key_id=params.get("AccessKeyId", ""),
            account_id=key.account_id if key else "",
            region=params.get("RegionId", ""),
            params=params,
            status=status,
            code=code,
            request_id=request_id,
            duration_ms=(time.monotonic() - started) * 1000,
        )
