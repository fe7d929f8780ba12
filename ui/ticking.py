"""Items of a slow iterator with a heartbeat: what lets the chat page show the time so far while a model reads."""
from __future__ import annotations

from collections.abc import Iterator

TICK = 0.5  # seconds between "time so far" updates while no item arrives


def ticking(items: Iterator, tick: float = TICK) -> Iterator:
    """The items of `items`, read in a worker thread, with None every TICK seconds while none arrives.

    Closing this generator (the user pressed Stop) closes `items` at its next item, which closes the LLM stream.
    """
    from rag.pump import is_empty, pumped

    reader = pumped(items, wait=tick, name="ui-answer")
    try:
        for item in reader:
            yield None if is_empty(item) else item
    finally:
        reader.close()
