"""The public entry points: `ask`, `ask_stream` and `build_index`, each a few lines over `rag.pipeline.Pipeline`."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .config import Settings
from .embed import Embedder, embedder_for
from .question import QuestionError, validate_question  # noqa: F401 - part of the public API
from .types import Answer, Retrieved


def build_index(settings: Settings | None = None, *, embedder: Embedder | None = None, progress: bool = True) -> Path:
    """Build (or rebuild) the index for the configured corpus; returns the index folder."""
    from .index import build_index as build
    from .loaded import forget

    settings = settings or Settings()
    path = build(settings, embedder or embedder_for(settings), progress=progress)
    forget(settings)
    return path


def ask_stream(question: str, *, history: list[tuple[str, str]] | None = None, mode: str | None = None,
               k: int | None = None, settings: Settings | None = None, embedder: Embedder | None = None,
               sources: bool = False) -> Iterator[str | Answer | Retrieved]:
    """Yield the answer's text pieces as they arrive, then the final checked `Answer` (whose text is authoritative).

    With `sources=True` a `Retrieved` (the passages found) comes first, as soon as retrieval ends.
    """
    from .pipeline import Pipeline

    pipeline = Pipeline(settings, embedder)
    yield from pipeline.stream(pipeline.prepare(question, history, mode, k), sources)


def ask(question: str, *, history: list[tuple[str, str]] | None = None, mode: str | None = None,
        k: int | None = None, settings: Settings | None = None, embedder: Embedder | None = None) -> Answer:
    """Answer a question from the corpus with cited sentences, or say plainly that the documents don't answer.

    `history` holds earlier (question, answer) turns for follow-ups; `mode` forces "llm" or "extractive".
    """
    for item in ask_stream(question, history=history, mode=mode, k=k, settings=settings, embedder=embedder):
        if isinstance(item, Answer):
            return item
    raise RuntimeError("the answer stream ended without an Answer")  # pragma: no cover
