"""One timer sweep of an invocation: which accounts and regions, fanned out or swept in place.

The regions are the deployment's (ROLEBINDER_REGIONS), the accounts its own and a hub's members;
a timer payload may narrow both, never widen them. A hub with ROLEBINDER_RECONCILE_FUNCTION set
fans a sweep of several accounts out, one asynchronous invocation per account
(rolebinder.entrypoints.fanout); otherwise, and for the one account a fanned-out invocation
names, the (account, region) shards are swept here, side by side (rolebinder.entrypoints.fleet).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from rolebinder.domain import reasons
from rolebinder.domain.outcome import Outcome
from rolebinder.entrypoints.fleet import Fleet, ShardDone
from rolebinder.errors import CloudError
from rolebinder.intake.events import SweepRequest

if TYPE_CHECKING:
    from rolebinder.entrypoints.config import Settings
    from rolebinder.output.journal import Journal

T = TypeVar("T")


class Sweeping:
    """One SweepRequest of an invocation; `fanned_out` counts the accounts queued elsewhere."""

    def __init__(
        self,
        journal: Journal,
        settings: Settings,
        allowed_regions: frozenset[str],
        fleet: Fleet,
        sweep: SweepRequest,
    ) -> None:
        self.journal = journal
        self.settings = settings
        self.allowed_regions = allowed_regions
        self.fleet = fleet
        self.sweep = sweep
        self.fanned_out: int | None = None  # None: nothing was fanned out

    def outcomes(self) -> Iterator[Outcome]:
        regions, accounts = self.regions(), self.accounts()
        if not regions or not accounts:
            return
        function = self.settings.reconcile_function
        fanned = [a for a in accounts if a is not None] if function and len(accounts) > 1 else []
        if function and fanned:
            self._fan_out(function, fanned, regions)
        in_place = [a for a in accounts if a not in fanned]
        shards = [(account, region) for account in in_place for region in regions]
        for item in self.fleet.sweep(shards, self.sweep.event_id) if shards else ():
            if isinstance(item, ShardDone):
                self._done(item)
            else:
                yield item

    def regions(self) -> list[str]:
        """The configured regions, narrowed (never widened) by the timer payload."""
        allowed = sorted(self.allowed_regions)
        if not self.sweep.regions:
            return allowed
        outside = f"outside this deployment's regions ({', '.join(allowed)})"
        warning = reasons.WARNING_REGION_REFUSED
        return self._narrowed(self.sweep.regions, allowed, warning, "regions", outside)

    def accounts(self) -> list[str | None]:
        """The served accounts, narrowed (never widened) by the timer payload."""
        try:
            served = list(self.fleet.accounts())
        except CloudError as error:
            self.journal.error(
                reasons.ERROR_MEMBERS_UNAVAILABLE,
                f"cannot list the member accounts from Resource Directory, so only this "
                f"account was swept: {error}",
                error_code=error.code,
            )
            served = [self.fleet.own]
        if not self.sweep.account_ids:
            return served
        outside = "accounts this deployment does not serve"
        warning = reasons.WARNING_ACCOUNT_REFUSED
        return self._narrowed(self.sweep.account_ids, served, warning, "accounts", outside)

    def _narrowed(
        self, asked: Sequence[T], allowed: Sequence[T], warning: str, field: str, why: str
    ) -> list[T]:
        """What the payload asked for, within what is allowed; a warning names the rest (in
        the line's `field`)."""
        refused = [item for item in asked if item not in allowed]
        if refused:
            self.journal.warning(
                warning,
                f"the timer payload names {', '.join(map(str, refused))}, {why}; not swept",
                **{field: refused},
            )
        return [item for item in asked if item in allowed]

    def _fan_out(self, function: str, accounts: list[str], regions: list[str]) -> None:
        # Imported here: only a hub's fanned-out sweep needs the FC client and its thread pool.
        from rolebinder.aliyun.functions import FunctionGateway  # noqa: PLC0415
        from rolebinder.entrypoints.fanout import fan_out  # noqa: PLC0415

        gateway = FunctionGateway(
            self.fleet.credentials,
            self.fleet.home_region,
            self.settings.fc_endpoint,
            self.fleet.calls,
        )
        results = fan_out(gateway, function, accounts, regions, self.sweep.trigger_time)
        for account, error in results:
            if error is not None:
                self.journal.error(
                    reasons.ERROR_FANOUT_FAILED,
                    f"could not queue the sweep of account {account}; the next timer sweeps "
                    f"it: {error}",
                    account_id=account,
                    error_code=error.code,
                )
        self.fanned_out = sum(e is None for _, e in results)

    def _done(self, done: ShardDone) -> None:
        if done.seen or not done.reached:
            return
        account, region = done.shard
        # ECS answers DescribeInstances with an empty list, not an error, when the caller lacks
        # the permission: an empty region and a broken policy look the same.
        where = f"{region} of account {account}" if self.settings.is_hub else region
        self.journal.warning(
            reasons.WARNING_EMPTY_SWEEP,
            f"the sweep saw no instance in {where}; if it has instances, check that the "
            "functions' (or the member) role may call ecs:DescribeInstances",
            region=region,
            **({"account_id": account} if self.settings.is_hub and account else {}),
        )
