"""The prompt budget for a small local model: each passage shrunk to its best sentences, in reading order.

On 2 CPU cores prompt processing dominates an answer's time (about 175 tokens/s for a 1.5B model), so the model
sees the title (and, for questions about people, the authors and institutions) and the few sentences of each
passage that the extractive scorer ranks highest, not whole chunks. Claims are still checked against whole chunks.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from .answer import score_sentences
from .sentences import metadata_sentences
from .text import fold
from .types import KIND_LABELS, Hit

# Sentences kept per passage. On the dev half, 3 kept the evidence sentence of 97% of answerable questions in
# the prompt (2: 91%, 4: 98%) at about half the tokens of whole chunks.
SENTENCES_PER_SOURCE = 3
# Passages sent to the model: the top 4 of the k retrieved held the evidence of 99% of dev questions whose
# evidence was retrieved at all; the fifth costs ~90 tokens for 1%.
MAX_SOURCES = 4
_PEOPLE = re.compile(r"\b(who|authors?|wrote|written|institutions?|affiliat\w*|universit\w*|compan\w*|lab|labs)\b")


def wants_people(question: str) -> bool:
    """Whether the question asks about people or institutions (then poster authors stay in the prompt)."""
    return bool(_PEOPLE.search(fold(question)))


def best_sentences(question: str, qvec: np.ndarray, hits: list[Hit], sentences: list[list[str]],
                   vectors: list[np.ndarray], idf: Callable[[str], float],
                   per_source: int = SENTENCES_PER_SOURCE) -> list[list[str]]:
    """For each hit, its `per_source` best-scoring sentences in reading order (metadata facts excluded)."""
    cands = score_sentences(question, qvec, hits, sentences, vectors, idf)
    chosen: list[list[str]] = [[] for _ in hits]
    for c in cands:  # best first
        if len(chosen[c.hit_rank]) < per_source and c.sentence not in chosen[c.hit_rank]:
            chosen[c.hit_rank].append(c.sentence)
    order = [{s: i for i, s in enumerate(sents)} for sents in sentences]
    return [sorted(picked, key=lambda s: order[r].get(s, 0)) for r, picked in enumerate(chosen)]


def brief_source(n: int, hit: Hit, picked: Sequence[str], people: bool) -> str:
    """One numbered source as the small model sees it: number, kind, title, authors if asked for, best sentences."""
    ch = hit.chunk
    lines = [f"[{n}] ({KIND_LABELS.get(ch.kind, ch.kind)}) {ch.title}"]
    if people and ch.kind == "poster":
        if ch.metadata.get("authors"):
            lines.append("Authors: " + ", ".join(ch.metadata["authors"]))
        if ch.metadata.get("institutions"):
            lines.append("Institutions: " + "; ".join(ch.metadata["institutions"]))
    meta = set(metadata_sentences(ch))  # already stated by the Authors/Institutions lines
    body = [s for s in picked if s not in meta]
    lines.append(" ".join(body) if body else ch.text[:300])
    return "\n".join(lines)
