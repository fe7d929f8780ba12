"""Known-item retrieval over paper lists: each query is a paper's one-line TL;DR and the target is that paper.
MRR@10, R@1 and R@10 of the project's BM25, dense and fused retrievers and of plain Lucene-style BM25.

Run: python -m bench.known_item --corpus DIR --queries FILE [--json]. DIR is any corpus folder (each file loaded
by the source registry); FILE holds `{_id, text, target: {file, id, title}}` lines. TL;DR fields are never indexed
(the paper-list sources do not read them). Embeddings are cached (RAG_CACHE_DIR/embeddings), so reruns are fast.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from eval.metrics import mean, recall_at_k, reciprocal_rank

from .beir import read_jsonl
from .ir import LuceneBM25, build_retriever, rank_all, run_cli

log = logging.getLogger(__name__)

DEPTH = 10
METRICS = ["mrr@10", "recall@1", "recall@10"]
INPUTS = {"--corpus": {"type": Path, "required": True, "help": "corpus folder (any files the sources accept)"},
          "--queries": {"type": Path, "required": True, "help": "JSON-lines known-item queries"}}


def target_ids(chunks, queries: list[dict]) -> list[str | None]:
    """The chunk id of each query's target: same source file and paper id, else same file and title."""
    from rag.text import fold

    by_id = {(c.metadata.get("source"), str(c.metadata.get("paper_id"))): c.id for c in chunks}
    by_title = {(c.metadata.get("source"), fold(c.title).strip()): c.id for c in chunks}
    out = []
    for q in queries:
        t = q["target"]
        out.append(by_id.get((t.get("file"), str(t.get("id")))) or by_title.get((t.get("file"), fold(t.get("title") or "").strip())))
    return out


def evaluate(rankings: dict[str, list[list[str]]], targets: list[str]) -> dict[str, dict[str, float]]:
    """MRR@10, R@1 and R@10 of each retriever (targets aligned with the rankings)."""
    return {name: {
        "mrr@10": mean(reciprocal_rank(r[:10], [t]) for r, t in zip(ranked, targets)),
        "recall@1": mean(recall_at_k(r, [t], 1) for r, t in zip(ranked, targets)),
        "recall@10": mean(recall_at_k(r, [t], 10) for r, t in zip(ranked, targets)),
    } for name, ranked in rankings.items()}


def run(corpus: Path, queries_file: Path, settings=None, embedder=None) -> dict:
    """Load the folder, build the retrievers, rank every query whose target is in the corpus."""
    from rag.config import Settings
    from rag.sources import load_folder

    settings = settings or Settings()
    t0 = time.perf_counter()
    loaded = load_folder(corpus)
    chunks = loaded.chunks
    queries = read_jsonl(queries_file)
    targets = target_ids(chunks, queries)
    missing = sum(t is None for t in targets)
    if missing:
        log.warning("%d of %d query targets are not in the corpus; those queries are skipped", missing, len(queries))
    kept = [(q, t) for q, t in zip(queries, targets) if t is not None]
    retriever, embedder = build_retriever(chunks, settings, embedder)
    lucene = LuceneBM25([f"{c.title} {c.text}" for c in chunks])
    built = time.perf_counter() - t0
    texts = [q["text"] for q, _ in kept]
    qvecs = embedder.encode(texts, 32)
    if hasattr(embedder, "flush"):
        embedder.flush()
    ranked = rank_all(retriever, lucene, texts, qvecs, settings, DEPTH)
    figures = evaluate(ranked, [t for _, t in kept])
    return {"corpus": str(corpus), "queries_file": str(queries_file), "documents": len(chunks),
            "files_loaded": len(loaded.loaded), "files_skipped": loaded.skipped, "queries": len(kept),
            "queries_without_target": missing, **figures,
            "seconds": {"build": round(built, 1), "total": round(time.perf_counter() - t0, 1)},
            "embeddings": {"cached": getattr(embedder, "hits", None), "computed": getattr(embedder, "misses", None)}}


def main(argv: list[str] | None = None) -> int:
    """Print the table (or the JSON with --json)."""
    return run_cli(argv, "python -m bench.known_item", __doc__, METRICS, INPUTS,
                   lambda a: ("known-item", run(a.corpus, a.queries)))


if __name__ == "__main__":
    raise SystemExit(main())
