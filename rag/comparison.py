"""Answers that span several posters: a comparison of the systems a question names, and an overview of the posters
on a topic. Pure, like `rag.extractive`, which calls them."""
from __future__ import annotations

import re

import numpy as np

from . import answerable as ans
from .answer import Candidate, slot_first, select
from .heuristics import WEIGHTS
from .intents import Asked, asking, holds_slot
from .multipart import cover_parts
from .passage import Composed, Passage, Subject, candidates, compose_chosen, refusal
from .text import content_tokens, fold

# "How do X and Y compare in savings?": each side's figure is wanted even though no number is asked for in form.
QUANTITY = re.compile(r"\b(?:savings?|speed ?ups?|gains?|reductions?|improvements?|faster|slower|overhead|by how much|"
                      r"how much|throughput|latency|claim\w*|report\w*)\b", re.I)


def compare(question: str, qvec: np.ndarray, passages: list[Passage], subjects: list[Subject], ask: Asked,
             idf) -> Composed:
    """Each named system's own best sentences, cited; a side without the asked detail is said to lack it."""
    names = [n for s in subjects for n in s.names]
    focus = ans.focus_terms(question, names, ask)
    pick = ask if ask.slot or not QUANTITY.search(question) else Asked("number")
    quantity = [t for m in QUANTITY.finditer(question) for t in content_tokens(m.group(0)) if t in focus]
    chosen: list[Candidate] = []
    lacking: list[str] = []
    lead: dict[int, str] = {}
    question_words = asking(question)  # the asking sentence scores each side's sentences
    known = ans.given(question, names, ask)
    for s in subjects:
        allowed = {i for i, p in enumerate(passages) if s.key in p.about and _only_about(p, s, subjects)}
        cands = candidates(question_words, qvec, passages, idf, allowed, {s.key})
        # The side is named, so its sentences are on topic: holding the asked type is enough.
        good = [c for c in cands if holds_slot(ans.blank(c.sentence, known), ask)] if ask.slot else cands
        if not good:  # say that this side lacks it, then what its own passages do say (cited)
            lacking.append(s.name)
            said = select([c for c in cands if passages[c.hit_rank].owner == s.key] or cands, 1)
            if said:
                lead[len(chosen)] = f"The documents don't report this for {s.name}; they say:"
                chosen += said
            continue
        if not _ASKS_PROBLEM.search(question):  # what a system does, not the prior work's problem it starts from
            cands = [c for c in cands if not states_problem(c.sentence)] or cands
            good = [c for c in good if not states_problem(c.sentence)] or good
        side = slot_first(select(good, WEIGHTS.compare_per_side), good, pick, known)
        # the side's lead sentence holds the asked type and, in its own words, the asked quantity, then most of
        # what is asked ("which claims the bigger throughput gain": its throughput figure, not its accuracy figure)
        def lead_key(c: Candidate) -> tuple:
            own = set(content_tokens(c.sentence))
            return (holds_slot(ans.blank(c.sentence, known), pick), ans.coverage(quantity, own, idf) if quantity else 0,
                    pick.slot == "number" and reports_result(c.sentence), ans.coverage(focus, own, idf), c.score)

        lead_sentence = max(good, key=lead_key)
        mine = [lead_sentence, *[c for c in side if c != lead_sentence]][:max(len(side), 1)]
        if ask.multipart:  # "what hardware does each target, and what speedup does each report?"
            mine = cover_parts(question, mine, cands, passages, names, idf, WEIGHTS.compare_per_side + 1)
        chosen += mine
    if len(lacking) == len(subjects):
        missing = f"The documents don't say {ans.focus_phrase(question, focus) or 'this'} for " \
                  f"{ans._join([s.name for s in subjects])}."
        return refusal(missing, chosen, passages)
    text, citations, used = compose_chosen(chosen, passages, label=True, lead=lead)
    text += "".join(f" The documents don't report this for {name}." for name in lacking
                    if f"report this for {name};" not in text)
    return Composed(text, citations, False, used=used)


# A figure the system achieves ("reduces … by 22%"), not one that states the problem ("while effective, chunked
# prefill … increases memory traffic by up to 39%"). As the side's lead when a figure is asked: dev compare coverage
# 0.688 -> 0.750, key-fact recall 0.853 -> 0.858 (620 gold questions).
_RESULT = re.compile(r"\b(?:reduc|improv|achiev|outperform|deliver|speeds? up|sav|lower|cut|accelerat|boost|yield|"
                     r"attain|enabl)\w*", re.I)
_PROBLEM = re.compile(r"^\W*(?:while|however|although|though|but|existing|current|prior|traditional|unfortunately)\b"
                      r"|\b(?:incur\w*|suffer\w*|bottleneck\w*|inflat\w*)\b", re.I)
# "… to address bottleneck (1)": a sentence naming the problem in order to say how it is solved
_SOLVES = re.compile(r"\b(?:address|tackl|solv|overcom|mitigat|allevia|eliminat|avoid)\w*", re.I)
# A question about the problem itself wants those sentences. Dev: on the 8 compare answers that changed, each side's
# problem sentence ("However, these indices require storing …") gave way to what the system does; no metric moved.
_ASKS_PROBLEM = re.compile(r"\b(?:problems?|challenges?|motivat\w*|limitations?|bottlenecks?|issues?|gaps?|"
                           r"shortcomings?|why)\b", re.I)


def states_problem(sentence: str) -> bool:
    """Whether a sentence states the problem a system starts from ("However, existing …") and not its answer."""
    return bool(_PROBLEM.search(sentence)) and not _SOLVES.search(sentence)


def reports_result(sentence: str) -> bool:
    """Whether a sentence reports what a system achieves rather than the problem it starts from."""
    return bool(_RESULT.search(sentence)) and not _PROBLEM.search(sentence)


def _only_about(p: Passage, s: Subject, subjects: list[Subject]) -> bool:
    """A passage speaks for one side when it is that side's own, or names no other compared system."""
    return p.owner == s.key or not any(o.key in p.about for o in subjects if o.key != s.key)


_DOES = re.compile(r"\b(?:we (?:present|propose|introduce|design|build|develop)|this (?:paper|work) (?:presents|proposes|"
                   r"introduces))\b", re.I)


def _says_what_it_does(sentence: str, p: Passage) -> bool:
    """A sentence that names its poster's system or says "we present/propose …"."""
    name = p.hit.chunk.metadata.get("name") or ""
    return bool(_DOES.search(sentence) or (name and fold(name) in fold(sentence)))


def overview(question: str, qvec: np.ndarray, passages: list[Passage], idf) -> Composed | None:
    """One cited line per relevant poster, most relevant first; None when fewer than two posters fit.

    A poster's relevance is its best sentence's score; its line is the sentence that says what it does (names
    its system or "we present …") when one scores within reach, else its best sentence."""
    owned = {i for i, p in enumerate(passages) if p.owner}
    best: dict[str, Candidate] = {}
    line: dict[str, Candidate] = {}
    for c in candidates(question, qvec, passages, idf, owned, set()):
        key = passages[c.hit_rank].owner
        best.setdefault(key, c)
        if key not in line and _says_what_it_does(c.sentence, passages[c.hit_rank]):
            line[key] = c
    ranked = sorted((k for k in best if best[k].score >= WEIGHTS.overview_min_score), key=lambda k: -best[k].score)
    chosen = [line.get(k, best[k]) for k in ranked[:WEIGHTS.overview_items]]
    if len(chosen) < 2:
        return None
    text, citations, used = compose_chosen(chosen, passages, label=True)
    return Composed(text, citations, False, used=used)
