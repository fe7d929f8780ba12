"""This assistant's hybrid retrieval as a llama-index retriever (the optional `llamaindex` extra).

`HybridRetriever` runs the same search as `rag.ask()`: the question is cleaned the same way, embedded with the
configured MiniLM (or taken from `QueryBundle.embedding`), and fused from BM25, best-sentence and whole-chunk
scores with the name boost, under the same `Settings`. It returns one `NodeWithScore` per chunk, whose node id is
the chunk id, so a llama-index answer's `source_nodes` name the same passages `rag` would cite.

    from rag.llamaindex import HybridRetriever
    from llama_index.core.query_engine import RetrieverQueryEngine
    engine = RetrieverQueryEngine.from_args(HybridRetriever(), llm=my_llm)

`import rag` never imports this module (nor llama-index).
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from .config import Settings
from .embed import Embedder, embedder_for
from .types import Chunk, Hit

log = logging.getLogger(__name__)

__all__ = ["HybridRetriever", "search", "to_node"]

# Metadata that identifies rather than describes: kept on the node, not shown to the LLM.
_ID_KEYS = ("poster_id", "notes_ids", "source", "searchable", "url")
_SCALARS = (str, int, float, bool)


def _json_simple(value: Any) -> bool:
    """True for None, a str/int/float/bool, or a list of those."""
    if value is None or isinstance(value, _SCALARS):
        return True
    return isinstance(value, (list, tuple)) and all(isinstance(v, _SCALARS) for v in value)


def node_metadata(chunk: Chunk) -> dict[str, Any]:
    """The chunk's kind, title and url, plus its JSON-simple metadata (lists become lists)."""
    meta = {k: list(v) if isinstance(v, tuple) else v for k, v in chunk.metadata.items() if _json_simple(v)}
    return {**meta, "kind": chunk.kind, "title": chunk.title, "url": chunk.metadata.get("url")}


def to_node(hit: Hit) -> NodeWithScore:
    """A fused hit as a llama-index node: id = chunk id, text = chunk text, score = fused score."""
    meta = node_metadata(hit.chunk)
    node = TextNode(id_=hit.chunk.id, text=hit.chunk.text, metadata=meta,
                    excluded_llm_metadata_keys=[k for k in _ID_KEYS if k in meta],
                    excluded_embed_metadata_keys=list(meta))
    return NodeWithScore(node=node, score=float(hit.score))


def embed_query(texts: list[str], settings: Settings, embedder: Embedder | None = None) -> np.ndarray:
    """The query vector `ask()` would use: the mean of the texts' embeddings, unit length."""
    from .embed import encode_query

    vecs = encode_query(embedder or embedder_for(settings), texts)
    vec = np.asarray(vecs, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(vec))
    return vec / norm if len(texts) > 1 and norm > 0 else vec


def search(question: str, qvec: np.ndarray | None = None, *, k: int | None = None, settings: Settings | None = None,
           embedder: Embedder | None = None) -> list[Hit]:
    """`ask()`'s retrieval step: the cleaned question's fused top-k hits (qvec: a precomputed query embedding)."""
    from .pipeline import Pipeline

    pipeline = Pipeline(settings, embedder)
    q, _ = pipeline.validate(question)
    if qvec is None:
        qvec = pipeline.embed([q])[0]
    qvec = np.asarray(qvec, dtype=np.float32).reshape(-1)
    dim = pipeline.corpus.index.manifest.get("dimension")
    if dim and qvec.shape[0] != dim:
        raise ValueError(f"query embedding has {qvec.shape[0]} dimensions; the index's "
                         f"{pipeline.settings.index.embed_model} has {dim}")
    return pipeline.retrieve(q, qvec, k)


class HybridRetriever(BaseRetriever):
    """llama-index retriever over this assistant's index: BM25 + MiniLM sentence vectors, fused as in `ask()`."""

    def __init__(self, settings: Settings | None = None, k: int | None = None, *, embedder: Embedder | None = None,
                 callback_manager: CallbackManager | None = None, verbose: bool = False) -> None:
        """Settings default to `Settings()` (RAG_* environment); k defaults to `settings.retrieval.k`."""
        super().__init__(callback_manager=callback_manager, verbose=verbose)
        self.settings = settings or Settings()
        self.k = k or self.settings.retrieval.k
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        """The query embedder, created on first use."""
        if self._embedder is None:
            self._embedder = embedder_for(self.settings)
        return self._embedder

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        """Top-k nodes for the query; uses `query_bundle.embedding` when given, else embeds `embedding_strs`."""
        qvec = query_bundle.embedding
        strs = query_bundle.custom_embedding_strs
        if qvec is None and strs:
            qvec = embed_query(list(strs), self.settings, self.embedder)
        hits = search(query_bundle.query_str, qvec, k=self.k, settings=self.settings, embedder=self.embedder)
        log.debug("HybridRetriever: %d hits for %r", len(hits), query_bundle.query_str[:80])
        return [to_node(h) for h in hits]
