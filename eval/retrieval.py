"""BM25 only, dense only and the fused retriever ranked on the same questions."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rag.config import Settings
from rag.retrieve import SearchParams

from .gold import SPLITS, in_split
from .metrics import mean, recall_at_k, reciprocal_rank

RETRIEVERS = ("bm25", "dense", "fused")
DEPTH = 10


def rankings(retriever, question: str, qvec: np.ndarray, settings: Settings, depth: int = DEPTH) -> dict[str, list[str]]:
    """Top-`depth` chunk ids of each retriever for one (already normalised) question."""
    ids = [c.id for c in retriever.chunks]
    dense, _ = retriever.dense_ranking(qvec, depth)
    bm25 = retriever.bm25_ranking(question, depth)
    fused = retriever.tuned(SearchParams.from_settings(settings)).search(question, qvec, depth)
    return {
        "bm25": [ids[i] for i in bm25],
        "dense": [ids[i] for i in dense],
        "fused": [h.chunk.id for h in fused],
    }


def summarize(ranked: list[dict[str, list[str]]], relevant: list[list[str]], depth: int = DEPTH) -> dict[str, dict]:
    """Recall@1..depth and MRR@depth per retriever, averaged over questions that have relevant ids."""
    keep = [i for i, rel in enumerate(relevant) if rel]
    out: dict[str, dict] = {}
    for name in RETRIEVERS:
        curve = {k: mean(recall_at_k(ranked[i][name], relevant[i], k) for i in keep) for k in range(1, depth + 1)}
        out[name] = {
            "recall@1": curve[1],
            "recall@5": curve[min(5, depth)],
            "recall@10": curve[min(10, depth)],
            f"mrr@{depth}": mean(reciprocal_rank(ranked[i][name][:depth], relevant[i]) for i in keep),
            "recall_curve": {str(k): v for k, v in curve.items()},
            "questions": len(keep),
        }
    return out


def split_figures(retriever, items: list[dict], settings: Settings, encode: Callable[[str], np.ndarray],
                  metrics: Sequence[str] = ("recall@1", "recall@5", "mrr@10")) -> dict[str, dict[str, dict]]:
    """The chosen retrieval figures of every retriever on each gold half: {split: {retriever: {metric: value}}}.

    Questions are normalised as `ask` does; `encode` turns one normalised question into its query vector.
    """
    from rag.question import validate_question

    out = {}
    for split in SPLITS:
        ranked, relevant = [], []
        for item in in_split(items, split):
            q = validate_question(item["user_input"], settings.answer.max_question_chars)[0]
            ranked.append(rankings(retriever, q, encode(q), settings))
            relevant.append(item["reference_context_ids"])
        out[split] = {name: {m: s[m] for m in metrics} for name, s in summarize(ranked, relevant).items()}
    return out
