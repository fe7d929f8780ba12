"""The offline extractive composer: decide whether the passages answer, then pick and cite the answering sentences.

Pure: passages (hits with their sentences, sentence vectors and the subjects they are about) in, composed text out.
Four shapes of answer: a refusal that says what is missing (and what the documents do say about the subject),
a one-subject answer drawn only from that subject's passages (each part of a multi-part question answered), a
comparison with each named system's own cited sentences, and an overview with one cited line per relevant poster
(the last two in `rag.comparison`).
"""
from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from . import answerable as ans, intents
from .answer import REFUSAL_TEXT, Candidate, select, slot_first
from .corpustext import CorpusText, initialisms
from .comparison import compare, overview
from .disagree import disagreement
from .heuristics import WEIGHTS
from .multipart import cover_parts
from .intents import Asked, asked, named_kinds
from .passage import REFUSAL_CONTEXT, Composed, Passage, Subject, candidates, compose_chosen, refusal, sentence_context
from .text import fold, looks_like_instruction, numbers_in

__all__ = ["REFUSAL_CONTEXT", "Composed", "Passage", "Subject", "compose_answer"]

_YEAR = re.compile(r"(?:19|20)\d\d")
_SOURCE_SCOPE = re.compile(r"\baccording to\b", re.I)  # names the source every part of the question is asked of


def _slot_answering(cands: list[Candidate], passages: list[Passage], focus: list[str], ask: Asked, idf,
                    known: list[str]) -> list[Candidate]:
    return [c for c in cands
            if ans.slot_answering(c.sentence, sentence_context(passages[c.hit_rank], c.sentence), c.dense, focus, ask,
                                  idf, known)]


def _other_side(question: str, passages: list[Passage], about: set[int], absent: list[str], names: list[str],
                corpus: CorpusText) -> tuple[Subject, list[Passage]] | None:
    """For a comparison that names one known system: the first other passage that holds a name the subject's
    passages lack, as the second side (and the passages with that passage about it)."""
    for i, p in enumerate(passages):
        if i in about:
            continue
        written = [_written(p)]
        held = set(absent) - set(ans.absent_names(question, fold(written[0]), names, corpus.df,
                                                  initials=lambda: initialisms(written)))
        if held:
            name = next(n for n in absent if n in held)
            key = f"side:{p.hit.chunk.id}"
            other = Subject(key, p.hit.chunk.metadata.get("name") or name, (name,))
            return other, [replace(q, about=q.about | {key}) if j == i else q for j, q in enumerate(passages)]
    return None


def _written(p: Passage) -> str:
    """A passage's title, text and institutions: what it says, for whether it mentions a name."""
    return " ".join([p.hit.chunk.title, p.hit.chunk.text, *(p.hit.chunk.metadata.get("institutions") or [])])


def _covered(cands: list[Candidate], passages: list[Passage], focus: list[str], idf, parts: int = 1) -> bool:
    return ans.covered([(c.sentence, sentence_context(passages[c.hit_rank], c.sentence), c.dense) for c in cands],
                       focus, idf, parts=parts)


def compose_answer(question: str, qvec: np.ndarray, passages: list[Passage], subjects: list[Subject], idf,
                   corpus: CorpusText, max_sentences: int = WEIGHTS.max_sentences) -> Composed:
    """The extractive answer: refusal, one-subject answer, comparison or overview, as the question calls for."""
    if looks_like_instruction(question):  # never echo an instruction back, not even as "what is missing"
        return Composed(REFUSAL_TEXT, [], True, "Refused: the question is an instruction, not a question.")
    ask = asked(question)
    names = [n for s in subjects for n in s.names]
    unknown = ans.unknown_names(question, corpus.folded, names, lambda: corpus.initialisms)
    if unknown:
        return Composed(ans.missing_sentence(question, ask, None, [], unknown=unknown), [], True,
                        "Refused: the question names something no document mentions.")
    unseen = ans.unseen_asked(question, corpus.vocabulary)
    if unseen and not subjects:
        missing = f"The documents don't mention {ans._join(unseen)}."
        return Composed(missing, [], True, f"Refused: {missing}")
    if len(subjects) >= 2:
        return compare(question, qvec, passages, subjects, ask, idf)
    if not subjects and ask.overview and not ask.identify:
        listed = overview(question, qvec, passages, idf)
        if listed is not None:
            return listed
    subject = subjects[0] if subjects else None
    keys = {subject.key} if subject else set()
    about = {i for i, p in enumerate(passages) if not subject or subject.key in p.about}
    kinds = named_kinds(question)
    allowed = {i for i in about if passages[i].hit.chunk.kind in kinds} or about
    focus = ans.focus_terms(question, names, ask)
    absent = []
    years = [y for y in ans.figures(question) if _YEAR.fullmatch(y)]
    # the subject's institutions count too: "the Leiden work on …" names where it comes from (its authors' names
    # do not: "what other papers has X, its author, published" asks about the person, which no passage covers)
    written = [_written(passages[i]) for i in allowed] if subject or years else []
    if subject:  # without a subject, a name missing from the passages is a retrieval miss, not an absent detail
        # a name held by any of the subject's passages is there, whichever kind of document the question scopes
        # to ("The notes say X fused A + B. Per its abstract, how …?": A and B are in the notes)
        owned = written + [_written(passages[i]) for i in sorted(about - allowed)]
        # "NTUA" for National Technical University of Athens
        absent = ans.absent_names(question, fold(" ".join(owned)), names, corpus.df,
                                  initials=lambda: initialisms(owned))
        side = _other_side(question, passages, about, absent, names, corpus) if ask.compare and absent else None
        if side is not None:  # "X and the LBNL study both …": the passage that names LBNL is the other side
            other, passages = side
            return compare(question, qvec, passages, [subject, other], ask, idf)
    else:  # a year the question is about, in none of the passages: "Which city hosted MLSys 2025?"
        years = sorted(y for y in years if y not in numbers_in(fold(" ".join(written)))) if years else []
        if years:
            missing = f"The documents don't mention {ans._join(years)}."
            return Composed(missing, [], True, f"Refused: {missing}")
        # words the documents never use at all: "Which convention center hosted …?"
        unseen = [t for t in focus if t not in corpus.vocabulary and len(t) >= ans.THRESHOLDS.unseen_min_chars and not t[0].isdigit()]
        if unseen and ans.coverage(focus, set(unseen), idf) >= ans.THRESHOLDS.unseen_share:
            phrase = ans.focus_phrase(question, unseen) or "what this question asks about"
            missing = f"The documents don't mention {phrase}."
            return Composed(missing, [], True, f"Refused: {missing}")
    # sentences are scored by the words of the sentence that asks: a set-up statement ("The notes put X with the
    # posters going below FP8.") names the subject, and its words would favour sentences that only repeat it
    cands = candidates(intents.asking(question), qvec, passages, idf, allowed, keys)
    known = ans.given(question, names, ask)
    typed = _slot_answering(cands, passages, focus, ask, idf, known) if ask.slot else cands
    # A typed detail must be there; an open question about a named subject ("how does X work?") is answered from
    # the subject's passages; one about no named subject must have its focus covered. A multi-part question is
    # refused only when no part of it is answered ("What hardware …, and how far …?").
    if ask.multipart:  # the whole question's words, over twice the sentences, or any one part
        unanswered = (not cands or (not subject or ask.slot) and not _covered(cands, passages, focus, idf, 2)) and \
            not any(_part_answered(p, cands, passages, names, idf, subject is not None) for p in intents.parts(question))
    else:
        unanswered = not typed or not cands or (
            (not subject or ask.slot) and not _covered(cands, passages, focus, idf))
    if absent or unanswered:
        missing = ans.missing_sentence(question, ask, subject.name if subject else None, focus, absent=absent)
        own = [c for c in cands if passages[c.hit_rank].owner == subject.key] if subject else []
        return refusal(missing, own or (cands if subject else []), passages)
    limit = max_sentences + int(ask.multipart)
    chosen = slot_first(select(cands, limit), typed or cands, ask, known)
    if ask.multipart:
        # a part that names no kind of document draws on all the subject's passages ("The notes say …; which
        # poster is X, and how far does it cut Y?": Y is in the poster), unless the question scopes every part
        # ("According to the notes, what …, and how …?")
        scoped = allowed == about or _SOURCE_SCOPE.search(question)
        wider = cands if scoped else candidates(question, qvec, passages, idf, about, keys)
        chosen = cover_parts(question, chosen, cands, passages, names, idf, limit, wider)
    text, citations, used = compose_chosen(chosen, passages, label=subject is None)
    differ = disagreement([(c.sentence, passages[c.hit_rank].hit.chunk.id) for c in chosen],
                          {c.chunk_id: c.marker for c in citations})
    text = f"{text} {differ}" if differ else text
    if not citations:
        return Composed(REFUSAL_TEXT, [], True, "Refused: no sentence in the passages answers the question.")
    return Composed(text, citations, False, used=used)


def _part_answered(part: str, cands: list[Candidate], passages: list[Passage], names: list[str], idf,
                   has_subject: bool) -> bool:
    """Whether the passages answer one part of a question: its typed detail is there, and its words are covered
    (an open part about a named subject is answered from the subject's passages)."""
    ask = asked(part)
    focus = ans.focus_terms(part, names, ask)
    if ask.slot:
        cands = _slot_answering(cands, passages, focus, ask, idf, ans.given(part, names, ask))
    return bool(cands) and ((has_subject and not ask.slot) or _covered(cands, passages, focus, idf))
