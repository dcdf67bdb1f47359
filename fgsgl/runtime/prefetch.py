"""Run a producer (a video decoder) a few items ahead of its consumer (the model), in a thread.

Spotting decodes a long video in chunks and runs the model on each; one after the other,
the total is decode + model. Decoding happens in decord's native code, which releases the
GIL, so a thread can decode the next chunks while the model (torch, also native) computes:
the total approaches max(decode, model). On a GPU the model is the short part and the
spotting time approaches the decoding floor; on a CPU both share the cores.

    with Prefetched(chunks(), depth=2) as items:
        for item in items: ...

Whatever the producer raises reaches the consumer at the item where it happened; a
consumer that stops early (break, exception) stops the thread at its next item.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class Prefetched(Iterator[T]):
    """`source`'s items, produced up to `depth` ahead in a daemon thread. `busy_seconds`:
    how long the producer spent making them (its own clock, not the consumer's wait)."""

    def __init__(self, source: Iterator[T], depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.busy_seconds = 0.0
        self._items: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(source,), daemon=True)
        self._thread.start()

    def _run(self, source: Iterator[T]) -> None:
        try:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    item: object = next(source)
                except StopIteration:
                    item = _DONE
                self.busy_seconds += time.perf_counter() - started
                self._put(item)
                if item is _DONE:
                    return
        except BaseException as e:  # handed to the consumer, raised there
            self._put(_Failure(e))

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._items.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __next__(self) -> T:
        if self._stop.is_set():
            raise StopIteration
        item = self._items.get()
        if item is _DONE:
            self.close()
            raise StopIteration
        if isinstance(item, _Failure):
            self.close()
            raise item.error
        return item  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the producer (at its next item) and wait for its thread."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Prefetched[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error
