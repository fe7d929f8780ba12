"""Items of a slow iterator with a heartbeat: what lets the chat page show the time so far while a model reads."""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

TICK = 0.5  # seconds between "time so far" updates while no item arrives


def ticking(items: Iterator, tick: float = TICK) -> Iterator:
    """The items of `items`, read in a worker thread, with None every TICK seconds while none arrives.

    Closing this generator (the user pressed Stop) closes `items` at its next item, which closes the LLM stream.
    """
    box: queue.Queue = queue.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for item in items:
                box.put(("item", item))
                if stop.is_set():
                    break
            box.put(("end", None))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            box.put(("error", e))
        finally:
            items.close()

    threading.Thread(target=pump, name="ui-answer", daemon=True).start()
    try:
        while True:
            try:
                kind, value = box.get(timeout=tick)
            except queue.Empty:
                yield None
                continue
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
