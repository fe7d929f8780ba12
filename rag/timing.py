"""Stage timings in milliseconds, measured from one start: what `Answer.timings_ms` holds."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Stopwatch:
    """Times named stages; `ms` maps each stage (and "total", once stopped) to milliseconds."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.ms: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage `name` (a repeated stage keeps its last time)."""
        t = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = (time.perf_counter() - t) * 1000

    def since_start(self, name: str) -> None:
        """Record the time from the start as stage `name` (e.g. "load", which begins at the start)."""
        self.ms[name] = (time.perf_counter() - self.start) * 1000

    def stop(self) -> dict[str, float]:
        """Record "total" and return the timings."""
        self.since_start("total")
        return self.ms

    def forget(self, *names: str) -> None:
        """Drop stages that a later answer stage replaces."""
        for name in names:
            self.ms.pop(name, None)
