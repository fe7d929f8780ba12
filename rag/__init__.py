"""Cited question answering over a folder of documents (the MLSys 2026 corpus by default).

Public API: `ask`, `ask_stream`, `build_index`, `Answer`, `Settings`. Heavy libraries (torch, faiss,
sentence-transformers, openai) load only when a function that needs them is called.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["ask", "ask_stream", "build_index", "llm_status", "Answer", "Settings", "QuestionError"]
__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from .api import QuestionError, ask, ask_stream, build_index
    from .llm import llm_status
    from .config import Settings
    from .types import Answer


def __getattr__(name: str):
    if name in ("ask", "ask_stream", "build_index", "QuestionError"):
        from . import api

        return getattr(api, name)
    if name == "llm_status":
        from .llm import llm_status

        return llm_status
    if name == "Settings":
        from .config import Settings

        return Settings
    if name == "Answer":
        from .types import Answer

        return Answer
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
