"""Score one answered gold question, and roll the per-question rows up overall and by kind."""
from __future__ import annotations

from collections import defaultdict

from .gold import SPLITS, is_unanswerable, split_of
from .metrics import (ONE_FACT_KINDS, STRUCTURED_KINDS, any_id_in, answer_sentences, citation_problems, compare_covered,
                      evidence_in_contexts, key_facts_found, mean, recall_at_k, refusal_scores, subject_precision)
from .ragas_scores import CONTEXT_METRICS, RESPONSE_METRICS

HEADLINE = ("fused_recall_at_5", "evidence_in_top5", "key_fact_recall", "citation_validity", "refusal_recall",
            "refusal_precision", "near_miss_refusal_recall", "off_corpus_refusal_recall", "false_refusal_rate",
            "subject_precision", "compare_coverage", "router_false_positives", "one_fact_sentences",
            "id_based_context_recall")
# Headline metrics where lower is better: the gate reads their [maximum] table.
LOWER_IS_BETTER = ("false_refusal_rate", "router_false_positives", "one_fact_sentences")


def subject_of_item(item: dict, about: dict[str, set[str]]) -> str | None:
    """The one poster a one-subject question is about (all its reference chunks are about that poster), else None."""
    if item["kind"] not in ONE_FACT_KINDS or not item["reference_context_ids"]:
        return None
    refs = item["reference_context_ids"]
    posters = [about.get(c, set()) for c in refs]
    common = set.intersection(*posters) if posters else set()
    # The subject is a poster the question is answered from: a reference is the poster or its notes entry, not
    # an article paragraph or tweet that merely names it.
    own = {c for c in refs if c.startswith(("poster:", "notes:"))}
    return next(iter(common)) if len(common) == 1 and own else None


def score_question(item: dict, answer: dict, ranked: dict[str, list[str]], chunk_texts: dict[str, str],
                   k: int, about: dict[str, set[str]] | None = None) -> dict:
    """The per-question row: what was answered and every own metric for it.

    `answer` is `Answer.to_dict()`; `chunk_texts` maps chunk id to title + body; `ranked` holds the
    top-10 ids of each retriever; `about` maps a chunk id to the poster ids it is about.
    """
    about = about or {}
    cited_ids = [c["chunk_id"] for c in answer["citations"]]
    subject = subject_of_item(item, about)
    top = answer["contexts"][:k]
    top_ids = [c["chunk_id"] for c in top]
    top_texts = [f"{c['title']}\n{c['text']}" for c in top]
    found = key_facts_found(item["must_include"], answer["text"])
    problems = None
    if not answer["refused"]:
        problems = citation_problems(answer["text"], answer["citations"], [c["chunk_id"] for c in answer["contexts"]],
                                     chunk_texts)
    return {
        "id": item["id"],
        "kind": item["kind"],
        "question": item["user_input"],
        "split": split_of(item["id"]),
        "unanswerable": is_unanswerable(item),
        "refused": answer["refused"],
        "route": answer.get("route"),
        "answer": answer["text"],
        "error": answer.get("error"),
        "context_ids": [c["chunk_id"] for c in answer["contexts"]],
        "reference_context_ids": item["reference_context_ids"],
        "citations": [{"marker": c["marker"], "chunk_id": c["chunk_id"], "sentence": c["sentence"]}
                      for c in answer["citations"]],
        "key_facts": dict(zip(item["must_include"], found)),
        "key_fact_recall": sum(found) / len(found) if found else None,
        "evidence_in_top5": evidence_in_contexts(item["evidence"], top_texts) if item["evidence"] else None,
        "evidence_id_in_top5": any_id_in(top_ids, item["reference_context_ids"]) if item["reference_context_ids"] else None,
        "citation_valid": None if problems is None else float(not problems),
        "citation_problems": problems or [],
        "rankings": ranked,
        "fused_recall_at_5": recall_at_k(ranked["fused"], item["reference_context_ids"], 5)
        if item["reference_context_ids"] else None,
        "subject": subject,
        "subject_precision": subject_precision(cited_ids, subject, about)
        if subject and not answer["refused"] and answer.get("route") != "structured" else None,
        "compare_coverage": compare_covered(cited_ids, item["reference_context_ids"], about, found)
        if item["kind"] == "comparison" else None,
        "router_false_positive": float(answer.get("route") == "structured")
        if item["kind"] not in STRUCTURED_KINDS else None,
        "sentences": answer_sentences(answer["text"]),
        "prompt_hash": answer.get("prompt_hash"),
        "index_fingerprint": answer.get("index_fingerprint"),
    }


def _own(rows: list[dict]) -> dict:
    """Own metrics over a group of rows."""
    answered = [r for r in rows if not r["refused"]]
    refusal = refusal_scores([r["refused"] for r in rows], [r["unanswerable"] for r in rows])
    answerable = [r for r in rows if not r["unanswerable"]]
    out = {
        "questions": len(rows),
        "answered": len(answered),
        "refused": len(rows) - len(answered),
        "key_fact_recall": mean(r["key_fact_recall"] for r in rows),
        "evidence_in_top5": mean(r["evidence_in_top5"] for r in rows),
        "evidence_id_in_top5": mean(r["evidence_id_in_top5"] for r in rows),
        "citation_validity": mean(r["citation_valid"] for r in answered),
        "fused_recall_at_5": mean(r["fused_recall_at_5"] for r in rows),
        "refusal_precision": refusal["precision"],
        "refusal_recall": refusal["recall"],
        "refusal_counts": {k: refusal[k] for k in ("tp", "fp", "fn")},
        "near_miss_refusal_recall": mean(float(r["refused"]) for r in rows if r["kind"] == "near_miss"),
        "off_corpus_refusal_recall": mean(float(r["refused"]) for r in rows if r["kind"] == "off_corpus"),
        "false_refusal_rate": mean(float(r["refused"]) for r in answerable),
        "subject_precision": mean(r.get("subject_precision") for r in rows),
        "compare_coverage": mean(r.get("compare_coverage") for r in rows),
        "router_false_positives": sum(1 for r in rows if r.get("router_false_positive")),
        "one_fact_sentences": mean(float(r["sentences"]) for r in rows
                                   if r["kind"] in ONE_FACT_KINDS and not r["refused"]),
    }
    for name in CONTEXT_METRICS + RESPONSE_METRICS:
        out[name] = mean(r["ragas"][name] for r in rows if "ragas" in r)
    return out


def aggregate(rows: list[dict], gate_split: str = "test") -> dict:
    """Overall, per-kind and per-split own metrics; the headline figures the CI gate checks are the gate split's."""
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r)
    overall = _own(rows)
    splits = {name: _own([r for r in rows if r.get("split") == name]) for name in SPLITS}
    splits = {name: m for name, m in splits.items() if m["questions"]}
    gated = splits.get(gate_split, overall)
    return {
        "overall": overall,
        "by_kind": {kind: _own(rs) for kind, rs in sorted(by_kind.items())},
        "splits": splits,
        "gate_split": gate_split if gate_split in splits else "all",
        "headline": {name: gated.get(name, overall.get(name)) for name in HEADLINE},
    }
