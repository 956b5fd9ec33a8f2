"""The bounded producer that runs the CSV parse ahead of normalisation (ingest.cost.prefetch)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from ingest.cost.prefetch import prefetch


def test_yields_every_item_in_order() -> None:
    assert list(prefetch(iter(range(1000)), depth=3)) == list(range(1000))
    assert list(prefetch(iter([]), depth=1)) == []


def test_producer_error_is_raised_in_the_consumer_after_the_good_items() -> None:
    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("corrupt block")

    gen = prefetch(source(), depth=2)
    assert [next(gen), next(gen)] == [1, 2]
    with pytest.raises(ValueError, match="corrupt block"):
        next(gen)


def test_producer_stays_at_most_depth_ahead_and_stops_with_the_consumer() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for i in range(10_000):
            produced.append(i)
            yield i

    gen = prefetch(source(), depth=2)
    assert next(gen) == 0
    time.sleep(0.3)  # give the producer every chance to run ahead
    # consumed 1; at most 2 queued, 1 more held by a blocked put
    assert len(produced) <= 1 + 2 + 1
    gen.close()  # the consumer stops early: the producer thread ends, nothing else is produced
    n = len(produced)
    time.sleep(0.3)
    assert len(produced) == n
    assert not any(t.name == "vigil-prefetch" and t.is_alive() for t in threading.enumerate())


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        list(prefetch(iter([1]), depth=0))
