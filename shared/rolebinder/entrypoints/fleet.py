"""The accounts one run serves, and an engine for each.

The deployment's own account is served with its own credentials. A hub (ROLEBINDER_ACCOUNTS)
also serves its members, each with the credentials of its member role, assumed through STS and
cached by the container (rolebinder.service.accounts). A member whose role cannot be assumed
fails alone: its instances get `failed` / `assume-role-denied` lines, the others go on.

A sweep runs its (account, region) shards side by side: each member account and region has its
own API quotas, so the sweep takes about as long as its largest shard.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence

from rolebinder.aliyun.credentials import Credentials
from rolebinder.aliyun.retry import Deadline
from rolebinder.aliyun.sts import role_arn
from rolebinder.aliyun.transport import CallCount
from rolebinder.domain import reasons
from rolebinder.domain.outcome import FAILED, IGNORED, Outcome
from rolebinder.entrypoints import config
from rolebinder.entrypoints.wiring import Gateways, Runtime, engine_over, gateways_for
from rolebinder.errors import CloudError, InputError, RolebinderError
from rolebinder.intake.events import InstanceCheck
from rolebinder.service.engine import Engine
from rolebinder.value import Value

# Shards swept at once in one run (each runs its own pipeline of threads).
SHARD_WORKERS = 8
# The cloud says a member's credentials expired although the cache thought them valid (clock
# skew, a shortened session): they are dropped, and the failure is retryable so FC delivers the
# event (or the shard) again, with fresh credentials.
EXPIRED_CODES = frozenset({"InvalidSecurityToken.Expired"})
Shard = tuple[str | None, str]  # (account, region); None: the deployment's own account


class NotServedError(RolebinderError):
    """An account this deployment does not serve (its events are `foreign-account`)."""


class ShardDone(Value):
    """A shard's sweep finished, having seen `seen` instances (`reached`: its account could be
    acted in at all)."""

    shard: Shard
    seen: int
    reached: bool = True


class Fleet:
    """Engines per account for one invocation or CLI run, sharing its deadline and call count."""

    def __init__(
        self,
        runtime: Runtime,
        credentials: Credentials,
        home_region: str,
        deadline: Deadline,
        *,
        own_account: str | None = None,
        settings: config.Settings | None = None,
        allow_changes: int | None = None,
        calls: CallCount | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = settings or runtime.settings
        self.own = own_account or self.settings.account_id
        self.credentials = credentials
        self.home_region = home_region
        self.deadline = deadline
        self.allow_changes = allow_changes
        self.calls = calls or CallCount()
        self._engines: dict[str | None, Engine] = {}
        self._lock = threading.Lock()
        if self.settings.is_hub and self.own is None:
            # Without it every member would look like the own account, served with the hub's
            # credentials.
            raise InputError(
                f"a hub ({config.ACCOUNTS}) needs its own account id: set {config.ACCOUNT_ID}"
            )

    # -- accounts -------------------------------------------------------------------------------

    def is_own(self, account: str | None) -> bool:
        return account is None or self.own is None or account == self.own

    def members(self) -> tuple[str, ...]:
        """The hub's member accounts (none unless a hub); CloudError when Resource Directory
        cannot be read."""
        if not self.settings.is_hub:
            return ()
        return self.runtime.members.accounts(lambda: self.home_gateways().directory())

    def accounts(self) -> tuple[str | None, ...]:
        """Every served account: the own one first, then the members."""
        members = tuple(m for m in self.members() if not self.is_own(m))
        return (self.own, *members)

    def home_gateways(self) -> Gateways:
        return self.gateways(self.own)

    def gateways(self, account: str | None) -> Gateways:
        """Gateways signed for the account (CloudError when its role cannot be assumed)."""
        key = self.own if self.is_own(account) else account
        credentials = self.credentials if key == self.own else self._member_credentials(key)
        return gateways_for(
            self.runtime,
            credentials,
            self.home_region,
            self.deadline,
            self.settings,
            self.calls,
            key,
        )

    def engine(self, account: str | None) -> Engine:
        """The account's engine; CloudError when its role cannot be assumed, NotServedError when
        the account is not served."""
        key = self.own if self.is_own(account) else account
        with self._lock:
            known = self._engines.get(key)
        if known is not None:
            return known
        engine = engine_over(self.runtime, self.gateways(key), self.settings, self.allow_changes)
        with self._lock:
            return self._engines.setdefault(key, engine)

    def _member_credentials(self, account: str | None) -> Credentials:
        if account is None or account not in self.members():
            raise NotServedError(f"account {account} is not one this deployment serves")
        sts = self.home_gateways().sts()
        # Valid for the rest of this invocation, so a long sweep does not outlive them.
        return self.runtime.member_credentials.credentials(
            account, sts, valid_for=self.deadline.remaining()
        )

    def engines(self) -> list[Engine]:
        """The engines built so far (their breakers say whether a run was stopped)."""
        with self._lock:
            return list(self._engines.values())

    # -- work -----------------------------------------------------------------------------------

    def check(
        self, account: str | None, region: str, checks: Sequence[InstanceCheck]
    ) -> list[Outcome]:
        """The engine's check for one account and region; unreachable accounts fail alone."""
        try:
            engine = self.engine(account)
        except (CloudError, NotServedError) as error:
            # NotServedError: the member list changed since the delivery was screened.
            ids = dict.fromkeys(i for c in checks for i in c.instance_ids)
            event_of = {i: c.event_id for c in reversed(checks) for i in c.instance_ids}
            return [self.unreachable(account, region, i, event_of[i], error) for i in ids]
        return [self._renewing(account, o) for o in engine.check(checks, region)]

    def sweep(self, shards: Sequence[Shard], event_id: str | None) -> Iterator[Outcome | ShardDone]:
        """Every shard's outcomes as they come, each shard followed by its ShardDone."""
        if len(shards) == 1:
            yield from self._sweep_shard(shards[0], event_id)
            return
        yield from _interleave([lambda s=s: self._sweep_shard(s, event_id) for s in shards])

    def _sweep_shard(self, shard: Shard, event_id: str | None) -> Iterator[Outcome | ShardDone]:
        account, region = shard
        try:
            engine = self.engine(account)
        except (CloudError, NotServedError) as error:
            yield self.unreachable(account, region, None, event_id, error)
            yield ShardDone(shard, 0, reached=False)
            return
        seen = 0
        for outcome in engine.sweep(region, event_id):
            seen += outcome.instance_id is not None
            yield self._renewing(account, outcome)
        yield ShardDone(shard, seen)

    def _renewing(self, account: str | None, outcome: Outcome) -> Outcome:
        """A failure saying the member's credentials expired: forget them, retry later."""
        if outcome.error_code not in EXPIRED_CODES or self.is_own(account):
            return outcome
        self.runtime.member_credentials.forget(account or "")
        with self._lock:
            self._engines.pop(account, None)
        return outcome._replace(retryable=True)

    def unreachable(
        self,
        account: str | None,
        region: str | None,
        instance_id: str | None,
        event_id: str | None,
        error: CloudError | NotServedError,
    ) -> Outcome:
        """The failure of an instance (or a whole shard) whose account could not be reached;
        ignored (`foreign-account`) when the account is not, or no longer, served."""
        if isinstance(error, NotServedError):
            return Outcome(
                IGNORED,
                reasons.FOREIGN_ACCOUNT,
                instance_id=instance_id,
                region=region,
                event_id=event_id,
                dry_run=self.settings.dry_run,
                detail=str(error),
                account_id=account,
            )
        role = role_arn(account or "?", self.settings.member_role)
        return Outcome(
            FAILED,
            _unreachable_reason(error),
            instance_id=instance_id,
            region=region,
            event_id=event_id,
            dry_run=self.settings.dry_run,
            error_code=error.code,
            request_id=error.request_id,
            detail=f"cannot act in account {account}: {error.action} of {role}: {error.message}",
            retryable=error.transient,
            account_id=account,
        )


def _unreachable_reason(error: CloudError) -> str:
    """assume-role-denied when STS refused for good (role missing, not trusting the hub)."""
    refused = error.action == "AssumeRole" and not error.transient
    return reasons.ASSUME_ROLE_DENIED if refused else reasons.API_ERROR


_DONE = object()


def _interleave(
    streams: Sequence[Callable[[], Iterator[Outcome | ShardDone]]],
) -> Iterator[Outcome | ShardDone]:
    """Run the streams in threads (SHARD_WORKERS at once); their items in arrival order. A
    consumer that stops early (or fails) stops the streams at their next item."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - off an event's cold start

    items: queue.Queue[object] = queue.Queue(maxsize=1000)  # memory stays flat
    stop = threading.Event()

    def drain(stream: Callable[[], Iterator[Outcome | ShardDone]]) -> None:
        try:
            for item in stream():
                if stop.is_set():
                    return
                items.put(item)
        except BaseException as error:  # handed to the consumer, which re-raises it
            items.put(error)
        finally:
            items.put(_DONE)

    pool = ThreadPoolExecutor(min(SHARD_WORKERS, len(streams)), "sweep-shard")
    running = len(streams)
    try:
        for stream in streams:
            pool.submit(drain, stream)
        while running:
            item = items.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item  # type: ignore[misc]
    finally:
        stop.set()
        while running:  # let blocked producers finish their last put
            running -= items.get() is _DONE
        pool.shutdown(wait=True)
