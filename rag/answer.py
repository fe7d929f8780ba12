"""The offline extractive answerer: pick the passage sentences that best answer the question, cite each one."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .aliases import alias_phrase
from .heuristics import SCORING, SUPPORT
from .answerable import blank
from .intents import answer_type, asked, asks_about_people, holds_slot
from .sentences import metadata_sentences
from .text import content_tokens, fold, numbers_in
from .types import Chunk, Citation, Hit

REFUSAL_TEXT = "The documents don't answer this question."
_SOURCE_REF = re.compile(r"\s?((?:\[\d{1,3}\])+)")
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"


@dataclass(frozen=True)
class Candidate:
    """A sentence that could go into the answer."""

    hit_rank: int
    sentence: str
    score: float
    lexical: float
    dense: float


def _type_bonus(kind: str, sentence: str) -> float:
    s = fold(sentence)
    if kind == "number":
        return SCORING.number_bonus if re.search(r"\d", s) else 0.0
    if kind == "date":
        return SCORING.date_bonus if re.search(rf"\b\d{{4}}-\d\d-\d\d\b|\b{_MONTHS}\b", s) else 0.0
    if kind == "who":
        return SCORING.who_bonus if re.search(r"@\w|\bare from\b|\bis by\b|\b[A-Z][a-z]+ [A-Z][a-z]+", sentence) else 0.0
    return 0.0


def weighted_coverage(q_tokens: list[str], text_tokens: set[str], idf) -> float:
    """Share of the question's IDF mass whose tokens appear in the text."""
    total = sum(idf(t) for t in q_tokens)
    return sum(idf(t) for t in q_tokens if t in text_tokens) / total if total else 0.0


def score_sentences(question: str, qvec: np.ndarray, hits: list[Hit], sentences: list[list[str]],
                    vectors: list[np.ndarray], idf) -> list[Candidate]:
    """Score every sentence of the hits by dense similarity, IDF-weighted overlap, rank and answer type."""
    q_tokens = list(dict.fromkeys(content_tokens(question)))
    kind = answer_type(question)
    wants_people = asks_about_people(question)
    wants_org = wants_people and asked(question).slot == "org"
    out = []
    for rank, (hit, sents, vecs) in enumerate(zip(hits, sentences, vectors)):
        if not wants_people:  # author and institution facts only answer questions about people
            n_meta = len(metadata_sentences(hit.chunk))
            sents, vecs = sents[: len(sents) - n_meta], vecs[: len(vecs) - n_meta]
        elif wants_org and hit.chunk.metadata.get("authors") and hit.chunk.metadata.get("institutions"):
            # "which company is behind X": its institutions answer, its list of author names does not
            at = len(sents) - len(metadata_sentences(hit.chunk))
            sents, vecs = sents[:at] + sents[at + 1:], np.concatenate([vecs[:at], vecs[at + 1:]])
        if not sents:
            continue
        # einsum, not BLAS: tiny products stall on BLAS thread hand-offs when the CPU is busy.
        dense = np.einsum("ij,j->i", vecs, qvec) if len(vecs) else np.zeros(len(sents))
        # Words of the chunk's title count for every sentence: "it" in a sentence refers to the titled system.
        names = [hit.chunk.metadata.get("name") or "", *hit.chunk.metadata.get("aliases", [])]
        title_tokens = set(content_tokens(" ".join([hit.chunk.title, *names])))
        for s, d in zip(sents, dense):
            if s.rstrip(" )\"'”").endswith("?"):
                continue  # a question in a passage (an open question, a tweet's hook) never answers one
            lex = weighted_coverage(q_tokens, set(content_tokens(s)) | title_tokens, idf)
            score = SCORING.dense * float(d) + SCORING.lexical * lex + SCORING.rank_bonus / (rank + 1) + \
                _type_bonus(kind, s)
            out.append(Candidate(rank, s, score, lex, float(d)))
    return sorted(out, key=lambda c: -c.score)


def ensure_type(chosen: list[Candidate], cands: list[Candidate], kind: str, max_sentences: int) -> list[Candidate]:
    """When a number or date is asked for and no chosen sentence has one, add the best sentence that does.

    It must come from a passage already in the answer or the top passage, and score at least half the best.
    """
    if kind not in ("number", "date") or not chosen or any(_type_bonus(kind, c.sentence) for c in chosen):
        return chosen
    ranks = {c.hit_rank for c in chosen} | {0}
    floor = SCORING.typed_floor * chosen[0].score
    extra = next((c for c in cands if c.hit_rank in ranks and c.score >= floor and _type_bonus(kind, c.sentence)
                  and c not in chosen), None)
    if extra is None:
        return chosen
    return (chosen if len(chosen) < max_sentences else chosen[:-1]) + [extra]


def _jaccard(a: str, b: str) -> float:
    ta, tb = set(content_tokens(a)), set(content_tokens(b))
    return len(ta & tb) / max(1, len(ta | tb))


def select(cands: list[Candidate], max_sentences: int, per_chunk: int = SCORING.per_chunk) -> list[Candidate]:
    """Best sentences within a margin of the top one, at most per_chunk per chunk, no near-duplicates."""
    if not cands:
        return []
    best = cands[0].score
    chosen: list[Candidate] = []
    for c in cands:
        if len(chosen) >= max_sentences or c.score < max(best - SCORING.margin, SCORING.ratio * best):
            break
        if sum(1 for x in chosen if x.hit_rank == c.hit_rank) >= per_chunk:
            continue
        if any(_jaccard(c.sentence, x.sentence) > SCORING.duplicate_jaccard for x in chosen):
            continue
        chosen.append(c)
    return chosen


def display_sentence(sentence: str, hit: Hit, label: bool = True) -> str:
    """The sentence as shown in an answer: no inline reference numbers, the system's name added when missing.

    The article's own "[n]" references are dropped (its Sources list travels with the citation's metadata); a
    "[3]" in a tweet, abstract or note is spelled "(3)" so it cannot read as one of our markers.
    """
    if hit.chunk.metadata.get("references"):
        text = _SOURCE_REF.sub("", sentence)
    else:
        text = _SOURCE_REF.sub(lambda m: " (" + ", ".join(re.findall(r"\d+", m.group(1))) + ")", sentence)
    name = hit.chunk.metadata.get("name") or ""
    phrase = (alias_phrase(hit.chunk) or short_title(hit.chunk)) if label else ""
    if phrase and (not name or fold(name) not in fold(text) or phrase != name) and fold(phrase) not in fold(text):
        text = f"{phrase}: {text}"
    return text.strip()


SHORT_TITLE_CHARS = 60  # a poster without a system name is labelled by its title up to the colon, when this short


def short_title(chunk) -> str:
    """A table row's title up to its colon ("From Tokens to Layers"), when short; else nothing."""
    if not chunk.metadata.get("table_row"):
        return ""
    head = re.split(r":\s", chunk.title)[0].strip()
    return head if len(head) <= SHORT_TITLE_CHARS else ""


def compose(chosen: list[Candidate], hits: list[Hit], label: bool = True,
            lead: dict[int, str] | None = None) -> tuple[str, list[Citation]]:
    """Answer text with a [n] marker after every sentence, and the citations in marker order.

    With `label`, a sentence from a named system's passage is prefixed with the name once (when it lacks it);
    `lead` maps a position in `chosen` to a sentence of our own that goes just before it.
    """
    markers: dict[int, int] = {}
    citations: list[Citation] = []
    parts = []
    labelled: set[int] = set()
    for n, c in enumerate(chosen):
        if lead and n in lead:
            parts.append(lead[n])
        hit = hits[c.hit_rank]
        text = display_sentence(c.sentence, hit, label=label and c.hit_rank not in labelled)  # name the source once
        if not text.strip(" .!?"):
            continue  # nothing left once reference numbers are dropped
        if c.hit_rank not in markers:
            markers[c.hit_rank] = len(markers) + 1
            citations.append(make_citation(markers[c.hit_rank], hit, c.sentence))
        labelled.add(c.hit_rank)
        if text[-1] not in ".!?":
            text += "."
        parts.append(f"{text[:-1]} [{markers[c.hit_rank]}]{text[-1]}")
    return " ".join(parts), citations


def slot_first(chosen: list[Candidate], cands: list[Candidate], ask, known: Sequence[str] = ()) -> list[Candidate]:
    """Sentences holding the asked type first; when none of the chosen holds it, the best one that does joins.
    What the question itself gives (`known`: "@vllm_project" for "the vLLM project") does not count as the type."""
    if ask.slot is None or not chosen:
        return chosen

    def holds(c: Candidate) -> bool:
        return holds_slot(blank(c.sentence, known), ask)

    holding = [c for c in chosen if holds(c)]
    if not holding:
        extra = next((c for c in cands if holds(c) and c not in chosen), None)
        return chosen if extra is None else [extra, *chosen[:-1]] if len(chosen) > 1 else [extra]
    return holding + [c for c in chosen if c not in holding]


_CITE = re.compile(r"\s?\{cite:([^}]+)\}")


def resolve_placeholders(text: str, chunks_by_id: dict[str, Chunk]) -> tuple[str, list[Citation]]:
    """Turn {cite:chunk_id} placeholders into [n] markers numbered by first use, with their citations."""
    markers: dict[str, int] = {}
    citations: list[Citation] = []

    def sub(m: re.Match) -> str:
        cid = m.group(1)
        if cid not in markers:
            markers[cid] = len(markers) + 1
            chunk = chunks_by_id[cid]
            citations.append(make_citation(markers[cid], Hit(chunk, 1.0), chunk.title))
        return f" [{markers[cid]}]"

    return _CITE.sub(sub, text), citations


def make_citation(marker: int, hit: Hit, sentence: str) -> Citation:
    """A citation of a hit, carrying the sentence it supports."""
    ch = hit.chunk
    return Citation(marker, ch.id, ch.kind, ch.title, ch.text, ch.metadata.get("url"), sentence, dict(ch.metadata))


def supported(question: str, hits: list[Hit], idf, vocabulary: set[str], top_dense: float,
              min_support: float) -> tuple[bool, str]:
    """Whether the retrieved passages can answer: enough of the question's weighted terms appear in them."""
    q_tokens = list(dict.fromkeys(content_tokens(question)))
    if not q_tokens:
        return (top_dense >= SUPPORT.no_words_cosine, "the question has no searchable words")
    text_tokens: set[str] = set()
    for h in hits[:SUPPORT.passages]:
        text_tokens |= set(content_tokens(h.chunk.search_text))
    coverage = weighted_coverage(q_tokens, text_tokens, idf)
    numbers_missing = [n for n in numbers_in(question) if n not in vocabulary]
    if coverage < min_support:
        return False, f"only {coverage:.0%} of the question's key terms appear in the best passages"
    if numbers_missing and coverage < SUPPORT.numbers_coverage:
        return False, f"the documents never mention {', '.join(numbers_missing[:3])}"
    return True, ""
