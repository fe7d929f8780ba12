"""An `Embedder` wrapper that keeps every vector it computes on disk, keyed by a hash of the model and the text.

Benchmarks embed thousands of abstracts and hundreds of thousands of sentences; with the cache a rerun (or a
run on an overlapping corpus) embeds only texts it has not seen. Vectors are stored as float16 (as the index
stores sentence vectors) and every vector is returned rounded through float16, fresh or cached, so a first run
and a rerun give identical figures.
"""
from __future__ import annotations

import hashlib
import logging
import os
import uuid
from pathlib import Path

import numpy as np

from .text import slug

log = logging.getLogger(__name__)

FLUSH_EVERY = 20_000  # pending vectors written to a new shard file (a killed run keeps what it embedded)


def text_key(model: str, text: str) -> bytes:
    """16-byte key of a text under a model."""
    return hashlib.sha256(f"{model}\x00{text}".encode()).digest()[:16]


class CachedEmbedder:
    """Wraps an embedder; `encode` embeds only texts not already in the cache folder."""

    def __init__(self, inner, cache_dir: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.folder = Path(cache_dir) / "embeddings" / slug(self.name, 8)
        self._rows: dict[bytes, int] = {}
        self._blocks: list[np.ndarray] = []
        self._size = 0
        self._pending: list[tuple[bytes, np.ndarray]] = []
        self.hits = self.misses = 0
        self._load()

    def _load(self) -> None:
        """Read every shard of this model's cache folder."""
        if not self.folder.exists():
            return
        for shard in sorted(self.folder.glob("*.npz")):
            try:
                with np.load(shard) as z:
                    keys, vecs = z["keys"], z["vectors"]
            except (OSError, ValueError, KeyError) as e:
                log.warning("ignoring unreadable embedding cache shard %s (%s)", shard, e)
                continue
            self._add([row.tobytes() for row in np.asarray(keys, dtype=np.uint8).reshape(-1, 16)], vecs)
        log.info("embedding cache %s: %d vectors", self.folder, self._size)

    def _add(self, keys: list[bytes], vecs: np.ndarray) -> None:
        vecs = np.asarray(vecs, dtype=np.float16)
        for i, k in enumerate(keys):
            self._rows.setdefault(k, self._size + i)
        self._blocks.append(vecs)
        self._size += len(keys)

    def _matrix(self) -> np.ndarray:
        if len(self._blocks) > 1:
            self._blocks = [np.vstack(self._blocks)]
        return self._blocks[0] if self._blocks else np.zeros((0, self.dimension), np.float16)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """L2-normalised float32 rows for texts (rounded through float16), embedding only unseen texts."""
        keys = [text_key(self.name, t) for t in texts]
        missing: dict[bytes, str] = {}
        for k, t in zip(keys, texts):
            if k not in self._rows and k not in missing:
                missing[k] = t
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            new = np.asarray(self.inner.encode(list(missing.values()), batch_size), dtype=np.float16)
            self._add(list(missing), new)
            self._pending.extend(zip(missing, new))
            if len(self._pending) >= FLUSH_EVERY:
                self.flush()
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        matrix = self._matrix()
        return matrix[[self._rows[k] for k in keys]].astype(np.float32)

    def flush(self) -> None:
        """Write the vectors embedded since the last flush as a new shard (atomically)."""
        if not self._pending:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        keys = np.frombuffer(b"".join(k for k, _ in self._pending), dtype=np.uint8).reshape(-1, 16)
        vecs = np.vstack([v for _, v in self._pending]).astype(np.float16)
        name = uuid.uuid4().hex[:12]
        tmp = self.folder / f".{name}.tmp.npz"
        np.savez(tmp, keys=keys, vectors=vecs)
        os.replace(tmp, self.folder / f"{name}.npz")
        log.info("cached %d new embeddings in %s", len(keys), self.folder)
        self._pending = []
