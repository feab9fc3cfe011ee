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
from fakecloud.auth import AllowAll, Authenticator, KeyPair, Permissions
from fakecloud.authorizer import denied, ecs_allowed, require
from fakecloud.calllog import CallLog
from fakecloud.clock import ManualClock, RealClock
from fakecloud.corruption import corrupt
from fakecloud.ecs import EcsBackend, Instance, Lifecycle
from fakecloud.emitter import Emitter, Event
from fakecloud.errors import ApiError
from fakecloud.faults import DropConnection, FaultPlan, pause
from fakecloud.ids import IdFactory
from fakecloud.params import Params
from fakecloud.policy import ListPermissions, Policy, role_resource
from fakecloud.protocol import ApiRequest, ApiResponse, CallInfo, error_body, parse_params, route
from fakecloud.ram import RamBackend
from fakecloud.regions import REGIONS
from fakecloud.shapes import BIND_CODE, CREATION_EVENTS, Shapes
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
        self.auth = Authenticator()
        self.faults = FaultPlan()
        self.calls = CallLog()
        self.events = Emitter(new_id=lambda: self.ids.request_id().lower(), shapes=self.shapes)
        self.accounts: dict[str, Account] = {}
        self.list_roleless = False
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
    ) -> KeyPair:
        """Accept a key pair (an STS credential when `security_token` is given)."""
        permissions: Permissions = AllowAll()
        if policy is not None:
            permissions = Policy(policy)
        elif allowed_actions is not None or passable_roles is not None:
            permissions = ListPermissions(allowed_actions, passable_roles)
        key = KeyPair(access_key_id, access_key_secret, account_id, security_token, permissions)
        self.auth.add(key)
        self.account(account_id)
        return key

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
        plan = self.faults.before(action)
        pause(plan.delay_before)
        if plan.drop_before:
            raise DropConnection
        try:
            with self._lock:
                self._tick_locked()
                try:
                    body = self._execute(call.product, action, key, Params(params))
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

    def _execute(self, product: str, action: str, key: KeyPair, params: Params) -> dict[str, Any]:
        account_id = key.account_id
        if product == "ram":
            require(
                key,
                f"ram:{action}",
                role_resource(account_id, params.get("RoleName") or "*"),
                "NoPermission",
            )
            return ram_api.ACTIONS[action](ram_api.RamCall(self.ram(account_id), params))
        region = params.require("RegionId")
        backend = self.ecs(region, account_id)
        if not ecs_allowed(key, action, region, params):
            return denied(action)
        call = ecs_api.EcsCall(
            backend,
            params,
            can_pass_role=lambda role: key.permissions.allows(
                "ram:PassRole", role_resource(account_id, role)
            ),
            failing_items=lambda ids: self.faults.failing_items(action, ids),
            success_code=lambda instance_id: self.shapes.pick(BIND_CODE, f"{action}/{instance_id}"),
        )
        return ecs_api.ACTIONS[action](call)

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
