"""LLM mode: prompt the model with numbered sources, stream its answer, check every citation, fall back if needed."""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator

from . import claims, llm
from .answer import REFUSAL_TEXT, make_citation
from .config import Settings
from .followup import rewrite as rewrite_offline
from .grounding import best_sentence, check_answer
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


def instructions_text() -> str:
    """The answering prompt's own wording (no sources, no question), to recognise a model that parrots it."""
    prompts = load_prompts()
    return (prompts.render("system", refusal="") + "\n"
            + prompts.render("answer", sources="", question="", refusal=""))


_SOURCE_TAG = re.compile(r"<(/?\s*source\b)", re.I)


def fenced_source(n: int, hit: Hit) -> str:
    """One numbered source inside <source id="n"> ... </source>; a tag inside its text cannot close the fence."""
    body = _SOURCE_TAG.sub(r"‹\1", format_source(n, hit))
    return f'<source id="{n}">\n{body}\n</source>'


def messages_for(question: str, hits: list[Hit]) -> tuple[list[dict], str]:
    """Chat messages for answering `question` from `hits`, and the prompt hash."""
    prompts = load_prompts()
    sources = "\n\n".join(fenced_source(i + 1, h) for i, h in enumerate(hits))
    return ([{"role": "system", "content": prompts.render("system", refusal=REFUSAL_TEXT)},
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
    return line, None


def llm_answer(question: str, hits: list[Hit], sentences_of: Callable[[Hit], list[str]],
               idf: Callable[[str], float], settings: Settings, fallback: Callable[[str, list[str]], Answer],
               base: dict, lowercase: frozenset[str] | None = None,
               vocabulary: set[str] | None = None) -> Iterator[str | Answer]:
    """Stream the LLM's answer, then yield the checked Answer (or the extractive fallback with a note)."""
    messages, prompt_hash = messages_for(question, hits)
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
    checked = check_answer(raw, sources, question, generic_checker(idf, lowercase, vocabulary),
                           settings.min_claim_overlap,
                           instructions_text())
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
        citations.append(make_citation(marker, hit, best_sentence(checked.support[src], sentences_of(hit))))
    if checked.unsupported:
        notes.append(f"Removed {len(checked.unsupported)} sentence(s) the cited sources do not support.")
    if checked.dropped_markers:
        notes.append(f"Removed citation(s) to sources that do not exist: {sorted(set(checked.dropped_markers))}.")
    if checked.repaired:
        notes.append(f"Added the supporting source to {checked.repaired} uncited sentence(s).")
    yield Answer(text=checked.text, citations=citations, refused=False, notes=notes, unsupported=checked.unsupported,
                 prompt_hash=prompt_hash, **base)
