"""Which FAISS index holds the chunk vectors: exact inner product below a size threshold, approximate above it.

Below `Settings.ann_threshold` vectors (50,000 by default; the real corpus has 282) the index is `IndexFlatIP`:
exact, nothing to train, and a full scan of a few thousand vectors costs well under a millisecond. Above it, an
approximate index keeps a query in the low milliseconds at a million chunks:

- `ivf` (default): IVF-Flat. The vectors are split into `nlist` k-means cells and a query scans the `nprobe`
  nearest cells. Vectors are stored uncompressed, so results are exact within the scanned cells and memory stays
  ~4·d bytes a vector (1.5 GB at 1M × 384). It trains on a sample in seconds, where HNSW on two cores takes
  many minutes to build at 1M.
- `hnsw`: HNSW-Flat graph (`hnsw_m` links a node, `ef_search` candidates at query time). Faster and more accurate
  per query at the same memory plus ~8·M bytes a vector, but slow to build.

The search parameters (`nprobe`, `ef_search`) are query-time settings: `configure_search` applies them to an index
loaded from disk, so changing them needs no rebuild. IVF indexes keep a direct map so that `reconstruct` works
(the retriever and answerer read chunk vectors back from the index).
"""
from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np

KINDS = ("flat", "ivf", "hnsw")
TRAIN_POINTS_PER_CELL = 40  # k-means sample per IVF cell (FAISS warns below 39)


def auto_nlist(n: int) -> int:
    """IVF cells for n vectors: about 4·√n rounded to a power of two, at most n/40 (enough k-means points a cell)."""
    target = 4 * math.sqrt(max(n, 1))
    nlist = 2 ** round(math.log2(target))
    nlist = min(nlist, n // TRAIN_POINTS_PER_CELL, 65_536)
    return int(max(1, nlist))


def chosen_kind(n: int, settings) -> str:
    """'flat' below settings.index.ann_threshold vectors, else settings.index.ann_kind."""
    return "flat" if n < settings.index.ann_threshold else settings.index.ann_kind


def build_vector_index(vectors: np.ndarray, settings, *, seed: int = 1234):
    """A FAISS inner-product index over L2-normalised float32 rows, of the kind `chosen_kind` picks."""
    import faiss

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"vectors must be a 2-d array, not shape {x.shape}")
    n, d = x.shape
    kind = chosen_kind(n, settings)
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
        index.add(x)
        return index
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, settings.index.ann_hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.index.ann_ef_construction
        index.add(x)
        configure_search(index, settings)
        return index
    if kind == "ivf":
        nlist = settings.index.ann_nlist or auto_nlist(n)
        nlist = max(1, min(nlist, n))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        sample = x
        limit = TRAIN_POINTS_PER_CELL * nlist
        if n > limit:
            rows = np.random.default_rng(seed).choice(n, size=limit, replace=False)
            sample = x[np.sort(rows)]
        index.train(sample)
        index.add(x)
        index.make_direct_map()  # reconstruct(i) by position, as the flat index allows
        configure_search(index, settings)
        return index
    raise ValueError(f"unknown ann_kind {kind!r}; expected one of {', '.join(KINDS[1:])}")


def configure_search(index, settings):
    """Apply the query-time settings (IVF nprobe, HNSW efSearch) to an index; flat indexes are left as they are."""
    import faiss

    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = settings.index.ann_ef_search
        return index
    try:
        ivf = faiss.extract_index_ivf(index)
    except (RuntimeError, AttributeError):
        return index
    ivf.nprobe = max(1, min(settings.index.ann_nprobe, ivf.nlist))
    return index


def describe(index) -> str:
    """A short label for an index: 'flat', 'ivf(nlist=4096, nprobe=32)', 'hnsw(M=32, efSearch=64)'."""
    import faiss

    if isinstance(index, faiss.IndexFlat):
        return "flat"
    if isinstance(index, faiss.IndexHNSW):
        return f"hnsw(M={index.hnsw.nb_neighbors(1)}, efSearch={index.hnsw.efSearch})"
    try:
        ivf = faiss.extract_index_ivf(index)
        return f"ivf(nlist={ivf.nlist}, nprobe={ivf.nprobe})"
    except (RuntimeError, AttributeError):
        return type(index).__name__


_FLAT_IP = b"IxFI"  # faiss's fourcc for IndexFlatIP
_FLAT_HEADER = struct.Struct("<4siqqq?i")  # fourcc, d, ntotal, two dummies, is_trained, metric_type (faiss 1.x)
_METRIC_INNER_PRODUCT = 0


class FlatVectors:
    """An exact inner-product index read from faiss's IndexFlatIP file without importing faiss.

    The answer path only reads chunk vectors back (`reconstruct`, `reconstruct_n`); those come from the file's
    float32 rows, memory-mapped. Anything else (`search`, used by the dense-only evaluation) loads the file with
    faiss on first use and delegates, so results are faiss's own. Importing faiss was ~0.1 s of a cold start.
    """

    def __init__(self, path: Path, vectors: np.ndarray) -> None:
        self.path, self._vectors, self._faiss = path, vectors, None
        self.ntotal, self.d = int(vectors.shape[0]), int(vectors.shape[1])

    def reconstruct(self, i: int) -> np.ndarray:
        """Row i as a new float32 array (as faiss returns it)."""
        return np.array(self._vectors[int(i)], dtype=np.float32)

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        """Rows start..start+n as a new float32 array."""
        return np.array(self._vectors[int(start):int(start) + int(n)], dtype=np.float32)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if self._faiss is None:
            import faiss

            self._faiss = faiss.read_index(str(self.path))
        return getattr(self._faiss, name)


def read_flat(path: Path) -> FlatVectors | None:
    """The file's vectors as FlatVectors if it holds a faiss IndexFlatIP, else None (read it with faiss)."""
    with open(path, "rb") as f:
        head = f.read(_FLAT_HEADER.size + 8)
    if len(head) < _FLAT_HEADER.size + 8 or head[:4] != _FLAT_IP:
        return None
    _, d, ntotal, _, _, _, metric = _FLAT_HEADER.unpack_from(head)
    (count,) = struct.unpack_from("<Q", head, _FLAT_HEADER.size)
    if metric != _METRIC_INNER_PRODUCT or count != d * ntotal or path.stat().st_size != len(head) + 4 * count:
        return None  # an unexpected layout (metric argument, another faiss version): let faiss read it
    vectors = np.memmap(path, dtype="<f4", mode="r", offset=len(head), shape=(ntotal, d)) if ntotal else \
        np.zeros((0, d), np.float32)
    return FlatVectors(path, vectors)
