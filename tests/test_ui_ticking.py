"""The chat page's heartbeat around a slow answer stream."""
from __future__ import annotations

import threading

import pytest

from ui.ticking import ticking


def test_ticks_while_waiting_then_items_in_order():
    release = threading.Event()

    def slow():
        yield "a"
        release.wait(5)
        yield "b"

    out = []
    for item in ticking(slow(), tick=0.01):
        out.append(item)
        if out.count(None) == 3:
            release.set()
    assert out[0] == "a" and out[-1] == "b" and out.count(None) >= 3


def test_errors_reach_the_consumer():
    def broken():
        yield "a"
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        list(ticking(broken(), tick=0.01))


def test_closing_early_closes_the_source_at_its_next_item():
    closed = threading.Event()

    def endless():
        try:
            while True:
                yield "x"
        finally:
            closed.set()

    gen = ticking(endless(), tick=0.01)
    assert next(gen) == "x"
    gen.close()
    assert closed.wait(5)
