"""side_by_side: a step's independent calls go out together, results in order."""

from __future__ import annotations

import threading

from rolebinder.aliyun.side_by_side import MAX_SIDE_BY_SIDE, side_by_side


def test_two_calls_are_in_flight_at_once() -> None:
    # Each call waits until the other has started: sent one after the other, the first would
    # wait alone and the barrier would break.
    both = threading.Barrier(2, timeout=5)

    def call(item: int) -> int:
        both.wait()
        return item * 10

    assert side_by_side(call, [1, 2]) == [10, 20]


def test_results_keep_the_order_of_the_items_and_concurrency_is_bounded() -> None:
    running, most = [0], [0]
    lock = threading.Lock()
    release = threading.Event()

    def call(item: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            if running[0] == MAX_SIDE_BY_SIDE:
                release.set()
        release.wait(5)
        with lock:
            running[0] -= 1
        return item

    assert side_by_side(call, list(range(10))) == list(range(10))
    assert most[0] == MAX_SIDE_BY_SIDE


def test_one_call_runs_inline_without_a_thread_pool() -> None:
    seen: list[str] = []
    assert side_by_side(lambda item: seen.append(threading.current_thread().name), ["x"]) == [None]
    assert seen == [threading.current_thread().name]
