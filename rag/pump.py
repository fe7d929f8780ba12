"""Read an iterator in a worker thread: what lets a reader give up on a stalled stream, or tick while it waits."""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

_EMPTY = object()


def pumped(items: Iterator, wait: float | None = None, deadline: float | None = None, name: str = "pump") -> Iterator:
    """The items of `items`, read in a daemon thread; `_EMPTY` when none arrived for `wait` seconds; `TimeoutError`
    once the monotonic `deadline` passes. Closing this generator stops the reader at its next item and closes
    `items`; an exception in the reader is raised here."""
    box: queue.Queue = queue.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in items:
                box.put(("item", item))
                if stop.is_set():
                    break
            box.put(("end", None))
        except BaseException as e:  # noqa: BLE001 - handed over to the consumer
            box.put(("error", e))
        finally:
            close = getattr(items, "close", None)
            if close:
                close()

    threading.Thread(target=pump, name=name, daemon=True).start()
    try:
        while True:
            timeout = wait if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                kind, value = box.get(timeout=timeout)
            except queue.Empty:
                if deadline is not None:
                    raise TimeoutError from None
                yield _EMPTY
                continue
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


def is_empty(item: object) -> bool:
    """Whether a `pumped` item is the no-item-yet marker."""
    return item is _EMPTY
