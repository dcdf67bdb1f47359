"""fgsgl.runtime.prefetch: a producer a few items ahead of its consumer, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from fgsgl.runtime.prefetch import Prefetched


def test_items_arrive_in_order_and_the_producer_stays_at_most_depth_ahead() -> None:
    made: list[int] = []
    taken: list[int] = []
    ahead: list[int] = []

    def source() -> Iterator[int]:
        for i in range(20):
            made.append(i)
            yield i

    with Prefetched(source(), depth=3) as items:
        for item in items:
            time.sleep(0.005)  # the consumer is the slow side: the queue fills
            ahead.append(len(made) - len(taken) - 1)
            taken.append(item)
    assert taken == list(range(20))
    # in the queue (3) plus the one the producer holds while the queue is full
    assert max(ahead) <= 4


def test_the_producer_runs_while_the_consumer_works() -> None:
    second_made = threading.Event()

    def source() -> Iterator[int]:
        time.sleep(0.05)  # stands for decoding
        yield 0
        time.sleep(0.05)
        second_made.set()
        yield 1

    with Prefetched(source(), depth=2) as items:
        first = next(items)
        # the consumer holds item 0 and asks for nothing: the producer goes on regardless
        assert first == 0 and second_made.wait(timeout=10)
        assert list(items) == [1]
    assert items.busy_seconds >= 0.1  # the producer's own time, both sleeps


def test_an_error_in_the_producer_reaches_the_consumer_after_the_good_items() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("frame 3 is corrupt")

    got: list[int] = []
    with pytest.raises(OSError, match="frame 3 is corrupt"), Prefetched(source()) as items:
        for item in items:
            got.append(item)
    assert got == [1, 2]


def test_an_early_exit_stops_the_producer_thread() -> None:
    def endless() -> Iterator[int]:
        i = 0
        while True:
            yield i
            i += 1

    before = threading.active_count()
    with Prefetched(endless(), depth=2) as items:
        for item in items:
            if item == 5:
                break
    assert threading.active_count() == before
    assert next(items, None) is None  # closed: nothing more


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth must be >= 1"):
        Prefetched(iter([]), depth=0)
