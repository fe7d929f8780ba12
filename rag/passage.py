"""Passages an extractive answer is drawn from, and the pieces every answer shape shares.

A `Passage` is a retrieved (or subject) chunk with its candidate sentences, their vectors and the subjects it is
about. Pure: scoring and filtering its sentences, composing chosen ones with citations, and a refusal that says
what is missing and then what the documents do say.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .answer import Candidate, compose, score_sentences, select
from .heuristics import WEIGHTS
from .intents import asks_about_people
from .text import content_tokens, looks_like_instruction
from .types import Citation, Hit

REFUSAL_CONTEXT = "What they do say:"  # joins a refusal's missing detail to the cited sentences about the subject
# Sentences that lean on an earlier one for their subject; only used from a passage about the asked system.
_PRONOUN_START = re.compile(r"^(?:it|its|this|these|they|their|such|we|our|the (?:system|approach|framework|method))\b",
                            re.I)
# ... but "we"/"our" is always the passage's own author: with no system asked about, a tweet's "We introduce …" stands.
_FIRST_PERSON = re.compile(r"^(?:we|our)\b", re.I)


@dataclass(frozen=True)
class Subject:
    """A system the question names: its key (a poster id, or a passage id), display name and all its names."""

    key: str
    name: str
    names: tuple[str, ...]


@dataclass
class Passage:
    """A retrieved (or subject) chunk, its candidate sentences and vectors, and which subjects it is about."""

    hit: Hit
    sentences: list[str]
    vectors: np.ndarray
    about: frozenset[str] = frozenset()  # subject keys it names or belongs to
    owner: str | None = None  # the subject key whose own passage (poster or notes entry) this is
    context_tokens: frozenset[str] | None = field(default=None, repr=False)  # cached by title_tokens
    short_forms: dict[str, frozenset[str]] | None = field(default=None, repr=False)  # cached by sentence_context


@dataclass
class Composed:
    """A composed answer before it becomes an `Answer`."""

    text: str
    citations: list[Citation]
    refused: bool
    note: str = ""
    used: list[Hit] = field(default_factory=list)


def candidates(question: str, qvec: np.ndarray, passages: list[Passage], idf, allowed: set[int],
                subject_keys: set[str]) -> list[Candidate]:
    """Scored sentences of the allowed passages (hit_rank = index into passages), without sentences that cannot
    stand alone outside their own system's passage, bare titles, questions or injected instructions."""
    idx = sorted(allowed)
    cands = score_sentences(question, qvec, [passages[i].hit for i in idx], [passages[i].sentences for i in idx],
                            [passages[i].vectors for i in idx], idf)
    out = []
    who = asks_about_people(question)
    for c in cands:
        p = passages[idx[c.hit_rank]]
        if looks_like_instruction(c.sentence) or bare_title(c.sentence, p.hit, who) or not has_words(c.sentence):
            continue
        if _PRONOUN_START.match(c.sentence) and not (p.owner and (p.owner in subject_keys or not subject_keys)) \
                and not (not subject_keys and _FIRST_PERSON.match(c.sentence)):
            continue
        out.append(Candidate(idx[c.hit_rank], c.sentence, c.score, c.lexical, c.dense))
    return out


def has_words(sentence: str) -> bool:
    """Whether anything but reference numbers is left of a sentence ("[12][41]" alone is not an answer)."""
    return bool(content_tokens(re.sub(r"\[\d{1,3}\]", " ", sentence)))


# "Profinfer: An eBPF-based … Profiler (Huawei + TUM)": a notes title's closing parenthesis says who, which the
# title line then states as a fact; the rest of the line is the bare title.
_TRAILING_ASIDE = re.compile(r"\s*\([^()]*\)\s*$")


def bare_title(sentence: str, hit: Hit, who: bool = False) -> bool:
    """Whether a sentence only repeats its passage's title (or name); for a question about people (`who`), a title's
    closing aside ("(Huawei + TUM)") is an answer."""
    words = set(content_tokens(sentence))
    title = _TRAILING_ASIDE.sub("", hit.chunk.title) if who else hit.chunk.title
    return bool(words) and words <= set(content_tokens(title)) | set(content_tokens(hit.chunk.metadata.get("name") or ""))


def title_tokens(p: Passage) -> frozenset[str]:
    """Words every sentence of a passage stands under: its title, names and institutions; in a short passage (a
    tweet, a notes bullet) every sentence also stands under the others ("Code: https://…" is about the tweet)."""
    if p.context_tokens is None:  # asked once per candidate sentence: worked out once per passage
        meta = p.hit.chunk.metadata
        names = [meta.get("name") or "", *meta.get("aliases", []), *meta.get("institutions", [])]
        context = p.sentences if len(p.sentences) <= WEIGHTS.short_passage else []
        p.context_tokens = frozenset(content_tokens(" ".join([p.hit.chunk.title, *names, *context])))
    return p.context_tokens


# "the Cosmos-Reason-1 (CR1) VLM", "time-to-first-token (TTFT)": a name, then the short form the passage uses for it.
_DEFINED = re.compile(r"((?:[\w-]+\s+){0,3}[\w-]+)\s+\(([A-Z][A-Za-z0-9]{1,7})\)")


def short_forms(text: str) -> dict[str, frozenset[str]]:
    """The short forms a text defines, each with the words of its long form (as many words before it as the
    short form has capitals and digits, up to four)."""
    out: dict[str, frozenset[str]] = {}
    for m in _DEFINED.finditer(text):
        short = m.group(2)
        n = max(1, min(4, sum(ch.isupper() or ch.isdigit() for ch in short)))
        out.setdefault(short, frozenset(content_tokens(" ".join(m.group(1).split()[-n:]))))
    return out


def sentence_context(p: Passage, sentence: str) -> frozenset[str]:
    """Words a sentence stands under: its passage's (`title_tokens`), and the long form of each short form of the
    passage's that it uses ("CR1 inference's VRAM demand" is about Cosmos-Reason-1)."""
    if p.short_forms is None:
        p.short_forms = short_forms(p.hit.chunk.text)
    used = [words for short, words in p.short_forms.items()
            if short in sentence and re.search(rf"\b{re.escape(short)}\b", sentence)]
    return title_tokens(p).union(*used) if used else title_tokens(p)


def compose_chosen(chosen: list[Candidate], passages: list[Passage], label: bool,
             lead: dict[int, str] | None = None) -> tuple[str, list[Citation], list[Hit]]:
    hits = [p.hit for p in passages]
    text, citations = compose(chosen, hits, label=label, lead=lead)
    used = [hits[i] for i in dict.fromkeys(c.hit_rank for c in chosen)]
    return text, citations, used


def refusal(missing: str, context: list[Candidate], passages: list[Passage]) -> Composed:
    """A refusal: what is missing, then (for a named subject) what the documents do say about it, cited."""
    chosen = select(context, WEIGHTS.refusal_context, per_chunk=WEIGHTS.refusal_context)
    if not chosen:
        return Composed(missing, [], True, f"Refused: {missing}")
    text, citations, used = compose_chosen(chosen, passages, label=False)
    return Composed(f"{missing} {REFUSAL_CONTEXT} {text}", citations, True, f"Refused: {missing}", used)
