"""What the whole collection says: every chunk's folded text and vocabulary, how often a name occurs, and the
initials of the names it uses. Pure: built from the loaded index's folded texts (`rag.loaded`)."""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cached_property

from .answerable import mentions


class CorpusText:
    """Every chunk's folded text and content-word vocabulary: does (and how often do) the documents mention a name."""

    def __init__(self, folded_chunks: list[str], vocabulary: set[str], texts: Iterable[str] = ()) -> None:
        self.chunks = folded_chunks
        self.vocabulary = vocabulary
        self.folded = " ".join(folded_chunks)
        self._texts = texts  # as written, for the initials of names (read only when a question needs them)
        self._df: dict[str, int] = {}

    @cached_property
    def initialisms(self) -> frozenset[str]:
        """The initials of every run of capitalised words the documents use ("lbnl" for Lawrence Berkeley National
        Laboratory): a question may name an institution or system by its initials."""
        return initialisms(self._texts)

    def df(self, term: str) -> float:
        """Share of chunks that mention the term."""
        if term not in self._df:
            self._df[term] = sum(1 for t in self.chunks if mentions(t, term)) / max(1, len(self.chunks))
        return self._df[term]


_CAPITALISED_RUN = re.compile(r"[A-Z][\w&-]*(?:\s+(?:(?:of|and|for|the|de|&)\s+)?[A-Z][\w&-]*)+")


def initialisms(texts: Iterable[str], longest: int = 6) -> frozenset[str]:
    """Lower-cased initials of each run of 2 to `longest` consecutive capitalised words (small joining words
    skipped) in the texts."""
    out: set[str] = set()
    for text in texts:
        for m in _CAPITALISED_RUN.finditer(text):
            letters = [w[0].lower() for w in m.group(0).split() if w[:1].isupper()]
            for i in range(len(letters)):
                for j in range(i + 2, min(len(letters), i + longest) + 1):
                    out.add("".join(letters[i:j]))
    return frozenset(out)
