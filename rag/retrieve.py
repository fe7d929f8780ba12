"""Hybrid retrieval: BM25 and dense (best-sentence and whole-chunk) scores, fused as a weighted sum of standard
scores (or by reciprocal rank fusion), plus a system-name boost.

Why standard scores: each signal is turned into z-scores over the whole collection, z = (s - mean) / std, and
the fused score is their weighted mean. A BM25 hit on a rare, coined term (a system name, an institution) stands
many deviations above the rest of the collection and dominates; a question worded in ordinary vocabulary gives
flat BM25 scores and lets the dense similarity decide. Rank fusion throws that confidence away: a useless
dense ranking counts as much as a decisive BM25 one. On the 206 gold questions, in both halves of a 2-fold
cross-validation (split by a hash of the question id), BM25 + best-sentence dense fused this way beat either
alone on R@1, R@5, R@10 and MRR; adding the whole-chunk cosine lowered R@5 in both folds, so its weight is 0.
"""
from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, replace

import numpy as np

from .index import LoadedIndex
from .lexicon import (BM25_B, BM25_K1, MAX_NAME_DF, Lexicon, build_lexicon, lowercase_stems,  # noqa: F401 - re-exported
                      name_body, name_pattern, strip_accents)
from .text import content_tokens, fold
from .types import Hit

FUSIONS = ("zscore", "rrf")


@dataclass(frozen=True)
class SearchParams:
    """How a retriever fuses its signals; built from `Settings` (see `from_settings`), defaults documented there."""

    candidates: int = 40  # candidates taken from each signal before fusion
    fusion: str = "zscore"  # "zscore" (weighted mean of standard scores) or "rrf" (reciprocal rank fusion)
    rrf_k: int = 60
    dense_weight: float = 0.0  # whole-chunk cosine (0: it lowered R@5 in both folds, see the module docstring)
    bm25_weight: float = 1.0
    sentence_weight: float = 1.0  # best-sentence cosine
    name_boost: float = 1.0  # standard deviations (zscore) or a multiple of the top fusable score (rrf)
    bm25_k1: float = BM25_K1
    bm25_b: float = BM25_B

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {self.fusion!r}; expected one of {', '.join(FUSIONS)}")

    @classmethod
    def from_settings(cls, settings) -> "SearchParams":
        """The search parameters a `Settings` object holds."""
        return cls(**settings.retrieval.model_dump(exclude={"k"}))


def rrf_fuse(rankings: list[list[int]], weights: list[float], k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion: score(d) = sum_i w_i / (k + rank_i(d)), ranks 1-based."""
    scores: dict[int, float] = {}
    for ranking, w in zip(rankings, weights):
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + w / (k + rank)
    return scores


def zscores(scores: np.ndarray) -> np.ndarray:
    """Standard scores (s - mean) / std over the collection; all zeros when the scores are constant.

    Non-finite entries (a chunk without sentences) count as the lowest finite score.
    """
    s = np.asarray(scores, dtype=np.float64)
    finite = np.isfinite(s)
    if not finite.any():
        return np.zeros(len(s))
    if not finite.all():
        s = np.where(finite, s, s[finite].min())
    sd = s.std()
    return (s - s.mean()) / sd if sd > 1e-12 else np.zeros(len(s))


def zscore_fuse(signals: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """Weighted mean of the signals' standard scores: sum_i w_i z_i / sum_i w_i (signals with w_i = 0 skipped).

    Each signal is one score per document over the same collection. Returns zeros when no weight is positive.
    """
    total = sum(w for w in weights if w > 0)
    if not signals or total <= 0:
        return np.zeros(len(signals[0]) if signals else 0)
    out = np.zeros(len(signals[0]))
    for s, w in zip(signals, weights):
        if w > 0:
            out += (w / total) * zscores(s)
    return out


def top_positions(scores: np.ndarray, n: int, positive_only: bool = False) -> list[int]:
    """Positions of the n highest scores, best first, ties by position (optionally only scores > 0)."""
    if n <= 0 or not len(scores):
        return []
    order = np.argsort(-scores, kind="stable")[:n]
    top = scores[order]
    return order[top > 0 if positive_only else np.isfinite(top)].tolist()


def _matvec(matrix: np.ndarray, qvec: np.ndarray) -> np.ndarray:
    """matrix @ qvec without BLAS: on a busy 2-core machine a multi-threaded BLAS call for this small product
    stalls for 15-20 ms on thread hand-offs, while einsum's single-threaded loop takes about 0.05 ms."""
    return np.einsum("ij,j->i", matrix, np.asarray(qvec, dtype=np.float32).reshape(-1))


class Retriever:
    """Dense + BM25 retrieval over a loaded index."""

    def __init__(self, index: LoadedIndex, params: SearchParams | None = None) -> None:
        self.index = index
        self.chunks = index.chunks
        self.params = params = params or SearchParams()
        lex = getattr(index, "lexicon", None)
        if lex is None or (lex.k1, lex.b) != (params.bm25_k1, params.bm25_b):
            lex = build_lexicon(self.chunks, params.bm25_k1, params.bm25_b)
        self._lexicon: Lexicon = lex
        self.vocabulary = set(lex.df)
        self.lowercase_stems = lex.lowercase_stems
        self.folded: list[str] = lex.folded  # each chunk's folded search text
        self._idf: dict[str, float] = {}
        self._max_idf = math.log(1 + (lex.n_docs + 0.5) / 0.5)
        # (name, literal, chunk positions, cased); each pattern is compiled the first time its literal occurs.
        self.names = [(name, name_body(name, cased), owners, cased) for name, owners, cased in lex.names]
        self._patterns: dict[tuple[str, bool], re.Pattern] = {}
        self._prepare_vectors()

    def _prepare_vectors(self) -> None:
        """Float32 copies of the chunk and sentence vectors, and each chunk's run of sentence rows."""
        ix = self.index
        n = len(self.chunks)
        self._chunk_vectors = (np.asarray(ix.faiss_index.reconstruct_n(0, n), dtype=np.float32) if n
                               else np.zeros((0, 0), np.float32))
        self._sentence_vectors = np.ascontiguousarray(ix.sentence_vectors, dtype=np.float32)
        owner = np.asarray(ix.sentence_owner, dtype=np.int64)
        self._sentence_owner = owner
        # Sentences are stored chunk by chunk; then each chunk's best sentence is one reduceat over its run.
        self._sentence_runs = None
        if len(owner) and np.all(np.diff(owner) >= 0):
            starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
            self._sentence_runs = (starts, owner[starts])

    def idf(self, token: str) -> float:
        """Inverse document frequency of a content token (unseen tokens get the maximum)."""
        value = self._idf.get(token)
        if value is None:
            c, n = self._lexicon.df.get(token), self._lexicon.n_docs
            value = self._max_idf if c is None else math.log(1 + (n - c + 0.5) / (c + 0.5))
            self._idf[token] = value
        return value

    def named_chunks(self, question: str) -> dict[int, str]:
        """Chunks whose system name the question mentions, with the name matched.

        A name's pattern can only match where its literal occurs, so the literal is looked for first and the
        pattern compiled on first use: a cold start compiles none of the ~150 patterns the question cannot match.
        """
        q, q_cased = fold(question), strip_accents(question)
        hits: dict[int, str] = {}
        for name, body, owners, cased in self.names:
            text = q_cased if cased else q
            if body not in text:
                continue
            pat = self._patterns.get((name, cased))
            if pat is None:
                pat = self._patterns[(name, cased)] = name_pattern(name, cased)
            if pat.search(text):
                for i in owners:
                    hits[i] = name
        return hits

    # --- per-chunk scores over the whole collection -------------------------------------------------------------

    def dense_scores(self, qvec: np.ndarray) -> np.ndarray:
        """Cosine similarity of the question to every chunk vector."""
        if not len(self._chunk_vectors):
            return np.zeros(0)
        return _matvec(self._chunk_vectors, qvec)

    def sentence_scores(self, qvec: np.ndarray) -> np.ndarray:
        """Each chunk's best cosine similarity over its sentences (-inf for a chunk without sentences)."""
        best = np.full(len(self.chunks), -np.inf, dtype=np.float32)
        if not len(self._sentence_vectors):
            return best
        sims = _matvec(self._sentence_vectors, qvec)
        if self._sentence_runs is not None:
            starts, owners = self._sentence_runs
            best[owners] = np.maximum.reduceat(sims, starts)
        else:
            np.maximum.at(best, self._sentence_owner, sims)
        return best

    def bm25_scores(self, question: str) -> np.ndarray:
        """BM25 score of every chunk for the question's content tokens (zeros when none is in the vocabulary)."""
        tokens = [t for t in content_tokens(question) if t in self.vocabulary]
        if not tokens:
            return np.zeros(len(self.chunks))
        return np.asarray(self._lexicon.bm25_scores(tokens), dtype=np.float64)

    # --- single-retriever rankings -------------------------------------------------------------------------------

    def dense_ranking(self, qvec: np.ndarray, n: int) -> tuple[list[int], np.ndarray]:
        """Chunk positions by cosine similarity, best first, and their similarities."""
        scores, ids = self.index.faiss_index.search(qvec.reshape(1, -1).astype(np.float32), min(n, len(self.chunks)))
        keep = ids[0] >= 0
        return ids[0][keep].tolist(), scores[0][keep]

    def sentence_ranking(self, qvec: np.ndarray, n: int) -> list[int]:
        """Chunk positions by their single best-matching sentence, best first."""
        return top_positions(self.sentence_scores(qvec), n)

    def bm25_ranking(self, question: str, n: int) -> list[int]:
        """Chunk positions by BM25 score, best first (only chunks sharing a term)."""
        return top_positions(self.bm25_scores(question), n, positive_only=True)

    # --- fusion ----------------------------------------------------------------------------------------------

    def tuned(self, params: SearchParams | None = None, **changes) -> "Retriever":
        """This retriever with other fusion parameters (the same loaded data, not a copy of it)."""
        params = replace(params or self.params, **changes)
        if params == self.params:
            return self
        if (params.bm25_k1, params.bm25_b) != (self.params.bm25_k1, self.params.bm25_b):
            return Retriever(self.index, params)
        other = copy.copy(self)
        other.params = params
        return other

    def search(self, question: str, qvec: np.ndarray, k: int) -> list[Hit]:
        """Fused top-k hits for a question whose embedding is qvec, fused as `self.params` says.

        fusion="zscore" (default): weighted mean of the standard scores of BM25, best-sentence and whole-chunk
        cosine, over the chunks in any retriever's top `candidates`; a chunk the question names gains
        `name_boost` standard deviations. fusion="rrf": reciprocal rank fusion of the three rankings with
        constant `rrf_k`; a named chunk gains `name_boost` times the largest score fusion can give.
        """
        p = self.params
        candidates, rrf_k, fusion = p.candidates, p.rrf_k, p.fusion
        dense_weight, bm25_weight, sentence_weight, name_boost = p.dense_weight, p.bm25_weight, p.sentence_weight, \
            p.name_boost
        dense_all = self.dense_scores(qvec)
        bm25_all = self.bm25_scores(question)
        dense = top_positions(dense_all, candidates)
        sparse = top_positions(bm25_all, candidates, positive_only=True)
        named = self.named_chunks(question)
        if fusion == "zscore":
            signals, weights = [bm25_all, dense_all], [bm25_weight, dense_weight]
            pool = set(sparse) | (set(dense) if dense_weight else set())
            if sentence_weight:
                sent_all = self.sentence_scores(qvec)
                signals.append(sent_all)
                weights.append(sentence_weight)
                pool |= set(top_positions(sent_all, candidates))
            if not pool:
                pool = set(dense)
            z = zscore_fuse(signals, weights)
            fused = {i: float(z[i]) for i in pool | set(named)}
            bonus = name_boost
        else:
            rankings, weights = [dense, sparse], [dense_weight, bm25_weight]
            if sentence_weight:
                rankings.append(self.sentence_ranking(qvec, candidates))
                weights.append(sentence_weight)
            fused = rrf_fuse(rankings, weights, rrf_k)
            # A chunk that the question names outranks anything fusion alone can produce.
            bonus = name_boost * sum(weights) / (rrf_k + 1)
        for i in named:
            fused[i] = fused.get(i, 0.0) + bonus
        order = sorted(fused, key=lambda i: (-fused[i], -dense_all[i], i))[:k]  # ties: closer in meaning first
        d_rank = {doc: r for r, doc in enumerate(dense, 1)}
        s_rank = {doc: r for r, doc in enumerate(sparse, 1)}
        return [Hit(self.chunks[i], fused[i], d_rank.get(i), s_rank.get(i)) for i in order]
