"""Hybrid retrieval: FAISS dense search and BM25, fused by reciprocal rank fusion, plus a system-name boost."""
from __future__ import annotations

import logging
import math
import re
from collections import Counter

import numpy as np

from .index import LoadedIndex
from .text import content_tokens, fold
from .types import Hit

MAX_NAME_DF = 6  # a name that occurs in more chunks than this is a common phrase, not a system name


def rrf_fuse(rankings: list[list[int]], weights: list[float], k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), ranks 1-based."""
    scores: dict[int, float] = {}
    for ranking, w in zip(rankings, weights):
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + w / (k + rank)
    return scores


def _name_pattern(name: str) -> re.Pattern:
    return re.compile(r"(?<![\w-])" + re.escape(fold(name)) + r"(?![\w-])")


def _looks_coined(name: str) -> bool:
    """A coined system name (BLASST, NodeSweep, FP8-Flow-MoE, veScale-FSDP) rather than an ordinary phrase."""
    return any(re.search(r"[A-Z]{2}|[a-z][A-Z]|\d", w) for w in name.split())


class Retriever:
    """Dense + BM25 retrieval over a loaded index."""

    def __init__(self, index: LoadedIndex) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)

        self.index = index
        self.chunks = index.chunks
        docs = [content_tokens(c.search_text) for c in self.chunks]
        self._bm25 = bm25s.BM25()
        self._bm25.index(docs, show_progress=False)
        df = Counter(t for d in docs for t in set(d))
        n = len(docs)
        self.vocabulary = set(df)
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._max_idf = math.log(1 + (n + 0.5) / 0.5)
        self.names = self._system_names()

    def idf(self, token: str) -> float:
        """Inverse document frequency of a content token (unseen tokens get the maximum)."""
        return self._idf.get(token, self._max_idf)

    def _system_names(self) -> list[tuple[re.Pattern, str, list[int]]]:
        """Distinctive system names (poster and notes names, aliases) mapped to the chunks they name."""
        folded = [fold(c.search_text) for c in self.chunks]
        by_name: dict[str, list[int]] = {}
        for i, c in enumerate(self.chunks):
            for name in [c.metadata.get("name") or "", *c.metadata.get("aliases", [])]:
                if len(name) >= 3:
                    by_name.setdefault(name, []).append(i)
        out = []
        for name, owners in by_name.items():
            pat = _name_pattern(name)
            if _looks_coined(name) or sum(1 for t in folded if pat.search(t)) <= MAX_NAME_DF:
                out.append((pat, name, owners))
        return out

    def named_chunks(self, question: str) -> dict[int, str]:
        """Chunks whose system name the question mentions, with the name matched."""
        q = fold(question)
        hits: dict[int, str] = {}
        for pat, name, owners in self.names:
            if pat.search(q):
                for i in owners:
                    hits[i] = name
        return hits

    def dense_ranking(self, qvec: np.ndarray, n: int) -> tuple[list[int], np.ndarray]:
        """Chunk positions by cosine similarity, best first, and their similarities."""
        scores, ids = self.index.faiss_index.search(qvec.reshape(1, -1).astype(np.float32), min(n, len(self.chunks)))
        keep = ids[0] >= 0
        return ids[0][keep].tolist(), scores[0][keep]

    def sentence_ranking(self, qvec: np.ndarray, n: int) -> list[int]:
        """Chunk positions by their single best-matching sentence, best first."""
        ix = self.index
        if not len(ix.sentence_vectors):
            return []
        sims = ix.sentence_vectors @ qvec.astype(np.float32)
        best = np.full(len(self.chunks), -np.inf, dtype=np.float32)
        np.maximum.at(best, ix.sentence_owner, sims)
        top = np.argsort(-best, kind="stable")[:n]
        return [int(i) for i in top if np.isfinite(best[i])]

    def bm25_ranking(self, question: str, n: int) -> list[int]:
        """Chunk positions by BM25 score, best first (only chunks sharing a term)."""
        tokens = [t for t in content_tokens(question) if t in self.vocabulary]
        if not tokens:
            return []
        scores = self._bm25.get_scores(tokens)
        top = np.argsort(-scores, kind="stable")[:n]
        return [int(i) for i in top if scores[i] > 0]

    def search(self, question: str, qvec: np.ndarray, k: int, candidates: int = 40, rrf_k: int = 60,
               dense_weight: float = 1.0, bm25_weight: float = 1.0, name_boost: float = 1.0,
               sentence_weight: float = 1.0) -> list[Hit]:
        """Fused top-k hits for a question whose embedding is qvec."""
        dense, _ = self.dense_ranking(qvec, candidates)
        sparse = self.bm25_ranking(question, candidates)
        rankings, weights = [dense, sparse], [dense_weight, bm25_weight]
        if sentence_weight:
            rankings.append(self.sentence_ranking(qvec, candidates))
            weights.append(sentence_weight)
        fused = rrf_fuse(rankings, weights, rrf_k)
        # A chunk that the question names outranks anything fusion alone can produce.
        bonus = name_boost * sum(weights) / (rrf_k + 1)
        for i in self.named_chunks(question):
            fused[i] = fused.get(i, 0.0) + bonus
        order = sorted(fused, key=lambda i: (-fused[i], i))[:k]
        d_rank = {doc: r for r, doc in enumerate(dense, 1)}
        s_rank = {doc: r for r, doc in enumerate(sparse, 1)}
        return [Hit(self.chunks[i], fused[i], d_rank.get(i), s_rank.get(i)) for i in order]
