"""The FAISS index choice in rag/vectors.py: exact below Settings.ann_threshold, approximate above it."""
from __future__ import annotations

import faiss
import numpy as np
import pytest

from rag.config import Settings
from rag.vectors import auto_nlist, build_vector_index, chosen_kind, configure_search, describe

D = 64


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, centres: int = 50, noise: float = 0.5, seed: int = 0) -> np.ndarray:
    """n unit vectors around `centres` random centres: centre + Gaussian noise of norm ≈ `noise`, renormalised."""
    rng = np.random.default_rng(seed)
    base = _unit(rng.standard_normal((centres, D)))
    x = base[rng.integers(0, centres, n)] + rng.standard_normal((n, D)) * (noise / np.sqrt(D))
    return _unit(x)


def recall_at_10(index, data: np.ndarray, queries: np.ndarray) -> float:
    exact = faiss.IndexFlatIP(data.shape[1])
    exact.add(data)
    _, truth = exact.search(queries, 10)
    _, got = index.search(queries, 10)
    return float(np.mean([len(set(t) & set(g)) / 10 for t, g in zip(truth, got)]))


def test_below_threshold_is_exact_flat():
    x = clustered(500)
    index = build_vector_index(x, Settings(ann_threshold=1000))
    assert isinstance(index, faiss.IndexFlatIP) and index.ntotal == 500
    assert describe(index) == "flat"
    assert chosen_kind(999, Settings(ann_threshold=1000)) == "flat"
    assert chosen_kind(1000, Settings(ann_threshold=1000)) == "ivf"


def test_default_threshold_keeps_the_real_corpus_exact():
    assert Settings().index.ann_threshold > 10_000
    assert chosen_kind(282, Settings()) == "flat"


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_above_threshold_is_approximate_with_high_recall(kind):
    x = clustered(4000, seed=1)
    queries = clustered(100, seed=2)
    settings = Settings(ann_threshold=1000, ann_kind=kind)
    index = build_vector_index(x, settings)
    assert index.ntotal == 4000
    assert not isinstance(index, faiss.IndexFlat)
    assert describe(index).startswith(kind)
    assert recall_at_10(index, x, queries) >= 0.9
    # Positions are kept: reconstruct(i) returns row i (the retriever and answerer rely on it).
    np.testing.assert_allclose(index.reconstruct(17), x[17], atol=1e-6)
    np.testing.assert_allclose(index.reconstruct_n(0, 5), x[:5], atol=1e-6)


def test_ivf_survives_write_and_read_with_search_settings(tmp_path):
    x = clustered(3000, seed=3)
    index = build_vector_index(x, Settings(ann_threshold=100, ann_nlist=32, ann_nprobe=4))
    assert describe(index) == "ivf(nlist=32, nprobe=4)"
    faiss.write_index(index, str(tmp_path / "v.faiss"))
    loaded = configure_search(faiss.read_index(str(tmp_path / "v.faiss")), Settings(ann_nprobe=8))
    assert describe(loaded) == "ivf(nlist=32, nprobe=8)"
    np.testing.assert_allclose(loaded.reconstruct(123), x[123], atol=1e-6)
    # A flat index is left unchanged by configure_search.
    flat = build_vector_index(x[:10], Settings())
    assert configure_search(flat, Settings()) is flat


def test_auto_nlist_grows_with_size_and_stays_trainable():
    assert auto_nlist(1_000_000) == 4096
    assert auto_nlist(100_000) == 1024
    for n in (1, 50, 1000, 10_000):
        assert 1 <= auto_nlist(n) <= max(1, n // 40)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        build_vector_index(np.zeros(8, np.float32), Settings())


def test_a_flat_index_file_is_read_without_faiss_and_matches_it(tmp_path):
    from rag.vectors import FlatVectors, read_flat

    data = clustered(300)
    flat = build_vector_index(data, Settings())
    faiss.write_index(flat, str(tmp_path / "flat.faiss"))
    got = read_flat(tmp_path / "flat.faiss")
    assert isinstance(got, FlatVectors) and (got.ntotal, got.d) == (300, D)
    assert np.array_equal(got.reconstruct_n(0, 300), flat.reconstruct_n(0, 300))
    assert np.array_equal(got.reconstruct(17), flat.reconstruct(17)) and got.reconstruct(17).dtype == np.float32
    queries = clustered(5, seed=1)
    for a, b in zip(got.search(queries, 10), flat.search(queries, 10)):  # search: faiss itself, loaded on first use
        assert np.array_equal(a, b)
    ivf = build_vector_index(data, Settings(ann_threshold=100, ann_nlist=4))
    faiss.write_index(ivf, str(tmp_path / "ivf.faiss"))
    assert read_flat(tmp_path / "ivf.faiss") is None  # anything but IndexFlatIP: read by faiss
    l2 = faiss.IndexFlatL2(D)
    l2.add(data)
    faiss.write_index(l2, str(tmp_path / "l2.faiss"))
    assert read_flat(tmp_path / "l2.faiss") is None


def test_loading_an_index_for_an_answer_does_not_import_faiss(real_settings):
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; from rag.config import Settings; from rag.index import load_index; from rag.retrieve import "
            f"Retriever; Retriever(load_index(Settings(index_dir={str(real_settings.index_dir)!r}, "
            f"corpus_dir={str(real_settings.corpus_dir)!r}))); print('faiss' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "False"
