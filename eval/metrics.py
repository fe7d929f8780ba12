"""Pure metric functions: ranking recall and MRR, key facts, evidence, citation validity, refusal."""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from rag.text import numbers_in

MARKER = re.compile(r"\[(\d{1,3})\]")


def recall_at_k(ranking: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of the relevant ids found in the first k of the ranking (nan when nothing is relevant)."""
    rel = set(relevant)
    if not rel:
        return math.nan
    return len(rel & set(ranking[:k])) / len(rel)


def reciprocal_rank(ranking: Sequence[str], relevant: Iterable[str]) -> float:
    """1 / (1-based rank of the first relevant id), 0 when none is ranked (nan when nothing is relevant)."""
    rel = set(relevant)
    if not rel:
        return math.nan
    for i, doc in enumerate(ranking, start=1):
        if doc in rel:
            return 1.0 / i
    return 0.0


def mean(values: Iterable[float]) -> float:
    """Mean of the values that are not nan (nan when there are none)."""
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(vals) / len(vals) if vals else math.nan


def key_facts_found(must_include: Sequence[str], text: str) -> list[bool]:
    """For each must-include string, whether it occurs in the text, ignoring case."""
    low = text.casefold()
    return [m.casefold() in low for m in must_include]


def key_fact_recall(must_include: Sequence[str], text: str) -> float:
    """Share of must-include strings found in the text (nan when there are none)."""
    found = key_facts_found(must_include, text)
    return sum(found) / len(found) if found else math.nan


def evidence_in_contexts(evidence: Sequence[str], context_texts: Sequence[str]) -> float:
    """1.0 if every evidence quote is a substring of some context text, else 0.0 (nan without evidence)."""
    if not evidence:
        return math.nan
    return float(all(any(q in t for t in context_texts) for q in evidence))


def any_id_in(ids: Sequence[str], relevant: Iterable[str]) -> float:
    """1.0 if any relevant id is among the ids, else 0.0 (nan when nothing is relevant)."""
    rel = set(relevant)
    if not rel:
        return math.nan
    return float(bool(rel & set(ids)))


def citation_problems(text: str, citations: Sequence[dict], context_ids: Iterable[str],
                      chunk_texts: dict[str, str]) -> list[str]:
    """Everything wrong with an answer's citations; an empty list means the citations are valid.

    `citations` are dicts with marker, chunk_id and sentence; `chunk_texts` maps a chunk id to the text that
    the cited sentence's numbers must appear in (the chunk's title and body).
    """
    problems: list[str] = []
    by_marker = {int(c["marker"]): c for c in citations}
    used = [int(m) for m in MARKER.findall(text)]
    if not used:
        problems.append("answer has no [n] marker")
    for m in sorted(set(used)):
        if m not in by_marker:
            problems.append(f"marker [{m}] has no citation")
    ctx = set(context_ids)
    for c in citations:
        cid = c["chunk_id"]
        if cid not in ctx:
            problems.append(f"[{c['marker']}] cites {cid}, which is not among the contexts")
        source = chunk_texts.get(cid, "")
        missing = sorted(numbers_in(c.get("sentence") or "") - numbers_in(source))
        if missing:
            problems.append(f"[{c['marker']}] numbers {', '.join(missing)} not in {cid}")
    return problems


def refusal_scores(predicted: Sequence[bool], actual: Sequence[bool]) -> dict[str, float]:
    """Precision and recall of refusals, positives being the truly unanswerable questions.

    Precision is 1.0 when nothing was refused and nothing should have been, 0.0 when nothing was refused
    but something should have been; recall is nan without unanswerable questions.
    """
    tp = sum(1 for p, a in zip(predicted, actual) if p and a)
    fp = sum(1 for p, a in zip(predicted, actual) if p and not a)
    fn = sum(1 for p, a in zip(predicted, actual) if not p and a)
    if tp + fp:
        precision = tp / (tp + fp)
    else:
        precision = 1.0 if fn == 0 else 0.0
    recall = tp / (tp + fn) if tp + fn else math.nan
    return {"precision": precision, "recall": recall, "tp": tp, "fp": fp, "fn": fn}


# The gold kinds whose questions are counts, lists, rankings or authorship: the only ones the exact route may take.
STRUCTURED_KINDS = frozenset({"aggregate", "metadata"})
# One-fact kinds: a single asked detail, so the answer should be short.
ONE_FACT_KINDS = frozenset({"fact_abstract", "fact_preview", "fact_notes", "fact_tweets", "alias"})
_SENTENCE_END = re.compile(r"(?<=[.!?])(?:\s*\[\d{1,3}\])*\s+(?=[A-Z0-9\"'(])")


def answer_sentences(text: str) -> int:
    """Number of sentences in an answer (markers stay with the sentence they follow)."""
    return len([s for s in _SENTENCE_END.split(text.strip()) if s.strip()]) if text.strip() else 0


def subject_precision(cited_ids: Sequence[str], subject: str, about: dict[str, set[str]]) -> float:
    """Share of cited chunks that are about the subject poster (`about[chunk_id]` = the posters it is about)."""
    if not cited_ids:
        return math.nan
    return sum(1 for c in cited_ids if subject in about.get(c, set())) / len(cited_ids)


def compare_covered(cited_ids: Sequence[str], compared: Sequence[str], about: dict[str, set[str]],
                    facts_found: Sequence[bool]) -> float:
    """1.0 when every compared poster is cited (itself or a chunk about it) and every key fact is present."""
    cited_about = set().union(*(about.get(c, set()) for c in cited_ids)) if cited_ids else set()
    return float(all(p in cited_about for p in compared) and all(facts_found))
