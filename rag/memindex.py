"""An index held in memory only: chunks, their vectors and sentence vectors, as `rag.index.load_index` returns.

Benchmarks build the project's real `Retriever` over corpora that are never written to `index/`; this module
embeds exactly what `rag.index.build_index` embeds (each chunk's `embed_text` and its `chunk_sentences`), so the
figures they report are the figures of the real retriever.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from .config import Settings
from .embed import Embedder
from .index import LoadedIndex
from .sentences import chunk_sentences
from .types import Chunk
from .vectors import build_vector_index

log = logging.getLogger(__name__)

ENCODE_BLOCK = 1024  # texts per encode call: large enough for length-sorted batching, small enough to log progress
# Above this many chunks an index is embedded with the lean plan. Measured on the shared 2-core machine (load
# 10-18 from other jobs): MiniLM embedded 2.8 abstracts or about 25 sentences a second, so the full plan took
# 35 minutes for SciFact's 5,183 abstracts alone, and for 22,388 papers (22,388 abstracts + 180,989 sentences)
# it would take hours; even 100 words a paper ran at 1.2-2.4 papers a second (over 2.5 hours).
FULL_PLAN_MAX_CHUNKS = 10_000
# Lean plan: one short vector per chunk, of its title (or, without a title, its first LEAN_WORDS words). Every
# sentence of the chunk shares that vector, so the dense signals become title similarity; BM25 still reads the
# whole text. A title is 10-20 word pieces against 200-256 for an abstract, an order of magnitude less work.
LEAN_WORDS = 32
PLANS = ("full", "lean")


def embed_texts(embedder: Embedder, texts: list[str], batch_size: int, label: str = "texts") -> np.ndarray:
    """Embed texts block by block, logging progress (and flushing a caching embedder after each block)."""
    out = []
    t0 = time.perf_counter()
    for start in range(0, len(texts), ENCODE_BLOCK):
        out.append(embedder.encode(texts[start:start + ENCODE_BLOCK], batch_size))
        if hasattr(embedder, "flush"):
            embedder.flush()
        done = min(start + ENCODE_BLOCK, len(texts))
        log.info("embedded %d/%d %s in %.0f s", done, len(texts), label, time.perf_counter() - t0)
    return np.vstack(out) if out else np.zeros((0, embedder.dimension), np.float32)


def embedding_plan(n_chunks: int) -> str:
    """'full' (every chunk and every sentence embedded) up to FULL_PLAN_MAX_CHUNKS chunks, else 'lean'."""
    return "full" if n_chunks <= FULL_PLAN_MAX_CHUNKS else "lean"


def lean_text(chunk: Chunk) -> str:
    """What the lean plan embeds for a chunk: its title, else the first LEAN_WORDS words of its text."""
    return chunk.title.strip() or " ".join(chunk.text.split()[:LEAN_WORDS])


def embed_chunks(chunks: list[Chunk], embedder: Embedder, settings: Settings, plan: str | None = None
                 ) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """(sentences per chunk, chunk vectors, sentence vectors) under the plan (embedding_plan's choice by default)."""
    plan = plan or embedding_plan(len(chunks))
    if plan not in PLANS:
        raise ValueError(f"unknown embedding plan {plan!r}; expected one of {', '.join(PLANS)}")
    sentences = [chunk_sentences(c) for c in chunks]
    flat = [s for ss in sentences for s in ss]
    owner = np.repeat(np.arange(len(chunks)), [len(s) for s in sentences])
    log.info("embedding %d chunks and %d sentences with the %s plan", len(chunks), len(flat), plan)
    if plan == "full":
        chunk_vecs = embed_texts(embedder, [c.embed_text for c in chunks], settings.index.embed_batch_size, "chunks")
        sent_vecs = embed_texts(embedder, flat, settings.index.embed_batch_size, "sentences")
    else:
        chunk_vecs = embed_texts(embedder, [lean_text(c) for c in chunks], settings.index.embed_batch_size, "chunks")
        sent_vecs = chunk_vecs[owner] if len(owner) else np.zeros((0, embedder.dimension), np.float32)
    return sentences, chunk_vecs.reshape(-1, embedder.dimension), sent_vecs.reshape(-1, embedder.dimension)


def memory_index(chunks: list[Chunk], embedder: Embedder, settings: Settings | None = None,
                 plan: str | None = None) -> LoadedIndex:
    """Embed chunks and their sentences and return them as a LoadedIndex (nothing written to disk)."""
    settings = settings or Settings()
    plan = plan or embedding_plan(len(chunks))
    sentences, chunk_vecs, sent_vecs = embed_chunks(chunks, embedder, settings, plan)
    index = build_vector_index(chunk_vecs, settings)
    owner = np.repeat(np.arange(len(chunks)), [len(s) for s in sentences])
    manifest = {"fingerprint": "memory", "chunk_count": len(chunks), "sentence_count": int(len(owner)),
                "files": {}, "model": embedder.name, "dimension": embedder.dimension, "embedding_plan": plan}
    return LoadedIndex(list(chunks), index, sentences, sent_vecs.astype(np.float16).astype(np.float32), owner,
                       manifest)
