"""What a question and its chat history must look like before the pipeline sees them. Pure functions."""
from __future__ import annotations

from .text import normalize_question


class QuestionError(ValueError):
    """The question cannot be answered as given (empty, whitespace only, or not a string)."""


def validate_question(question: object, max_chars: int) -> tuple[str, list[str]]:
    """Reject non-strings and empty questions; clean and bound the rest. Returns the question and notes."""
    if isinstance(question, (bytes, bytearray)):
        question = bytes(question).decode("utf-8", "replace")  # invalid bytes become U+FFFD, removed with a note
    if not isinstance(question, str):
        raise QuestionError(f"question must be a string, not {type(question).__name__}")
    cleaned, notes = normalize_question(question, max_chars)
    if not cleaned:
        raise QuestionError("question is empty")
    return cleaned, notes


def clean_history(history: object) -> list[tuple[str, str]]:
    """History as (question, answer) string pairs; malformed turns are skipped."""
    out = []
    for turn in history or []:
        if isinstance(turn, (list, tuple)) and len(turn) >= 2 and isinstance(turn[0], str):
            out.append((turn[0], turn[1] if isinstance(turn[1], str) else ""))
    return out
