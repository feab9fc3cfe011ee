"""Independent calls of one step sent together: a batch of 100 needs two role reads and two
marker writes, and each action has its own quota, so waiting for one answer before sending the
next only adds a round trip (and, rate-limited, a place further back in the action's queue)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")
    R = TypeVar("R")

# At most this many calls of one step at once (a sweep's batch of 100 needs two).
MAX_SIDE_BY_SIDE = 4


def side_by_side(call: Callable[[T], R], items: list[T]) -> list[R]:
    """`call` on every item, results in order; side by side when there is more than one."""
    if len(items) < 2:
        return [call(item) for item in items]
    # Imported here: one event's step is one call, and its cold start skips thread pools.
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    with ThreadPoolExecutor(min(len(items), MAX_SIDE_BY_SIDE), "side-by-side") as pool:
        return list(pool.map(call, items))
