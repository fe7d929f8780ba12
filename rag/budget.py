"""The prompt budget for a small local model: the top passages shrunk to their best sentences, in reading order.

On 2 CPU cores prompt processing dominates an answer's time (about 175 tokens/s for a 1.5B model), so the model
sees each passage's title (and, for questions about people, the authors and institutions) and those of its
sentences that are among the best the extractive scorer finds over all passages. Claims are still checked
against whole chunks.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .answer import score_sentences
from .heuristics import BUDGET
from .sentences import metadata_sentences
from .types import Hit, label_of

def best_sentences(question: str, qvec: np.ndarray, hits: list[Hit], sentences: list[list[str]],
                   vectors: list[np.ndarray], idf: Callable[[str], float],
                   budget: int = BUDGET.sentences) -> list[list[str]]:
    """For each hit, which of the `budget` best-scoring sentences over all hits are its own, in reading order."""
    cands = score_sentences(question, qvec, hits, sentences, vectors, idf)
    chosen: list[list[str]] = [[] for _ in hits]
    taken = 0
    for c in cands:  # best first
        if taken >= budget:
            break
        if c.sentence not in chosen[c.hit_rank]:
            chosen[c.hit_rank].append(c.sentence)
            taken += 1
    order = [{s: i for i, s in enumerate(sents)} for sents in sentences]
    return [sorted(picked, key=lambda s: order[r].get(s, 0)) for r, picked in enumerate(chosen)]


def brief_source(n: int, hit: Hit, picked: Sequence[str], people: bool) -> str:
    """One numbered source as the small model sees it: number, kind, title, authors if asked for, best sentences."""
    ch = hit.chunk
    lines = [f"[{n}] ({label_of(ch.kind, ch.metadata)}) {ch.title}"]
    if people and ch.metadata.get("table_row"):
        if ch.metadata.get("authors"):
            lines.append("Authors: " + ", ".join(ch.metadata["authors"]))
        if ch.metadata.get("institutions"):
            lines.append("Institutions: " + "; ".join(ch.metadata["institutions"]))
    meta = set(metadata_sentences(ch))  # already stated by the Authors/Institutions lines
    body = [s for s in picked if s not in meta]
    if body:
        lines.append(" ".join(body))
    return "\n".join(lines)
