"""Shared parts of the external retrieval benchmarks (bench.beir, bench.known_item): building the project's real
retriever over any chunks, a plain Lucene-style BM25 baseline, the rankings of each retriever, and nDCG."""
from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
from rag.retrieve import SearchParams

log = logging.getLogger(__name__)

RETRIEVERS = ("bm25", "dense", "fused", "bm25_lucene")
# Plain Lucene BM25 as Anserini runs BEIR (its "flat" baseline): k1=0.9, b=0.4 over title + text.
LUCENE_K1, LUCENE_B = 0.9, 0.4


def ndcg_at_k(ranking: Sequence[str], gains: dict[str, float], k: int) -> float:
    """nDCG@k with linear gains (as pytrec_eval computes it for BEIR): DCG / ideal DCG, 1/log2(rank+1) discount."""
    if not gains:
        return math.nan
    dcg = sum(gains.get(doc, 0.0) / math.log2(i + 2) for i, doc in enumerate(ranking[:k]))
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


class LuceneBM25:
    """Plain BM25 (Lucene's idf and length normalisation, k1=0.9, b=0.4), English stopwords and Snowball stems."""

    def __init__(self, texts: list[str], k1: float = LUCENE_K1, b: float = LUCENE_B) -> None:
        import bm25s
        import Stemmer

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer("english")
        tokens = self._tokenize(texts)
        self.vocabulary = {t for doc in tokens for t in doc}
        self._model = bm25s.BM25(method="lucene", k1=k1, b=b)
        self._model.index(tokens, show_progress=False)
        self.size = len(texts)

    def _tokenize(self, texts: list[str]) -> list[list[str]]:
        return self._bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, return_ids=False,
                                    show_progress=False)

    def ranking(self, query: str, n: int) -> list[int]:
        """Document positions by BM25 score, best first (only documents sharing a term)."""
        tokens = [t for t in self._tokenize([query])[0] if t in self.vocabulary]
        if not tokens:
            return []
        scores = np.asarray(self._model.get_scores(tokens), dtype=np.float64)
        order = np.argsort(-scores, kind="stable")[:n]
        return [int(i) for i in order if scores[i] > 0]


def build_retriever(chunks, settings, embedder=None):
    """The project's Retriever over chunks and the embedder used (the real MiniLM through the on-disk cache by
    default; an injected embedder as it is)."""
    from rag.embcache import CachedEmbedder
    from rag.embed import default_embedder
    from rag.memindex import memory_index
    from rag.retrieve import Retriever

    if embedder is None:
        embedder = CachedEmbedder(default_embedder(settings.cache_dir, settings.index.embed_model), settings.cache_dir)
    index = memory_index(chunks, embedder, settings)
    if hasattr(embedder, "flush"):
        embedder.flush()
    return Retriever(index), embedder


def rank_all(retriever, lucene: LuceneBM25, queries: list[str], qvecs: np.ndarray, settings,
             depth: int) -> dict[str, list[list[str]]]:
    """Top-`depth` chunk ids of every retriever for every query, with the fused retriever at its default settings.

    The fused candidate pool is widened to `depth` (from settings.retrieval.candidates) so that R@100 is not capped by the
    pool; the scores, weights and fusion are the defaults.
    """
    ids = [c.id for c in retriever.chunks]
    out: dict[str, list[list[str]]] = {name: [] for name in RETRIEVERS}
    wide = retriever.tuned(SearchParams.from_settings(settings), candidates=max(settings.retrieval.candidates, depth))
    t0 = time.perf_counter()
    for q, qvec in zip(queries, qvecs):
        dense, _ = retriever.dense_ranking(qvec, depth)
        fused = wide.search(q, qvec, depth)
        out["bm25"].append([ids[i] for i in retriever.bm25_ranking(q, depth)])
        out["dense"].append([ids[i] for i in dense])
        out["fused"].append([h.chunk.id for h in fused])
        out["bm25_lucene"].append([ids[i] for i in lucene.ranking(q, depth)])
    log.info("ranked %d queries in %.1f s", len(queries), time.perf_counter() - t0)
    return out


def table_rows(figures: dict[str, dict[str, float]], metrics: list[str]) -> list[list]:
    """One row per retriever, in RETRIEVERS order, of the given metrics."""
    return [[name, *[figures[name][m] for m in metrics]] for name in RETRIEVERS if name in figures]


def print_result(result: dict, as_json: bool, title: str, metrics: tuple[str, ...]) -> None:
    """Print a benchmark's figures: as JSON, or as one table of retrievers by metric under the title."""
    import json

    from eval.tables import format_table

    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(["retriever", *metrics], table_rows(result, metrics), title=title))


def run_cli(argv: list[str] | None, prog: str, doc: str, metrics: Sequence[str], inputs: dict[str, dict],
            measure: Callable[[argparse.Namespace], tuple[str, dict]]) -> int:
    """An external benchmark's command line: its input flags (name -> add_argument keywords) and --json, a logged
    run (`measure` returns the run's name and figures), then the table or the JSON."""
    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    for flag, kwargs in inputs.items():
        p.add_argument(flag, **kwargs)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    name, result = measure(args)
    title = (f"{name}: {result['queries']} queries over {result['documents']} documents "
             f"({result['seconds']['total']} s)")
    print_result(result, args.json, title, tuple(metrics))
    return 0
