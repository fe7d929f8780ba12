"""Which systems a question names, and which passages are about them.

Reads the loaded index (its chunks, name table and folded text); no disk, no model.
"""
from __future__ import annotations

import re

from .answerable import COINED, mentions, named_terms
from .passage import Passage, Subject
from .heuristics import SUBJECTS
from .intents import HARDWARE_MODEL
from .papertable import ROW_KEY
from .text import STOPWORDS, fold
from .types import Hit

_WORD = re.compile(r"[\w][\w-]*")


def _is_row(chunk) -> bool:
    """Whether the chunk is a row of the paper table (a poster or paper), as its source declared."""
    return bool(chunk is not None and chunk.metadata.get(ROW_KEY))


def _key(chunk) -> str:
    """The subject key of a chunk: a row's own id, or the row a linked entry belongs to (its `poster_id`)."""
    return chunk.id if _is_row(chunk) else chunk.metadata.get("poster_id") or chunk.id


def find_subjects(loaded, question: str, compare: bool = False) -> list[Subject]:
    """The systems a question names, one per poster (a poster and its notes entries are one subject), in the
    order the question names them. A comparison also finds systems named by a phrase of their title."""
    chunks = loaded.retriever.chunks
    found: dict[str, list[str]] = {}
    for pos, name in loaded.retriever.named_chunks(question).items():
        found.setdefault(_key(chunks[pos]), []).append(name)
    # A coined name the program does not list as a system name ("RocketPPA", introduced in its abstract) still names
    # a subject when only a few chunks mention it: the poster (or notes entry) that does.
    listed = {fold(n) for names in found.values() for n in names}
    for term in named_terms(question):
        if fold(term) in listed or not COINED.search(term) or len(term) < SUBJECTS.min_chars:
            continue
        if re.fullmatch(HARDWARE_MODEL, term):  # "on 512 H200 GPUs" names the hardware, not a second system
            continue
        owners = [i for i, t in enumerate(loaded.corpus_text.chunks) if mentions(t, term)]
        if 0 < len(owners) <= SUBJECTS.max_chunks:
            found.setdefault(_key(chunks[owners[0]]), []).append(term)
    if compare and len(found) < 2:
        for key, phrase in title_phrases(loaded, question, set(found)):
            found.setdefault(key, []).append(phrase)
    q = fold(question)
    out = []
    for key, names in found.items():
        own = loaded.by_id.get(key)
        display = (own.metadata.get("name") if own is not None else None) or names[0]
        all_names = tuple(dict.fromkeys([*names, display, *((own.metadata.get("aliases") or []) if own else [])]))
        out.append(Subject(key, display, all_names))
    # A notes entry not linked to its poster carries the same name: one system, one subject (the poster's key).
    by_name: dict[str, Subject] = {}
    for s in sorted(out, key=lambda s: not _is_row(loaded.by_id.get(s.key))):
        by_name.setdefault(fold(s.name), s)
    return sorted(by_name.values(), key=lambda s: min((q.find(fold(n)) for n in s.names if fold(n) in q), default=len(q)))


def title_phrases(loaded, question: str, taken: set[str]) -> list[tuple[str, str]]:
    """(poster key, phrase) for runs of the question's words that one poster's title holds and few chunks mention:
    "Layered prefill and BEAM …" names the poster titled "… with Layered Prefill"."""
    words = _WORD.findall(question)
    posters = [c for c in loaded.retriever.chunks if _is_row(c)]
    out: list[tuple[str, str]] = []
    used: set[int] = set()
    for n in SUBJECTS.title_phrase_words:
        for i in range(len(words) - n + 1):
            span = range(i, i + n)
            run = words[i:i + n]
            if used & set(span) or fold(run[0]) in STOPWORDS or fold(run[-1]) in STOPWORDS:
                continue
            phrase = " ".join(run)
            pattern = re.compile(r"(?<![\w-])" + re.escape(fold(phrase)) + r"(?![\w-])")
            owners = [c for c in posters if pattern.search(fold(c.title))]
            if len(owners) != 1 or owners[0].id in taken:
                continue
            if sum(1 for t in loaded.corpus_text.chunks if pattern.search(t)) > SUBJECTS.max_chunks:
                continue
            out.append((owners[0].id, phrase))
            taken = taken | {owners[0].id}
            used |= set(span)
    return out


def passages(loaded, hits: list[Hit], subjects: list[Subject]) -> list[Passage]:
    """The hits, plus each subject's own poster and notes entries when retrieval missed them, as passages."""
    extra = []
    for s in subjects:
        own = loaded.by_id.get(s.key)
        for cid in ([s.key] if own is not None else []) + list((own.metadata.get("notes_ids") or []) if own else []):
            if cid in loaded.by_id and all(h.chunk.id != cid for h in hits + extra):
                extra.append(Hit(loaded.by_id[cid], 0.0))
    patterns = {s.key: [re.compile(r"(?<![\w-])" + re.escape(fold(n)) + r"(?![\w-])") for n in s.names] for s in subjects}
    out = []
    for h in hits + extra:
        c = h.chunk
        owner = c.id if _is_row(c) else c.metadata.get("poster_id") or (c.id if c.metadata.get("name") else None)
        text = fold(f"{c.title} {c.text}")
        about = {owner} if owner else set()
        about |= {key for key, pats in patterns.items() if any(p.search(text) for p in pats)}
        out.append(Passage(h, loaded.sentences_of(h), loaded.sentence_vectors_of(h), frozenset(about), owner))
    return out
