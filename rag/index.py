"""Build, save, load and validate `index/`: FAISS vectors, chunks, sentence vectors and a manifest."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .config import Settings, corpus_files, file_sha256, index_fingerprint
from .corpus import load_corpus
from .embed import Embedder, embedder_identity
from .lexicon import LEXICON_FILE, Lexicon, build_lexicon, lexicon_key, load_lexicon, save_lexicon
from .sentences import chunk_sentences
from .types import Chunk
from .vectors import build_vector_index, configure_search, read_flat

if TYPE_CHECKING:  # pragma: no cover - faiss is imported only where an index is built or read
    import faiss

log = logging.getLogger(__name__)

FAISS_FILE, CHUNKS_FILE, SENTS_FILE, MANIFEST_FILE = "vectors.faiss", "chunks.jsonl", "sentences.npy", "manifest.json"
INDEX_FORMAT = 1
BLOCK_BATCHES = 4  # batches per worker in one encode call while building (the progress bar moves per call)


class IndexError_(RuntimeError):
    """Base class for index problems."""


class IndexMissingError(IndexError_):
    """No index has been built yet."""


class IndexStaleError(IndexError_):
    """The index was built from other corpus files or settings."""


class IndexCorruptError(IndexError_):
    """The index files are damaged or inconsistent."""


@dataclass
class LoadedIndex:
    """An index in memory: chunks, their vectors, and per-sentence vectors for answer selection."""

    chunks: list[Chunk]
    faiss_index: faiss.Index
    sentences: list[list[str]]
    sentence_vectors: np.ndarray
    sentence_owner: np.ndarray  # chunk position of each sentence row
    manifest: dict
    lexicon: Lexicon | None = None  # read from the folder; None: the retriever derives it

    @property
    def fingerprint(self) -> str:
        """The fingerprint recorded when the index was built."""
        return self.manifest["fingerprint"]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _lock(settings: Settings):
    from filelock import FileLock

    settings.index_dir.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(settings.index_dir.parent / f".{settings.index_dir.name}.lock"), timeout=600)


def build_index(settings: Settings, embedder: Embedder, progress: bool = True) -> Path:
    """Chunk the corpus, embed it and write the index atomically (temp dir, then rename), under a file lock."""
    with _lock(settings):
        return _build_locked(settings, embedder, progress)


def _build_locked(settings: Settings, embedder: Embedder, progress: bool) -> Path:
    import faiss

    from .memindex import embed_chunks, embedding_plan

    t0 = time.perf_counter()
    # We hold the lock, so any temp or old folder left here is from a build that was killed: remove it.
    for stale in settings.index_dir.parent.glob(f".{settings.index_dir.name}.[to][ml][pd]-*"):
        log.info("removing %s left by an interrupted build", stale)
        shutil.rmtree(stale, ignore_errors=True)
    chunks = load_corpus(settings.corpus_dir)
    log.info("chunked corpus into %d chunks", len(chunks))
    identity = embedder_identity(embedder)  # before embedding: a model hash that cannot be read fails fast
    plan = embedding_plan(len(chunks))
    if plan == "full":
        sentences = [chunk_sentences(c) for c in chunks]
        flat = [s for ss in sentences for s in ss]
        vecs = _embed_all(embedder, [c.embed_text for c in chunks] + flat, settings.index.embed_batch_size, progress)
        chunk_vecs, sent_vecs = vecs[: len(chunks)], vecs[len(chunks):]
    else:  # large corpora: see rag.memindex.FULL_PLAN_MAX_CHUNKS
        sentences, chunk_vecs, sent_vecs = embed_chunks(chunks, embedder, settings, plan)
        flat = [s for ss in sentences for s in ss]

    # Exact IndexFlatIP below settings.index.ann_threshold chunks (the real corpus), an approximate index above it.
    index = build_vector_index(chunk_vecs.reshape(-1, embedder.dimension), settings)

    parent = settings.index_dir.parent
    tmp = parent / f".{settings.index_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    faiss.write_index(index, str(tmp / FAISS_FILE))
    records = [dict(c.to_dict(), sentences=s) for c, s in zip(chunks, sentences)]
    chunk_bytes = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    (tmp / CHUNKS_FILE).write_bytes(chunk_bytes)
    save_lexicon(tmp / LEXICON_FILE, build_lexicon(chunks), lexicon_key(_sha(chunk_bytes)))
    np.save(tmp / SENTS_FILE, sent_vecs.astype(np.float16))
    manifest = {
        "format": INDEX_FORMAT,
        "model": embedder.name,
        "embedder": identity,
        "dimension": embedder.dimension,
        "chunk_settings": settings.chunk_settings(),
        "corpus_files": {p.name: file_sha256(p) for p in corpus_files(settings)},
        "fingerprint": index_fingerprint(settings),
        "chunk_count": len(chunks),
        "embedding_plan": plan,
        "sentence_count": len(flat),
        "files": {n: file_sha256(tmp / n) for n in (FAISS_FILE, CHUNKS_FILE, SENTS_FILE)},
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.perf_counter() - t0, 2),
    }
    (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    for f in tmp.iterdir():  # make the files durable before the rename publishes them
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())

    old = parent / f".{settings.index_dir.name}.old-{os.getpid()}"
    if settings.index_dir.exists():
        os.rename(settings.index_dir, old)
    os.rename(tmp, settings.index_dir)
    shutil.rmtree(old, ignore_errors=True)
    log.info("built index %s: %d chunks, %d sentences in %.1fs", manifest["fingerprint"],
             len(chunks), len(flat), time.perf_counter() - t0)
    return settings.index_dir


def _embed_all(embedder: Embedder, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
    """Embed texts in batches behind one progress bar; rows come back in the order of `texts`.

    Texts are embedded shortest first, so each batch pads to similar lengths: at batch 32 on ONNX, 118 s instead of
    166 s in corpus order (load ≈ 10), where one sentence batched with a 256-token abstract costs as much as it.
    """
    from tqdm import tqdm

    out = np.zeros((len(texts), embedder.dimension), np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    # A block of whole batches per call, so that an embedder with workers (OnnxEmbedder) runs them side by side; the
    # batches are the same as one at a time (the block is already sorted, and sorting is stable).
    workers = getattr(embedder, "workers", 0)
    block = batch_size * BLOCK_BATCHES * workers if workers else batch_size
    with tqdm(total=len(texts), desc="Embedding chunks and sentences", unit="text", disable=not progress) as bar:
        for i in range(0, len(order), block):
            rows = order[i:i + block]
            out[rows] = embedder.encode([texts[j] for j in rows], batch_size)
            bar.update(len(rows))
    return out


def read_manifest(index_dir: Path) -> dict:
    """The manifest of an index folder; raises IndexMissingError or IndexCorruptError."""
    path = index_dir / MANIFEST_FILE
    if not path.exists():
        raise IndexMissingError(f"No index at {index_dir}. Build it with `rag build`.")
    try:
        manifest = json.loads(path.read_text())
        manifest["fingerprint"], manifest["files"], manifest["chunk_count"]  # noqa: B018 - key check
    except (ValueError, KeyError, TypeError) as e:
        raise IndexCorruptError(f"Index manifest {path} is unreadable ({e}). Rebuild with `rag build --force`.") from e
    return manifest


def check_fresh(manifest: dict, settings: Settings, embedder: Embedder | None = None) -> None:
    """Raise IndexStaleError if the corpus, chunk settings or (given one) the embedder changed since the build.

    The embedder matches when every field of its identity (runtime, precision, model file hash...) equals the
    manifest's: vectors from another model file must never be searched with this one's questions.
    """
    changed = embedder_changes(manifest, embedder) if embedder is not None else []
    if changed:
        raise IndexStaleError(f"Index {manifest['fingerprint']} is stale (built by another embedder: "
                              + ", ".join(changed) + ").")
    current = index_fingerprint(settings)
    if manifest["fingerprint"] != current:
        changed = [n for n, h in {p.name: file_sha256(p) for p in corpus_files(settings)}.items()
                   if manifest.get("corpus_files", {}).get(n) != h]
        why = f"corpus files changed: {', '.join(changed)}" if changed else "chunk or model settings changed"
        raise IndexStaleError(f"Index {manifest['fingerprint']} is stale ({why}).")


def embedder_changes(manifest: dict, embedder: Embedder) -> list[str]:
    """How the embedder differs from the one that built the index ("runtime 'torch' → now 'onnx'"), or []."""
    built = manifest.get("embedder") or {"name": manifest.get("model")}
    now = embedder_identity(embedder)
    return [f"{k} {built.get(k)!r} → now {v!r}" for k, v in sorted(now.items()) if built.get(k) != v]


def _read_faiss(path: Path, settings: Settings):
    import faiss

    return configure_search(faiss.read_index(str(path)), settings)


def load_index(settings: Settings) -> LoadedIndex:
    """Load and verify an index: every file's hash must match the manifest, counts must agree."""
    d = settings.index_dir
    manifest = read_manifest(d)
    fix = "Rebuild it with `rag build --force`."
    for name, digest in manifest["files"].items():
        f = d / name
        if not f.exists():
            raise IndexCorruptError(f"Index file {f} is missing. {fix}")
        if file_sha256(f) != digest:
            raise IndexCorruptError(f"Index file {f} does not match its manifest (truncated or modified). {fix}")
    try:
        index = read_flat(d / FAISS_FILE) or _read_faiss(d / FAISS_FILE, settings)
        # One record per "\n": splitlines() would also split inside a text holding U+2028 or U+0085.
        records = [json.loads(line) for line in (d / CHUNKS_FILE).read_text(encoding="utf-8").split("\n") if line]
        sent_vecs = np.load(d / SENTS_FILE).astype(np.float32)
    except Exception as e:  # faiss raises RuntimeError, json ValueError, numpy ValueError
        raise IndexCorruptError(f"Index at {d} cannot be read ({e}). {fix}") from e
    if not (index.ntotal == len(records) == manifest["chunk_count"]):
        raise IndexCorruptError(
            f"Index at {d} is inconsistent: {index.ntotal} vectors, {len(records)} chunks, "
            f"manifest says {manifest['chunk_count']}. {fix}")
    sentences = [r.pop("sentences") for r in records]
    if sum(map(len, sentences)) != sent_vecs.shape[0]:
        raise IndexCorruptError(f"Index at {d} has mismatched sentence vectors. {fix}")
    chunks = [Chunk(**r) for r in records]
    owner = np.repeat(np.arange(len(chunks)), [len(s) for s in sentences])
    lexicon = load_lexicon(d, chunks, manifest["files"][CHUNKS_FILE])
    return LoadedIndex(chunks, index, sentences, sent_vecs, owner, manifest, lexicon)
