"""Multi-part questions: each part ("which device …, and what speedup?") gets a sentence that answers it. Pure; used
by the one-subject composer (`rag.extractive`) and by each side of a comparison (`rag.comparison`)."""
from __future__ import annotations

from . import answerable as ans, intents
from .answer import Candidate
from .heuristics import WEIGHTS
from .intents import Asked, asked, holds_slot, named_kinds
from .passage import Passage, sentence_context
from .text import content_tokens


def answers_part(c: Candidate, p: Passage, part: str, ask: Asked, focus: list[str], names: list[str],
                  idf) -> tuple[float, float]:
    """How well a sentence answers one part of a question: its share of the part's focus words read with its
    passage's title, then read alone (a title lends every sentence of its passage the same words); 0 when it lacks
    the part's asked type."""
    if ask.slot and not holds_slot(ans.blank(c.sentence, ans.given(part, names, ask)), ask):
        return 0.0, 0.0
    if not focus:
        return 1.0, 1.0
    own = set(content_tokens(c.sentence))
    return ans.coverage(focus, own | sentence_context(p, c.sentence), idf), ans.coverage(focus, own, idf)


def cover_parts(question: str, chosen: list[Candidate], cands: list[Candidate], passages: list[Passage],
                 names: list[str], idf, limit: int, wider: list[Candidate] | None = None) -> list[Candidate]:
    """Each part of a multi-part question gets a sentence that answers it, when one of the candidates does: the
    best-scored sentences often all answer the same part ("… which device, and what speedup?"). `wider`: the
    candidates for a part that names no kind of document, when the question's named kinds narrowed `cands`."""
    chosen = list(chosen)
    answered_by: dict[int, set[int]] = {}  # position in chosen -> parts it answers
    for n, part in enumerate(intents.parts(question)):
        pool = cands if wider is None or named_kinds(part) else wider
        ask = asked(part)
        focus = ans.focus_terms(part, names, ask)

        def fit(c: Candidate) -> tuple[float, float]:
            return answers_part(c, passages[c.hit_rank], part, ask, focus, names, idf)

        fits = [fit(c) for c in chosen]
        best = max((c for c in pool if c not in chosen), key=lambda c: (*fit(c), c.score), default=None)
        top = fit(best) if best is not None else (0.0, 0.0)
        bar = max(WEIGHTS.part_coverage, top[0] - WEIGHTS.part_margin)
        # a chosen sentence answers this part about as well as any could, in its own words too
        answering = [i for i, (f, close) in enumerate(fits) if f >= bar and close >= top[1] - WEIGHTS.part_margin]
        if answering:
            for i in answering:
                answered_by.setdefault(i, set()).add(n)
            continue
        if best is None or top[0] < WEIGHTS.part_coverage:
            continue
        if len(chosen) >= limit:  # give up the last sentence that is the sole answer of no part
            spare = [i for i in range(len(chosen) - 1, 0, -1) if not answered_by.get(i)]
            if not spare:
                continue
            chosen.pop(spare[0])
            answered_by = {(i - 1 if i > spare[0] else i): v for i, v in answered_by.items()}
        answered_by[len(chosen)] = {n}
        chosen.append(best)
    return chosen
