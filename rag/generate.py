"""LLM mode: prompt the model with numbered sources, stream its answer, check every citation, fall back if needed."""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from . import claims, llm
from .answer import REFUSAL_TEXT, make_citation
from .budget import best_sentences, brief_source
from .intents import asks_about_people
from .heuristics import BUDGET
from .config import Settings
from .followup import rewrite as rewrite_offline
from .grounding import best_sentence, check_answer, split_claims
from .prompts import format_history, format_source, load_prompts
from .text import content_tokens, fold, stem
from .types import Answer, Hit

log = logging.getLogger(__name__)
GENERIC_IDF = math.log(1 + 0.97 / 0.03)  # a word in more than ~3% of chunks is a common word, not a name


class CorpusWords:
    """Predicate: is this content token so common in the corpus that it cannot identify anything? It also tells
    the citation check what else the corpus knows of a word (see `rag.claims`): whether the corpus uses it in
    lower case (an ordinary word, not a name) and whether it is common enough to pass unchecked as a name."""

    def __init__(self, idf: Callable[[str], float], lowercase: frozenset[str] | None = None,
                 vocabulary: set[str] | None = None) -> None:
        self.idf, self.lowercase, self.vocabulary = idf, lowercase, vocabulary

    def __call__(self, token: str) -> bool:
        return self.idf(token) < GENERIC_IDF

    def common_name(self, token: str) -> bool:
        """Whether a capitalised name (GPU, NVIDIA) is common enough in the corpus to need no support."""
        return self.idf(token) < claims.COMMON_NAME_IDF

    def ordinary(self, word: str) -> bool | None:
        """Whether the corpus uses the word in lower case (None when that is not known)."""
        return None if self.lowercase is None else stem(fold(word)) in self.lowercase

    def capitalised_only(self, word: str) -> bool | None:
        """Whether the corpus has the word but only ever capitalised, as a name (Kitty, Privatar); None if unknown."""
        if self.lowercase is None or self.vocabulary is None:
            return None
        token = stem(fold(word))
        return token in self.vocabulary and token not in self.lowercase


def generic_checker(idf: Callable[[str], float], lowercase: frozenset[str] | None = None,
                    vocabulary: set[str] | None = None) -> CorpusWords:
    """Predicate: is this content token so common in the corpus that it cannot identify anything?"""
    return CorpusWords(idf, lowercase, vocabulary)


def collection_phrase(settings: Settings | None = None) -> str:
    """What the system prompt says the questions are about: the corpus folder's collection.toml `subject`."""
    from .collection import collection_for

    return collection_for((settings or Settings()).corpus_dir).subject


def instructions_text(settings: Settings | None = None) -> str:
    """The answering prompt's own wording (no sources, no question), to recognise a model that parrots it."""
    prompts = load_prompts()
    return (prompts.render("system", refusal="", collection=collection_phrase(settings)) + "\n"
            + prompts.render("answer", sources="", question="", refusal=""))


_SOURCE_TAG = re.compile(r"<(/?\s*source\b)", re.I)


def fenced_source(n: int, hit: Hit, text: str | None = None) -> str:
    """One numbered source inside <source id="n"> ... </source>; a tag inside its text cannot close the fence."""
    return fence(n, text if text is not None else format_source(n, hit))


def fence(n: int, body: str) -> str:
    """Text inside <source id="n"> ... </source>, with any source tag in it defused."""
    body = _SOURCE_TAG.sub(r"‹\1", body)
    return f'<source id="{n}">\n{body}\n</source>'


def messages_for(question: str, hits: list[Hit], briefs: list[str] | None = None,
                 settings: Settings | None = None) -> tuple[list[dict], str]:
    """Chat messages for answering `question` from `hits` (as `briefs`, when given), and the prompt hash."""
    prompts = load_prompts()
    sources = "\n\n".join(fenced_source(i + 1, h, briefs[i] if briefs else None) for i, h in enumerate(hits))
    system = prompts.render("system", refusal=REFUSAL_TEXT, collection=collection_phrase(settings))
    return ([{"role": "system", "content": system},
             {"role": "user", "content": prompts.render("answer", sources=sources, question=question,
                                                         refusal=REFUSAL_TEXT)}],
            prompts.hash)


def rewrite_with_llm(question: str, history: list[tuple[str, str]], settings: Settings) -> tuple[str, str | None]:
    """A standalone follow-up written by the LLM; the offline rewrite (and a note) when its reply is unusable."""
    prompts = load_prompts()
    msg = prompts.render("rewrite", history=format_history(history), question=question)
    try:
        reply = llm.complete([{"role": "user", "content": msg}], settings, max_tokens=80)
    except llm.LLMError as e:
        return rewrite_offline(question, history), f"Follow-up rewritten offline: {e}."
    line = reply.strip().splitlines()[0].strip() if reply.strip() else ""
    line = re.sub(r"^(?:rewritten question|question)\s*:\s*", "", line, flags=re.I).strip(" \"'“”")
    context = set(content_tokens(question + " " + " ".join(q + " " + a for q, a in history[-3:])))
    if not line or len(line) > 300 or not set(content_tokens(line)) & context:
        return rewrite_offline(question, history), "Follow-up rewritten offline: the LLM's rewrite was unusable."
    # A rewrite must carry something over from the earlier questions (the 1.5B local model turned "and who wrote
    # it?" after a refusal into "Who wrote the documents?"): else the offline rewrite keeps the subject.
    prior = set(content_tokens(" ".join(q for q, _ in history[-3:]))) - set(content_tokens(question))
    if prior and not set(content_tokens(line)) & prior:
        return rewrite_offline(question, history), "Follow-up rewritten offline: the LLM's rewrite lost the subject."
    return line, None


def briefs_for(question: str, qvec: np.ndarray, hits: list[Hit], sentences_of: Callable[[Hit], list[str]],
               vectors_of: Callable[[Hit], np.ndarray], idf: Callable[[str], float]) -> list[str]:
    """Each hit as the prompt shows it: title (authors for people questions) and its best sentences."""
    sents = [sentences_of(h) for h in hits]
    picked = best_sentences(question, qvec, hits, sents, [vectors_of(h) for h in hits], idf)
    people = asks_about_people(question)
    return [brief_source(i + 1, h, p, people) for i, (h, p) in enumerate(zip(hits, picked))]


def strategy(settings: Settings) -> str:
    """How the LLM takes part: "write" the answer, or "decide" whether the sources answer (auto: by model size)."""
    if settings.llm.llm_strategy != "auto":
        return settings.llm.llm_strategy
    return "decide" if llm.uses_local_model(settings) else "write"


class PassageReader(Protocol):
    """What the LLM path reads of the loaded index: a hit's sentences and their vectors."""

    def sentences_of(self, hit: Hit) -> list[str]: ...

    def sentence_vectors_of(self, hit: Hit) -> np.ndarray: ...


def llm_answer(question: str, hits: list[Hit], reader: PassageReader, words: CorpusWords, settings: Settings,
               fallback: Callable[[str, list[str]], Answer], base: dict,
               qvec: np.ndarray | None = None, draft: Answer | None = None) -> Iterator[str | Answer]:
    """Stream the LLM's answer, then yield the checked Answer (or the extractive fallback with a note).

    `base` holds the Answer fields the caller fixes (question, contexts, timings ...); it is not modified. With the
    question vector, the prompt holds the top passages' best sentences only, not whole chunks. With the "decide"
    strategy and a `draft` (the extractive answer), the model judges the draft's cited sentences only.
    """
    base = dict(base)
    if strategy(settings) == "decide" and draft is not None:
        yield from _decide(question, [], draft_sources(draft), settings, fallback, base, load_prompts().hash)
        return
    briefs = None
    if qvec is not None:
        hits = hits[:BUDGET.sources]
        briefs = briefs_for(question, qvec, hits, reader.sentences_of, reader.sentence_vectors_of, words.idf)
    messages, prompt_hash = messages_for(question, hits, briefs, settings)
    if strategy(settings) == "decide":
        yield from _decide(question, hits, briefs, settings, fallback, base, prompt_hash)
        return
    pieces: list[str] = []
    try:
        for piece in llm.stream(messages, settings):
            pieces.append(piece)
            yield piece
    except llm.LLMError as e:
        log.warning("LLM answer failed: %s", e)
        partial = "".join(pieces).strip()
        yield fallback(f"The LLM failed ({e}); this is the offline extractive answer instead.",
                       [f"{partial} (the LLM stopped before finishing)"] if partial else [])
        return
    raw = "".join(pieces)
    sources = [format_source(i + 1, h) for i, h in enumerate(hits)]
    checked = check_answer(raw, sources, question, words, settings.answer.min_claim_overlap,
                           instructions_text(settings))
    notes = list(base.pop("notes", []))
    if checked.refused:
        notes.append("The LLM found no answer in the sources.")
        yield Answer(text=REFUSAL_TEXT, citations=[], refused=True, notes=notes, prompt_hash=prompt_hash, **base)
        return
    if not checked.cited or checked.failed * 2 > checked.claims:
        why = ("its answer cited no source that supports it" if not checked.cited else
               f"{checked.failed} of its {checked.claims} sentences were not supported by the sources they cite")
        yield fallback(f"The LLM's answer was not used: {why}. This is the offline extractive answer instead.",
                       checked.unsupported or [raw.strip()])
        return
    citations = []
    for marker, src in enumerate(checked.cited, start=1):
        hit = hits[src - 1]
        citations.append(make_citation(marker, hit, best_sentence(checked.support[src], reader.sentences_of(hit))))
    if checked.unsupported:
        notes.append(f"Removed {len(checked.unsupported)} sentence(s) the cited sources do not support.")
    if checked.dropped_markers:
        notes.append(f"Removed citation(s) to sources that do not exist: {sorted(set(checked.dropped_markers))}.")
    if checked.repaired:
        notes.append(f"Added the supporting source to {checked.repaired} uncited sentence(s).")
    yield Answer(text=checked.text, citations=citations, refused=False, notes=notes, unsupported=checked.unsupported,
                 prompt_hash=prompt_hash, **base)


def draft_sources(draft: Answer) -> list[str]:
    """The extractive draft as the deciding model sees it: each cited passage's title and the draft's sentences
    that cite it, fenced. About a fifth of the best-sentence briefs' tokens: prompt time dominates on 2 cores."""
    said: dict[int, list[str]] = {}
    for sentence, markers in split_claims(draft.text):
        for m in markers:
            said.setdefault(m, []).append(sentence)
    return [fence(c.marker, f"[{c.marker}] {c.title}\n" + " ".join(said.get(c.marker, [c.sentence])))
            for c in draft.citations]


def _decide(question: str, hits: list[Hit], briefs: list[str] | None, settings: Settings,
            fallback: Callable[[str, list[str]], Answer], base: dict, prompt_hash: str) -> Iterator[str | Answer]:
    """The LLM only says whether the sources answer (yes/no); a yes is answered by the extractive composer.

    Without hits, `briefs` are already fenced sources (see `draft_sources`)."""
    base = dict(base)
    sources = "\n\n".join(fenced_source(i + 1, h, briefs[i] if briefs else None) for i, h in enumerate(hits)) \
        if hits else "\n\n".join(briefs or [])
    msg = load_prompts().render("decide", sources=sources, question=question)
    try:
        reply = llm.complete([{"role": "user", "content": msg}], settings, max_tokens=3)
    except llm.LLMError as e:
        log.warning("LLM decision failed: %s", e)
        yield fallback(f"The LLM failed ({e}); this is the offline extractive answer instead.", [])
        return
    word = reply.strip().lower().lstrip("*\"' ")
    if word.startswith("no"):
        notes = list(base.pop("notes", [])) + ["The LLM judged that the sources do not answer the question."]
        answer = Answer(text=REFUSAL_TEXT, citations=[], refused=True, notes=notes, prompt_hash=prompt_hash, **base)
    elif word.startswith("yes"):
        answer = fallback("The LLM judged that the sources answer the question; the answer quotes them.", [])
        answer.mode, answer.prompt_hash = "llm", prompt_hash
    else:
        answer = fallback("The LLM's answer was not used: it replied neither yes nor no. "
                          "This is the offline extractive answer instead.", [reply.strip()[:200]])
    yield answer.text
    yield answer
