"""Score one answered gold question, and roll the per-question rows up overall and by kind."""
from __future__ import annotations

from collections import defaultdict

from .gold import is_unanswerable
from .metrics import any_id_in, citation_problems, evidence_in_contexts, key_facts_found, mean, recall_at_k, refusal_scores
from .ragas_scores import CONTEXT_METRICS, RESPONSE_METRICS

HEADLINE = ("fused_recall_at_5", "evidence_in_top5", "key_fact_recall", "citation_validity", "refusal_recall",
            "refusal_precision", "id_based_context_recall")


def score_question(item: dict, answer: dict, ranked: dict[str, list[str]], chunk_texts: dict[str, str],
                   k: int) -> dict:
    """The per-question row: what was answered and every own metric for it.

    `answer` is `Answer.to_dict()`; `chunk_texts` maps chunk id to title + body; `ranked` holds the
    top-10 ids of each retriever.
    """
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
        "prompt_hash": answer.get("prompt_hash"),
        "index_fingerprint": answer.get("index_fingerprint"),
    }


def _own(rows: list[dict]) -> dict:
    """Own metrics over a group of rows."""
    answered = [r for r in rows if not r["refused"]]
    refusal = refusal_scores([r["refused"] for r in rows], [r["unanswerable"] for r in rows])
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
    }
    for name in CONTEXT_METRICS + RESPONSE_METRICS:
        out[name] = mean(r["ragas"][name] for r in rows if "ragas" in r)
    return out


def aggregate(rows: list[dict]) -> dict:
    """Overall and per-kind own metrics, plus the headline figures the CI gate checks."""
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r)
    overall = _own(rows)
    return {
        "overall": overall,
        "by_kind": {kind: _own(rs) for kind, rs in sorted(by_kind.items())},
        "headline": {name: overall[name] for name in HEADLINE},
    }
