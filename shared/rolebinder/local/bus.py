"""The local event bus: the fake cloud's events to the handlers in functions/, as EventBridge and
Function Compute would deliver them.

Routing uses the EventBridge triggers of template.yml itself, so local mode exercises the deployed
patterns. Delivery is asynchronous, like FC's async invocation: a pool of workers calls each
handler with the event as bytes; a handler that raises is retried (3 times, backing off, as FC's
default async retry), then the event goes to the dead-letter list. A timer invokes the
reconcile handler every `sweep_interval` seconds.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fakecloud.eventbridge import Bus, Rule, deliver_cross_account
from rolebinder.deploy import template as tpl
from rolebinder.deploy.checkout import Handler, load_handler
from rolebinder.errors import InputError
from rolebinder.local.fc_context import FunctionMeta, LocalContext

RETRY_DELAYS = (1.0, 2.0, 4.0)  # FC retries a failed async invocation 3 times by default


def rules_from_template(path: Path) -> list[Rule]:
    """The EventBridge triggers of template.yml, each targeting a handler directory name."""
    rules = [Rule(r.name, r.pattern, r.target) for r in tpl.event_rules(tpl.load_template(path))]
    if not rules:
        raise InputError(f"{path}: no EventBridge triggers (ALIYUN::FC3::Trigger)")
    return rules


@dataclass
class Delivery:
    function: str
    event: dict[str, Any]
    attempt: int = 0


@dataclass
class BusStats:
    delivered: int = 0
    retried: int = 0
    dead_letters: list[Delivery] = field(default_factory=list)


class LocalBus:
    """Delivers events to handlers with FC-like async semantics, until stopped."""

    def __init__(
        self,
        rules: list[Rule],
        region: str,
        account_id: str,
        workers: int = 8,
        timeout: int = 60,
        members: frozenset[str] = frozenset(),
    ) -> None:
        self.bus = Bus(rules)
        self.region, self.account_id, self.timeout = region, account_id, timeout
        # Accounts whose buses forward to this one (member.yml's rules); other accounts' events
        # never reach it.
        self.members = members
        self.stats = BusStats()
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fc")
        self._handlers: dict[str, Handler] = {}
        self._busy = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._dispatcher = threading.Thread(target=self._dispatch, name="bus", daemon=True)

    def start(self) -> LocalBus:
        self._dispatcher.start()
        return self

    def publish(self, event: dict[str, Any]) -> None:
        """Subscriber for the fake cloud: route the event to every matching function; a
        member's event first crosses to this account's bus, as EventBridge routes it."""
        account = event.get("aliyunaccountid")
        if account not in (None, self.account_id):
            if account not in self.members:
                return
            event = deliver_cross_account(event, self.account_id)
        for function in self.bus.targets(event):
            self._enqueue(Delivery(function, event))

    def invoke_async(self, function: str, body: bytes) -> None:
        """An asynchronous FC invocation (the fake's InvokeFunction calls this)."""
        self._enqueue(Delivery(function, json.loads(body)))

    def invoke_timer(self, function: str = "reconcile", payload: str = "{}") -> None:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {"triggerTime": now, "triggerName": "local-sweep", "payload": payload}
        self._enqueue(Delivery(function, event))

    def idle(self) -> bool:
        with self._lock:
            return self._busy == 0 and self._queue.empty()

    def wait_idle(self, settle: float = 0.5, timeout: float = 60.0) -> bool:
        """True once nothing has been queued or running for `settle` seconds."""
        deadline, quiet_since = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            if not self.idle():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settle:
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _enqueue(self, delivery: Delivery) -> None:
        with self._lock:
            self._busy += 1
        self._queue.put(delivery)

    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            delivery = self._queue.get()
            if delivery is None:
                return
            self._pool.submit(self._run, delivery)

    def _run(self, delivery: Delivery) -> None:
        try:
            handler = self._handler(delivery.function)
            context = LocalContext(
                self.region, self.account_id, FunctionMeta(delivery.function, timeout=self.timeout)
            )
            handler(json.dumps(delivery.event).encode(), context)
            with self._lock:
                self.stats.delivered += 1
        except Exception as error:  # FC catches everything a handler raises
            self._retry(delivery, error)
        finally:
            with self._lock:
                self._busy -= 1

    def _retry(self, delivery: Delivery, error: Exception) -> None:
        if delivery.attempt >= len(RETRY_DELAYS) or self._stopping.is_set():
            with self._lock:
                self.stats.dead_letters.append(delivery)
            print(
                json.dumps(
                    {
                        "kind": "dead-letter",
                        "function": delivery.function,
                        "error": f"{type(error).__name__}: {error}",
                    }
                ),
                file=sys.stderr,
            )
            return
        with self._lock:
            self.stats.retried += 1
            self._busy += 1  # a retry waiting for its delay still counts as work in flight
        delay = RETRY_DELAYS[delivery.attempt]
        retry = Delivery(delivery.function, delivery.event, delivery.attempt + 1)
        timer = threading.Timer(delay, self._queue.put, args=(retry,))
        timer.daemon = True
        timer.start()

    def _handler(self, function: str) -> Handler:
        with self._lock:
            if function not in self._handlers:
                self._handlers[function] = load_handler(function)
            return self._handlers[function]
