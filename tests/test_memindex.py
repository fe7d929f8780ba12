"""The embedding cache and the in-memory index with its embedding plans (hash embedder, no model)."""
from __future__ import annotations

import numpy as np

from rag.config import Settings
from rag.embcache import CachedEmbedder
from rag.memindex import FULL_PLAN_MAX_CHUNKS, embedding_plan, lean_text, memory_index
from rag.retrieve import Retriever
from rag.types import Chunk


class Counting:
    """Wraps an embedder and counts the texts it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dimension, self.seen = inner, inner.name, inner.dimension, []

    def encode(self, texts, batch_size=32):
        self.seen.extend(texts)
        return self.inner.encode(texts, batch_size)


def test_cache_embeds_each_text_once_and_survives_a_restart(tmp_path, hash_embedder):
    inner = Counting(hash_embedder)
    cache = CachedEmbedder(inner, tmp_path)
    a = cache.encode(["alpha beta", "gamma", "alpha beta"])
    assert inner.seen == ["alpha beta", "gamma"] and a.dtype == np.float32 and a.shape == (3, 64)
    assert np.array_equal(a[0], a[2])
    cache.encode(["gamma"])
    assert inner.seen == ["alpha beta", "gamma"] and (cache.hits, cache.misses) == (2, 2)
    cache.flush()
    again = Counting(hash_embedder)
    b = CachedEmbedder(again, tmp_path).encode(["gamma", "alpha beta", "new text"])
    assert again.seen == ["new text"]
    assert np.array_equal(b[0], a[1]) and np.array_equal(b[1], a[0])
    assert np.allclose(b[2], hash_embedder.encode(["new text"])[0], atol=1e-3)


CHUNKS = [Chunk(f"d:{i}", "paper", f"Title {w}", f"First sentence about {w}. Second sentence on {w} results.",
                {"authors": ["A B"]}) for i, w in enumerate(["cats", "dogs", "birds"])]


def test_full_and_lean_plans(hash_embedder):
    assert embedding_plan(FULL_PLAN_MAX_CHUNKS) == "full" and embedding_plan(FULL_PLAN_MAX_CHUNKS + 1) == "lean"
    full = memory_index(CHUNKS, hash_embedder, Settings(), plan="full")
    lean = memory_index(CHUNKS, hash_embedder, Settings(), plan="lean")
    assert full.sentences == lean.sentences and len(full.sentences[0]) == 3  # two sentences and an author fact
    assert lean.manifest["embedding_plan"] == "lean"
    assert lean_text(CHUNKS[0]) == "Title cats"
    chunk_vecs = lean.faiss_index.reconstruct_n(0, 3)
    assert np.allclose(lean.sentence_vectors, chunk_vecs[lean.sentence_owner], atol=1e-3)
    assert not np.allclose(full.sentence_vectors[0], full.sentence_vectors[1])
    hits = Retriever(full).search("dogs results", hash_embedder.encode(["dogs results"])[0], 2)
    assert hits[0].chunk.id == "d:1"
