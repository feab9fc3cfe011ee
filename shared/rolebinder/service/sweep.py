"""The sweep as a pipeline: read pages, read roles and decide, write, all at once.

A sweep spends three API actions, each with its own quota. Made one after another, its time is
the sum of every call's round trip; overlapped, it approaches the slowest action's share of
the quota, which is the bound. A reader thread follows the chain of NextToken pages, planner
threads read roles and decide while the next page is read, and writer threads send batches of
100 for one role as soon as a batch is full. Every queue is bounded, so memory stays flat
however large the fleet. A page is planned in pieces of `unit` instances (one role read each),
so a page's reads do not wait for each other's answers, and a planner hands the batches its
plans fill straight to the writers: a full batch never waits for the next page.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from rolebinder.domain.outcome import Outcome
from rolebinder.service.binder import Plan

Planned = tuple[list[Outcome], list[Plan]]
_END = object()


class WriteBuffer:
    """Write plans held until a batch of the same kind and roles is full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._waiting: dict[tuple[str, str | None, str | None, str | None], list[Plan]] = {}

    def add(self, plans: Iterable[Plan]) -> Iterator[list[Plan]]:
        """Take plans; yield every batch that became full."""
        for plan in plans:
            decision = plan.decision
            key = (decision.action.value, decision.role, decision.previous_role, decision.policy)
            batch = self._waiting.setdefault(key, [])
            batch.append(plan)
            if len(batch) == self.size:
                yield self._waiting.pop(key)

    def drain(self) -> list[Plan]:
        """Everything still waiting (the binder groups it by role again)."""
        rest = [plan for batch in self._waiting.values() for plan in batch]
        self._waiting.clear()
        return rest


class _PageReader(threading.Thread):
    """Follows the page chain ahead of the planners, at most `ahead` pages in hand."""

    def __init__(self, pages: Iterable[Any], ahead: int) -> None:
        super().__init__(name="sweep-pages", daemon=True)
        self.pages = pages
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=ahead)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for page in self.pages:
                self.queue.put(page)
        except BaseException as error:  # handed to the consumer, which re-raises it
            self.error = error
        finally:
            self.queue.put(_END)

    def finish(self) -> None:
        """Wait for the thread; re-raise what stopped the page chain, if anything."""
        self.join()
        if self.error is not None:
            raise self.error

    def __iter__(self) -> Iterator[Any]:
        while (page := self.queue.get()) is not _END:
            yield page


def run_pipeline(
    pages: Iterable[list[Any]],
    plan: Callable[[list[Any]], Planned],
    apply: Callable[[list[Plan]], list[Outcome]],
    batch_size: int,
    workers: int,
    unit: int | None = None,
) -> Iterator[Outcome]:
    """Outcomes of every instance of `pages`, in the order their work completes."""
    buffer, filling = WriteBuffer(batch_size), threading.Lock()
    reader = _PageReader(pages, ahead=workers)
    planning: deque[Future[list[Outcome]]] = deque()
    writing: deque[Future[list[Outcome]]] = deque()
    with (
        ThreadPoolExecutor(workers, "sweep-plan") as planners,
        ThreadPoolExecutor(workers, "sweep-write") as writers,
    ):

        def planned(piece: list[Any]) -> list[Outcome]:
            immediate, writes = plan(piece)
            with filling:
                writing.extend(writers.submit(apply, batch) for batch in buffer.add(writes))
            return immediate

        reader.start()
        for page in reader:
            planning.extend(planners.submit(planned, piece) for piece in _pieces(page, unit))
            while planning and (len(planning) > workers or planning[0].done()):
                yield from planning.popleft().result()
            while writing and writing[0].done():
                yield from writing.popleft().result()
        yield from _results(planning)
        if rest := buffer.drain():
            writing.append(writers.submit(apply, rest))
        yield from _results(writing)
    reader.finish()


def _results(futures: deque[Future[list[Outcome]]]) -> Iterator[Outcome]:
    while futures:
        yield from futures.popleft().result()


def _pieces(page: list[Any], unit: int | None) -> Iterator[list[Any]]:
    size = unit or len(page) or 1
    for start in range(0, len(page), size):
        yield page[start : start + size]
