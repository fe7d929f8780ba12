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

import logging
import math
import re
import unicodedata
from collections import Counter

import numpy as np

from .index import LoadedIndex
from .text import content_tokens, fold, stem
from .types import Hit

MAX_NAME_DF = 6  # a name that occurs in more chunks than this is a common phrase, not a system name
# BM25 length normalisation. Chunks range from one-line notes entries and tweets to 280-token poster abstracts;
# the full b=0.75 let a short notes entry that repeats a system name outrank the abstract holding the facts.
# R@1/MRR are flat for b in 0.2-0.5 in both cross-validation folds; 0.3 sits in the middle.
BM25_B = 0.3
BM25_K1 = 1.5
FUSIONS = ("zscore", "rrf")
_URL = re.compile(r"\S+://\S+|\bwww\.\S+")


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


def _strip_accents(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


def _name_pattern(name: str, cased: bool = False) -> re.Pattern:
    body = _strip_accents(name) if cased else fold(name)
    return re.compile(r"(?<![\w-])" + re.escape(body) + r"(?![\w-])")


def _looks_coined(name: str) -> bool:
    """A coined system name (BLASST, NodeSweep, FP8-Flow-MoE, veScale-FSDP) rather than an ordinary phrase."""
    return any(re.search(r"[A-Z]{2}|[a-z][A-Z]|\d", w) for w in name.split())


def _is_ordinary_word(name: str, lowercase_stems: set[str]) -> bool:
    """A one-word name that the corpus also uses as a plain lower-case word (SHIP, CORE, BEAM, WAVE, BOOST).

    Such names only count when the question writes them in their own capitalisation: "What did LMCache ship?"
    is not about SHIP, and "beam search" is not about BEAM.
    """
    return bool(re.fullmatch(r"[A-Za-z]+", name)) and name != name.lower() and stem(name.lower()) in lowercase_stems


def lowercase_stems(texts) -> frozenset[str]:
    """Stems of the words the texts use in lower case: ordinary words, as opposed to names (SHIP vs "ship").

    A word glued to a dot (the "ai" of Together.ai) is part of a domain name, not a word."""
    words = {w for t in texts for w in re.findall(r"(?<![\w.-])[a-z]+(?![\w-])", _URL.sub(" ", t))}
    return frozenset(stem(w) for w in words)  # each distinct word stemmed once (cold start)


_WORD = re.compile(r"\w+")


def _count_matches(pat: re.Pattern, name: str, folded: list[str], postings: dict[str, list[int]], limit: int) -> int:
    """Chunks whose folded text the name pattern matches, counted up to `limit`.

    Only chunks holding every word of the name are searched: a match covers each of its words whole. At 22,000
    papers this took the retriever's set-up from over ten minutes (every name against every chunk) to seconds.
    """
    words = set(_WORD.findall(fold(name)))
    if words:
        lists = sorted((postings.get(w, []) for w in words), key=len)
        candidates = set(lists[0]).intersection(*lists[1:]) if lists[0] else set()
    else:
        candidates = range(len(folded))
    count = 0
    for i in sorted(candidates):
        if pat.search(folded[i]):
            count += 1
            if count >= limit:
                break
    return count


class Retriever:
    """Dense + BM25 retrieval over a loaded index."""

    def __init__(self, index: LoadedIndex, bm25_b: float = BM25_B, bm25_k1: float = BM25_K1) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)

        self.index = index
        self.chunks = index.chunks
        docs = [content_tokens(c.search_text) for c in self.chunks]
        self._bm25 = bm25s.BM25(k1=bm25_k1, b=bm25_b)
        self._bm25.index(docs, show_progress=False)
        df = Counter(t for d in docs for t in set(d))
        n = len(docs)
        self.vocabulary = set(df)
        self.lowercase_stems = lowercase_stems(c.search_text for c in self.chunks)
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._max_idf = math.log(1 + (n + 0.5) / 0.5)
        self.names = self._system_names()
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
        return self._idf.get(token, self._max_idf)

    def _system_names(self) -> list[tuple[re.Pattern, str, list[int], bool]]:
        """Distinctive system names (poster and notes names, aliases) mapped to the chunks they name.

        Each entry is (pattern, name, chunk positions, cased); a cased pattern is matched against the question
        with its capitalisation kept (see `_is_ordinary_word`), the others against the folded question.
        """
        folded = [fold(c.search_text) for c in self.chunks]
        lowercase = self.lowercase_stems
        postings: dict[str, list[int]] = {}  # word -> chunks containing it, to test a name only where it can occur
        for i, text in enumerate(folded):
            for word in set(_WORD.findall(text)):
                postings.setdefault(word, []).append(i)
        by_name: dict[str, list[int]] = {}
        for i, c in enumerate(self.chunks):
            for name in [c.metadata.get("name") or "", *c.metadata.get("aliases", [])]:
                if len(name) >= 3:
                    by_name.setdefault(name, []).append(i)
        out = []
        for name, owners in by_name.items():
            pat = _name_pattern(name)
            if _looks_coined(name) or _count_matches(pat, name, folded, postings, MAX_NAME_DF + 1) <= MAX_NAME_DF:
                cased = _is_ordinary_word(name, lowercase)
                out.append((_name_pattern(name, cased) if cased else pat, name, owners, cased))
        return out

    def named_chunks(self, question: str) -> dict[int, str]:
        """Chunks whose system name the question mentions, with the name matched."""
        q, q_cased = fold(question), _strip_accents(question)
        hits: dict[int, str] = {}
        for pat, name, owners, cased in self.names:
            if pat.search(q_cased if cased else q):
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
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)

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

    def search(self, question: str, qvec: np.ndarray, k: int, candidates: int = 40, rrf_k: int = 60,
               dense_weight: float = 0.0, bm25_weight: float = 1.0, name_boost: float = 1.0,
               sentence_weight: float = 1.0, *, fusion: str = "zscore") -> list[Hit]:
        """Fused top-k hits for a question whose embedding is qvec.

        fusion="zscore" (default): weighted mean of the standard scores of BM25, best-sentence and whole-chunk
        cosine, over the chunks in any retriever's top `candidates`; a chunk the question names gains
        `name_boost` standard deviations. fusion="rrf": reciprocal rank fusion of the three rankings with
        constant `rrf_k`; a named chunk gains `name_boost` times the largest score fusion can give.
        """
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; expected one of {', '.join(FUSIONS)}")
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
