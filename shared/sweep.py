"""The sweep as a pipeline: read pages, read roles and decide, write, all at once.

A sweep spends three API actions, each with its own quota. Made one after another, its time is
the sum of every call's round trip; overlapped, it approaches the slowest action's share of
the quota, which is the bound. Pages are read in order (the listing is a chain of NextToken
calls), up to `ahead` pages are planned by worker threads while the next one is read, and
writes leave in batches of 100 for one role as soon as a batch is full. In-flight work is
bounded, so memory stays flat however large the fleet.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from shared.binder import Plan
from shared.outcome import Outcome

Planned = tuple[list[Outcome], list[Plan]]


class WriteBuffer:
    """Write plans held until a batch of the same kind and roles is full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._waiting: dict[tuple[str, str | None, str | None], list[Plan]] = {}

    def add(self, plans: Iterable[Plan]) -> Iterator[list[Plan]]:
        """Take plans; yield every batch that became full."""
        for plan in plans:
            key = (plan.decision.action.value, plan.decision.role, plan.decision.previous_role)
            batch = self._waiting.setdefault(key, [])
            batch.append(plan)
            if len(batch) == self.size:
                yield self._waiting.pop(key)

    def drain(self) -> list[Plan]:
        """Everything still waiting (the binder groups it by role again)."""
        rest = [plan for batch in self._waiting.values() for plan in batch]
        self._waiting.clear()
        return rest


def run_pipeline(
    pages: Iterable[list[object]],
    plan: Callable[[list[object]], Planned],
    apply: Callable[[list[Plan]], list[Outcome]],
    batch_size: int,
    workers: int,
) -> Iterator[Outcome]:
    """Outcomes of every instance of `pages`, in the order their work completes."""
    buffer = WriteBuffer(batch_size)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sweep") as pool:
        planning: deque[Future[Planned]] = deque()
        writing: deque[Future[list[Outcome]]] = deque()

        def harvest(planned: Planned) -> list[Outcome]:
            immediate, writes = planned
            writing.extend(pool.submit(apply, batch) for batch in buffer.add(writes))
            return immediate

        for page in pages:
            planning.append(pool.submit(plan, page))
            while planning and (len(planning) > workers or planning[0].done()):
                yield from harvest(planning.popleft().result())
            while writing and writing[0].done():
                yield from writing.popleft().result()
        while planning:
            yield from harvest(planning.popleft().result())
        rest = buffer.drain()
        if rest:
            writing.append(pool.submit(apply, rest))
        while writing:
            yield from writing.popleft().result()
