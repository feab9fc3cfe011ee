"""A hub's timer sweep, fanned out: one asynchronous invocation of the reconcile function per
served account, each a timer-shaped event naming that account and the regions.

One invocation per account, not per (account, region): the member's credentials are assumed once
in the container that sweeps it (never sent in a payload), so each member costs at most one
AssumeRole per sweep, and its regions are swept side by side there (rolebinder.entrypoints.fleet).
Async invocations are at least once; a sweep repeated writes nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Protocol

from rolebinder.errors import CloudError

FANOUT_TRIGGER = "fanout"
_WORKERS = 8


class InvokePort(Protocol):
    def invoke_async(self, function: str, payload: bytes) -> str | None: ...


def shard_event(account: str, regions: Sequence[str], trigger_time: str | None) -> bytes:
    """The event one account's sweep is invoked with: what an FC timer would send."""
    payload = json.dumps({"accounts": [account], "regions": list(regions)})
    when = trigger_time or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {"triggerName": FANOUT_TRIGGER, "triggerTime": when, "payload": payload}
    return json.dumps(event, separators=(",", ":")).encode()


def fan_out(
    functions: InvokePort,
    function: str,
    accounts: Sequence[str],
    regions: Sequence[str],
    trigger_time: str | None,
) -> list[tuple[str, CloudError | None]]:
    """Queue each account's sweep; (account, None) when queued, (account, error) when not."""

    def invoke(account: str) -> tuple[str, CloudError | None]:
        try:
            functions.invoke_async(function, shard_event(account, regions, trigger_time))
        except CloudError as error:
            return account, error
        return account, None

    with ThreadPoolExecutor(min(_WORKERS, max(1, len(accounts))), "fanout") as pool:
        return list(pool.map(invoke, accounts))
