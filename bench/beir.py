"""BEIR-layout retrieval benchmark: nDCG@10, R@10 and R@100 of the project's BM25, dense and fused retrievers
and of plain Lucene-style BM25, side by side in one run.

Run: python -m bench.beir DIR [--split train] [--json]. DIR holds corpus.jsonl, queries.jsonl and
qrels/<split>.tsv. Queries without qrels in the split are skipped. The corpus is embedded once through the
embedding cache (RAG_CACHE_DIR/embeddings), so reruns are fast.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from eval.metrics import mean, recall_at_k

from .ir import LuceneBM25, build_retriever, ndcg_at_k, rank_all, run_cli

log = logging.getLogger(__name__)

DEPTH = 100
METRICS = ["ndcg@10", "recall@10", "recall@100"]
INPUTS = {"folder": {"type": Path, "help": "a folder in BEIR layout"},
          "--split": {"default": "train", "help": "qrels split to score (default train)"}}


def read_jsonl(path: Path) -> list[dict]:
    """Objects of a JSON-lines file (blank lines skipped)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, float]]:
    """query id -> {corpus id: relevance} from a BEIR qrels TSV (header `query-id corpus-id score`)."""
    qrels: dict[str, dict[str, float]] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if n == 0 and not parts[-1].lstrip("-").isdigit():
                continue  # header
            if len(parts) >= 3:
                qrels.setdefault(parts[0], {})[parts[1]] = float(parts[2])
    return qrels


def load_beir(folder: Path, split: str):
    """(chunks, {query id: text}, qrels) for the queries that have qrels in the split."""
    from rag.sources.base import FileView
    from rag.sources.tables import TableSource

    chunks = TableSource().load(FileView(folder / "corpus.jsonl"))
    qrels = read_qrels(folder / "qrels" / f"{split}.tsv")
    queries = {str(q["_id"]): q["text"] for q in read_jsonl(folder / "queries.jsonl") if str(q["_id"]) in qrels}
    return chunks, queries, {q: qrels[q] for q in queries}


def evaluate(rankings: dict[str, list[list[str]]], qrels: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """nDCG@10, R@10 and R@100 of each retriever, averaged over the queries (qrels aligned with rankings)."""
    out = {}
    for name, ranked in rankings.items():
        relevant = [[d for d, g in q.items() if g > 0] for q in qrels]
        out[name] = {
            "ndcg@10": mean(ndcg_at_k(r, q, 10) for r, q in zip(ranked, qrels)),
            "recall@10": mean(recall_at_k(r, rel, 10) for r, rel in zip(ranked, relevant)),
            "recall@100": mean(recall_at_k(r, rel, 100) for r, rel in zip(ranked, relevant)),
        }
    return out


def run(folder: Path, split: str = "train", settings=None, embedder=None) -> dict:
    """Build the retrievers over DIR's corpus, rank the split's queries, and return figures and timings."""
    from rag.config import Settings

    settings = settings or Settings()
    t0 = time.perf_counter()
    chunks, queries, qrels = load_beir(folder, split)
    doc_id = {c.id: c.metadata["paper_id"] for c in chunks}
    retriever, embedder = build_retriever(chunks, settings, embedder)
    lucene = LuceneBM25([f"{c.title} {c.text}" for c in chunks])
    built = time.perf_counter() - t0
    qids = list(queries)
    qvecs = embedder.encode([queries[q] for q in qids], 32)
    if hasattr(embedder, "flush"):
        embedder.flush()
    ranked = rank_all(retriever, lucene, [queries[q] for q in qids], qvecs, settings, DEPTH)
    ranked = {name: [[doc_id[c] for c in r] for r in lists] for name, lists in ranked.items()}
    figures = evaluate(ranked, [qrels[q] for q in qids])
    return {"dataset": str(folder), "split": split, "documents": len(chunks), "queries": len(qids),
            **figures, "seconds": {"build": round(built, 1), "total": round(time.perf_counter() - t0, 1)},
            "embeddings": {"cached": getattr(embedder, "hits", None), "computed": getattr(embedder, "misses", None)}}


def main(argv: list[str] | None = None) -> int:
    """Print the table (or the JSON with --json)."""
    return run_cli(argv, "python -m bench.beir", __doc__, METRICS, INPUTS,
                   lambda a: (f"{a.folder.name} {a.split}", run(a.folder, a.split)))


if __name__ == "__main__":
    raise SystemExit(main())
