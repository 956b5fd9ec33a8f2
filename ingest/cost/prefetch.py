"""Run an iterator on a producer thread, a bounded number of items ahead of its consumer.

The cost ingest parses CSV blocks (Arrow releases the GIL while parsing) on the producer thread
while the consumer normalizes and writes the previous batch: parse, normalize and write overlap.
The queue is bounded, so at most ``depth`` parsed batches wait in memory: memory stays flat
whatever the file size. An exception in the producer is raised in the consumer at the same
point of the sequence; a consumer that stops early stops the producer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")
_DONE = object()
_POLL_S = 0.1


def prefetch(source: Iterator[T], depth: int = 2, name: str = "vigil-prefetch") -> Iterator[T]:
    """Yield the items of ``source``, produced on a background thread (``name``) at most ``depth`` ahead."""
    if depth < 1:
        raise ValueError("depth must be >= 1")
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failure(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:  # a generator (e.g. one that runs a prefetch itself) ends here, on its thread
                close()

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
