"""The peer: llama-index's defaults over the raw corpus files, with the same MiniLM, entirely offline.

`VectorStoreIndex.from_documents` with its default transformation (`SentenceSplitter`, 1024-token chunks with
200 overlap), the default in-memory `SimpleVectorStore`, and `HuggingFaceEmbedding` loading the packaged
all-MiniLM-L6-v2 folder from disk (`rag.embed.packaged_model_dir`). No LLM: `Settings.llm = None`.

Keeping it offline. llama-index and its dependencies fetch data at run time unless told where it is:
- SentenceSplitter counts tokens with tiktoken's cl100k_base, which tiktoken downloads unless
  `TIKTOKEN_CACHE_DIR` holds it; llama-index ships it in `llama_index/core/_static/tiktoken_cache`.
- its NLTK helpers (punkt_tab, stopwords) download unless found; llama-index ships them in
  `llama_index/core/_static/nltk_cache`, and `NLTK_DATA` pins that folder.
- sentence-transformers / huggingface_hub: `HF_HUB_OFFLINE=1` and a local model path.
- `LLAMA_INDEX_CACHE_DIR` points its cache into a temporary folder instead of the user's.
`offline_env()` sets all of these before llama-index is imported; the benchmark and the test run under
`unshare -n` (no network) to prove it.

Beside it, on the same questions: `rag.llamaindex.HybridRetriever` (our BM25 + sentence-vector search over our
index) running inside llama-index as a `BaseRetriever`, so the two rows differ in retrieval and chunking only.

Run alone: python -m bench.peer [--limit N]  (our side uses the index at RAG_INDEX_DIR, building it if missing)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.stats import summarize


def llama_index_static_dir() -> Path | None:
    """llama-index's bundled data folder (tiktoken and NLTK caches), or None if llama-index is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "_static"


def offline_env() -> dict[str, str]:
    """Point tiktoken, NLTK, huggingface and llama-index at local data; returns what it set."""
    static = llama_index_static_dir()
    if static is None:
        raise ImportError("llama-index is not installed: pip install -e '.[bench]'")
    env = {
        "TIKTOKEN_CACHE_DIR": str(static / "tiktoken_cache"),
        "NLTK_DATA": str(static / "nltk_cache"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "LLAMA_INDEX_CACHE_DIR": os.environ.get("LLAMA_INDEX_CACHE_DIR")
        or str(Path(tempfile.gettempdir()) / "llama_index_cache"),
    }
    os.environ.update(env)
    return env


class Peer:
    """A llama-index VectorStoreIndex with default chunking over the given files."""

    def __init__(self, files: list[Path], model_dir: Path, top_k: int = 5) -> None:
        offline_env()
        import logging

        logging.getLogger("llama_index").setLevel(logging.WARNING)
        from llama_index.core import Settings as LISettings
        from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        t = time.perf_counter()
        self.embed_model = HuggingFaceEmbedding(model_name=str(model_dir), device="cpu")
        LISettings.llm = None  # never the OpenAI default
        LISettings.embed_model = self.embed_model
        self.model_load_s = time.perf_counter() - t
        t = time.perf_counter()
        docs = SimpleDirectoryReader(input_files=[str(f) for f in files]).load_data(show_progress=False)
        self.index = VectorStoreIndex.from_documents(docs, embed_model=self.embed_model, show_progress=False)
        self.build_s = time.perf_counter() - t
        self.documents = len(docs)
        self.nodes = len(self.index.docstore.docs)
        self.retriever = self.index.as_retriever(similarity_top_k=top_k)

    def retrieve(self, question: str) -> list[str]:
        """Texts of the top-k nodes for the question (query embedding included)."""
        return [n.node.get_content() for n in self.retriever.retrieve(question)]

    def timed_retrieve(self, question: str) -> tuple[list[str], float, float]:
        """(texts, query-embedding ms, total retrieve ms)."""
        t = time.perf_counter()
        self.embed_model.get_query_embedding(question)
        embed_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        texts = self.retrieve(question)
        return texts, embed_ms, (time.perf_counter() - t) * 1000


def measure_hybrid(items: list[dict], repeats: int = 3, settings=None) -> dict:
    """Our retriever inside llama-index (`rag.llamaindex.HybridRetriever.retrieve`) on the gold items: evidence in
    the top 5, latency with the query embedding, and the same search called directly (the difference is what
    llama-index's retrieve path and the node conversion cost)."""
    from eval.metrics import evidence_in_contexts, mean

    from rag.config import Settings
    from rag.llamaindex import HybridRetriever, search

    offline_env()
    settings = settings or Settings()
    retriever = HybridRetriever(settings, k=5)
    for item in items[:5]:  # load the index and warm the embedder
        retriever.retrieve(item["user_input"])
    evidence, total_ms, direct_ms = [], [], []
    for r in range(repeats):
        for item in items:
            q = item["user_input"]
            t = time.perf_counter()
            nodes = retriever.retrieve(q)
            total_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            search(q, k=5, settings=settings, embedder=retriever.embedder)
            direct_ms.append((time.perf_counter() - t) * 1000)
            if r == 0 and item["evidence"]:
                texts = [f"{n.node.metadata['title']}\n{n.node.get_content()}" for n in nodes]
                evidence.append(evidence_in_contexts(item["evidence"], texts))
    return {"retrieve_ms": summarize(total_ms), "direct_search_ms": summarize(direct_ms),
            "evidence_in_top5": mean(evidence), "evidence_questions": len(evidence)}


def measure(items: list[dict], repeats: int = 3, settings=None) -> dict:
    """Build the peer over the raw corpus files and score it on the gold items (evidence-in-top-5, latency), beside
    our retriever running inside llama-index on the same items (under "hybrid")."""
    from eval.metrics import evidence_in_contexts, mean

    from rag.config import Settings, corpus_files
    from rag.embed import packaged_model_dir

    settings = settings or Settings()
    peer = Peer(corpus_files(settings), packaged_model_dir(settings.cache_dir))
    peer.retrieve("warm-up question")
    evidence, total_ms, embed_ms = [], [], []
    for r in range(repeats):
        for item in items:
            texts, e_ms, ms = peer.timed_retrieve(item["user_input"])
            total_ms.append(ms)
            embed_ms.append(e_ms)
            if r == 0 and item["evidence"]:
                evidence.append(evidence_in_contexts(item["evidence"], texts))
    return {
        "documents": peer.documents, "nodes": peer.nodes, "model_load_s": peer.model_load_s, "build_s": peer.build_s,
        "retrieve_ms": summarize(total_ms), "query_embed_ms": summarize(embed_ms),
        "evidence_in_top5": mean(evidence), "evidence_questions": len(evidence),
        "hybrid": measure_hybrid(items, repeats, settings),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args(argv)
    from eval.gold import load_gold

    out = measure(load_gold(limit=args.limit), args.repeats)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
