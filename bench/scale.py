"""Scale: exact and approximate FAISS search and bm25s BM25 over synthetic corpora of 10k to 1M chunks.

Run: python -m bench.scale --sizes 10000,100000[,1000000] [--kinds flat,ivf[,hnsw]]

**Vectors.** Unit vectors of the real dimension (384) built from the real ones (the corpus's 282 chunk and
1,707 sentence vectors): each synthetic vector is a random point between two real vectors, at least half-way
towards the first (`MIX_LOW`), plus isotropic Gaussian noise of norm ≈ `NOISE` (0.5), renormalised. The
collection so has the clustered, anisotropic structure of real embeddings, without being ~500 copies of each
real vector. Queries are the embeddings of the 206 gold questions. Uniform random unit vectors would be useless here: in 384 dimensions
all pairwise cosines concentrate near 0 ± 0.05, no point has a near neighbour, the "top 10" is noise, and every
approximate index shows poor recall for a reason no real corpus has.

**BM25.** Synthetic documents are the real chunks' content tokens (after the assistant's own tokenisation)
with `SUBSTITUTE` (30%) of the tokens replaced by tokens drawn from the corpus's unigram distribution: a crude
paraphrase, so documents differ and document frequencies spread. Word order does not matter to BM25, so no
shuffle is needed. The score matrix is built with vectorised numpy (generated and counted in blocks; a Python
list of 100M tokens would not fit in memory) with bm25s's own formula (lucene idf, k1, b as the Retriever
uses), installed into a `bm25s.BM25` object and queried with its `get_scores` (sparse column slices; no Python
loop over documents). `tests/test_bench.py` checks the scores equal `bm25s.BM25.index` on a small corpus.

Each (size, index) is measured in its own process, so peak RSS is that index's alone; the exact worker saves
its top-10 for the approximate one's recall. Data are generated deterministically in blocks from a seed, so
every worker sees the same vectors.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.core import ROOT
from bench.stats import summarize
from eval.tables import format_table

NOISE = 0.5
MIX_LOW = 0.5  # synthetic vectors lie between two real ones, at least half-way towards the first
SUBSTITUTE = 0.3
BLOCK = 50_000
SEED = 20260
NPROBES = (4, 8, 16, 32, 64, 128)
EF_SEARCHES = (16, 32, 64, 128)


# --- data -------------------------------------------------------------------------------------------------------

def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def vector_block(base: np.ndarray, start: int, count: int, noise: float = NOISE, seed: int = SEED) -> np.ndarray:
    """Rows start..start+count of the synthetic collection.

    Each row is a point between two real vectors, a·x_i + (1 - a)·x_j with a uniform in [MIX_LOW, 1], plus
    Gaussian noise of norm ≈ `noise`, renormalised. With noise alone, ~2,000 real vectors and 1M rows, every
    query's top 10 would be copies of its single nearest real vector, all in one or two IVF cells, and any
    index would look perfect; interpolating fills the space between real vectors the way a bigger corpus would.
    """
    rng = np.random.default_rng([seed, start])
    d = base.shape[1]
    a = rng.uniform(MIX_LOW, 1.0, (count, 1)).astype(np.float32)
    x = a * base[rng.integers(0, len(base), count)] + (1 - a) * base[rng.integers(0, len(base), count)]
    x += rng.standard_normal((count, d), dtype=np.float32) * (noise / np.sqrt(d))
    return unit(x)


def vector_blocks(base: np.ndarray, n: int, block: int = BLOCK):
    for start in range(0, n, block):
        yield start, vector_block(base, start, min(block, n - start))


def doc_block(docs: list[np.ndarray], vocab_size: int, start: int, count: int, substitute: float = SUBSTITUTE,
              seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of synthetic documents start..start+count: real chunks with `substitute` of tokens replaced.

    Returns (flat token ids, each document's length); document j's tokens are a contiguous run.
    """
    rng = np.random.default_rng([seed, 1, start])
    lengths_real = np.array([len(d) for d in docs])
    flat_real = np.concatenate(docs)
    offsets = np.r_[0, np.cumsum(lengths_real)[:-1]]
    pick = rng.integers(0, len(docs), count)
    lengths = lengths_real[pick]
    total = int(lengths.sum())
    run_start = np.r_[0, np.cumsum(lengths)[:-1]]
    pos = np.arange(total) - np.repeat(run_start, lengths) + np.repeat(offsets[pick], lengths)
    tokens = flat_real[pos]
    swap = rng.random(total) < substitute
    tokens[swap] = flat_real[rng.integers(0, len(flat_real), int(swap.sum()))]  # unigram-distributed substitutes
    return tokens.astype(np.int32), lengths


def _block_counts(tokens: np.ndarray, lengths: np.ndarray, vocab_size: int):
    """(document-in-block, token, term frequency) triples, sorted by document then token."""
    doc = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    key, tf = np.unique(doc * vocab_size + tokens, return_counts=True)
    return (key // vocab_size).astype(np.int32), (key % vocab_size).astype(np.int32), tf.astype(np.float32)


def bm25_matrix(docs: list[np.ndarray], vocab_size: int, n: int, k1: float, b: float, block: int = BLOCK):
    """The BM25 score matrix (scipy CSC, documents × vocabulary) of n synthetic documents, in two block passes.

    Pass 1 counts document frequencies and lengths; pass 2 regenerates each block and scores it. The formula is
    bm25s's default ("lucene"): idf = ln(1 + (N - df + .5) / (df + .5)), tf / (tf + k1 (1 - b + b·dl/avgdl)).
    """
    import scipy.sparse as sp

    df = np.zeros(vocab_size, dtype=np.int64)
    total_len = 0
    for start in range(0, n, block):
        tokens, lengths = doc_block(docs, vocab_size, start, min(block, n - start))
        _, tok, _ = _block_counts(tokens, lengths, vocab_size)
        df += np.bincount(tok, minlength=vocab_size)
        total_len += int(lengths.sum())
    avgdl = total_len / n
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    parts = []
    for start in range(0, n, block):
        tokens, lengths = doc_block(docs, vocab_size, start, min(block, n - start))
        doc, tok, tf = _block_counts(tokens, lengths, vocab_size)
        norm = (k1 * (1 - b + b * lengths / avgdl)).astype(np.float32)
        score = idf[tok] * tf / (tf + norm[doc])
        indptr = np.r_[0, np.cumsum(np.bincount(doc, minlength=len(lengths)))].astype(np.int64)
        parts.append(sp.csr_matrix((score, tok, indptr), shape=(len(lengths), vocab_size)))
        del tokens, doc, tok, tf, score
    matrix = sp.vstack(parts, format="csr")
    del parts
    return matrix.tocsc()


def bm25s_from_matrix(matrix, vocab: dict[str, int], k1: float, b: float):
    """A bm25s.BM25 whose index is the given CSC score matrix (documents × vocabulary ids)."""
    import bm25s

    bm = bm25s.BM25(k1=k1, b=b)
    bm.scores = {"data": matrix.data.astype(np.float32, copy=False), "indices": matrix.indices.astype(np.int32, copy=False),
                 "indptr": matrix.indptr, "num_docs": matrix.shape[0]}
    bm.vocab_dict = dict(vocab)
    bm.unique_token_ids_set = set(vocab.values())
    bm.nonoccurrence_array = None
    return bm


def recall_at_k(truth: np.ndarray, got: np.ndarray, k: int = 10) -> float:
    """Mean share of each query's exact top-k found in the approximate top-k."""
    return float(np.mean([len(set(t[:k].tolist()) & set(g[:k].tolist())) / k for t, g in zip(truth, got)]))


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores, best first (argpartition, then a sort of k)."""
    k = min(k, len(scores))
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


# --- workers (one process per size and index) ---------------------------------------------------------------------

def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: on Linux that survives exec, so a child
    started from a big parent reports the parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_rss_mb = peak_rss_mb


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # pragma: no cover - not Linux
        return float("nan")


def _latency(search, queries: np.ndarray, limit: int | None = None) -> dict:
    times = []
    for q in queries[:limit]:
        t = time.perf_counter()
        search(q.reshape(1, -1))
        times.append((time.perf_counter() - t) * 1000)
    return summarize(times)


def _index_bytes(index, work: Path) -> int:
    import faiss

    path = work / f"size-probe-{os.getpid()}.faiss"
    faiss.write_index(index, str(path))
    size = path.stat().st_size
    path.unlink()
    return size


def worker_faiss(kind: str, n: int, work: Path, latency_queries: int | None = None) -> dict:
    """Build one FAISS index over n synthetic vectors; time queries; recall against the exact worker's top-10."""
    import faiss

    from rag.config import Settings
    from rag.vectors import auto_nlist, describe

    base, queries = np.load(work / "base.npy"), np.load(work / "queries.npy")
    d = base.shape[1]
    rss0 = _current_rss_mb()
    settings = Settings(ann_threshold=1, ann_kind="hnsw" if kind == "hnsw" else "ivf")
    t = time.perf_counter()
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "ivf":
        nlist = auto_nlist(n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        sample_rows = np.sort(np.random.default_rng(SEED).choice(n, size=min(n, 40 * nlist), replace=False))
        # Training sample gathered block by block, as rag.vectors.build_vector_index would take it from memory.
        sample = np.concatenate([blk[sample_rows[(sample_rows >= s) & (sample_rows < s + len(blk))] - s]
                                 for s, blk in vector_blocks(base, n)])
        t_train = time.perf_counter()
        index.train(sample)
        train_s = time.perf_counter() - t_train
        del sample
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, settings.index.ann_hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.index.ann_ef_construction
    else:
        raise ValueError(kind)
    for _, blk in vector_blocks(base, n):
        index.add(blk)
    if kind == "ivf":
        index.make_direct_map()
    build_s = time.perf_counter() - t
    out = {"kind": kind, "n": n, "build_s": build_s, "index_bytes": _index_bytes(index, work),
           "rss_before_mb": rss0, "rss_after_mb": _current_rss_mb(), "peak_rss_mb": _rss_mb()}
    if kind == "ivf":
        out["train_s"] = train_s
    # Single-query latency on one OpenMP thread: on this loaded 2-core machine a 2-thread flat search of one query
    # waits ~30 ms at OpenMP barriers for a thread that is not scheduled (see docs/performance.md).
    threads = faiss.omp_get_max_threads()
    if kind == "flat":
        out["latency_omp_default_ms"] = _latency(lambda q: index.search(q, 10), queries, 20)
        out["omp_default_threads"] = threads
    faiss.omp_set_num_threads(1)
    truth_path = work / f"truth-{n}.npy"
    if kind == "flat":
        t = time.perf_counter()
        faiss.omp_set_num_threads(threads)
        _, truth = index.search(queries, 10)
        faiss.omp_set_num_threads(1)
        out["batch_search_s"] = time.perf_counter() - t
        np.save(truth_path, truth)
        out["latency_ms"] = _latency(lambda q: index.search(q, 10), queries, latency_queries)
        out["recall_at_10"] = 1.0
        out["describe"] = describe(index)
        return out
    truth = np.load(truth_path)
    sweep = []
    params = NPROBES if kind == "ivf" else EF_SEARCHES
    for p in params:
        if kind == "ivf":
            index.nprobe = p
        else:
            index.hnsw.efSearch = p
        _, got = index.search(queries, 10)
        sweep.append({"param": p, "recall_at_10": recall_at_k(truth, got),
                      "latency_ms": _latency(lambda q: index.search(q, 10), queries)})
    default = settings.index.ann_nprobe if kind == "ivf" else settings.index.ann_ef_search
    chosen = next(s for s in sweep if s["param"] == default)
    if kind == "ivf":
        index.nprobe = default
    else:
        index.hnsw.efSearch = default
    out.update(sweep=sweep, param_name="nprobe" if kind == "ivf" else "efSearch", param=default,
               recall_at_10=chosen["recall_at_10"], latency_ms=chosen["latency_ms"], describe=describe(index))
    return out


def worker_bm25(n: int, work: Path) -> dict:
    """Build the synthetic BM25 index of n documents; time bm25s queries and the fusion arithmetic at that size."""
    from rag.retrieve import BM25_B, BM25_K1, top_positions, zscore_fuse

    data = json.loads((work / "bm25.json").read_text())
    vocab = data["vocab"]
    docs = [np.asarray(d, dtype=np.int32) for d in data["docs"]]
    queries = [[vocab[t] for t in q if t in vocab] for q in data["queries"]]
    queries = [q for q in queries if q]
    rss0 = _current_rss_mb()
    t = time.perf_counter()
    matrix = bm25_matrix(docs, len(vocab), n, BM25_K1, BM25_B)
    bm = bm25s_from_matrix(matrix, vocab, BM25_K1, BM25_B)
    del matrix
    build_s = time.perf_counter() - t
    nbytes = sum(bm.scores[k].nbytes for k in ("data", "indices", "indptr"))
    times, score_times = [], []
    last = None
    for q in queries:
        t = time.perf_counter()
        scores = bm.get_scores(q)
        score_times.append((time.perf_counter() - t) * 1000)
        top_k(scores, 10)
        times.append((time.perf_counter() - t) * 1000)
        last = scores
    # The Retriever's fusion as written works on full-collection arrays: z-scores of every signal and full sorts.
    rng = np.random.default_rng(SEED)
    dense = rng.standard_normal(n).astype(np.float32)
    fusion = []
    for _ in range(5):
        t = time.perf_counter()
        zscore_fuse([last, dense], [1.0, 1.0])
        top_positions(last, 40, positive_only=True)
        top_positions(dense, 40)
        fusion.append((time.perf_counter() - t) * 1000)
    return {"kind": "bm25", "n": n, "build_s": build_s, "index_bytes": int(nbytes), "rss_before_mb": rss0,
            "peak_rss_mb": _rss_mb(), "latency_ms": summarize(times), "get_scores_ms": summarize(score_times),
            "nnz": int(len(bm.scores["data"])), "vocab": len(vocab), "queries": len(queries),
            "fusion_as_written_ms": summarize(fusion)}


# --- driver -------------------------------------------------------------------------------------------------------

def prepare(work: Path, index_dir: Path | None = None, query_vectors: np.ndarray | None = None) -> dict:
    """Write the workers' shared inputs into `work`: base vectors, query vectors, BM25 token data."""
    from eval.gold import load_gold
    from rag.config import Settings
    from rag.index import load_index
    from rag.text import content_tokens

    settings = Settings(**({"index_dir": index_dir} if index_dir else {}))
    ix = load_index(settings)
    chunk_vecs = ix.faiss_index.reconstruct_n(0, ix.faiss_index.ntotal)
    base = unit(np.vstack([chunk_vecs, ix.sentence_vectors]))
    questions = [g["user_input"] for g in load_gold()]
    if query_vectors is None:
        from rag.embed import default_embedder

        query_vectors = default_embedder(settings.cache_dir, settings.index.embed_model).encode(questions, batch_size=64)
    np.save(work / "base.npy", base)
    np.save(work / "queries.npy", np.ascontiguousarray(query_vectors, dtype=np.float32))
    token_docs = [content_tokens(c.search_text) for c in ix.chunks]
    vocab: dict[str, int] = {}
    for d in token_docs:
        for tok in d:
            vocab.setdefault(tok, len(vocab))
    (work / "bm25.json").write_text(json.dumps({
        "vocab": vocab, "docs": [[vocab[t] for t in d] for d in token_docs],
        "queries": [content_tokens(q) for q in questions]}))
    return {"base_vectors": int(base.shape[0]), "dimension": int(base.shape[1]), "queries": len(questions),
            "vocab": len(vocab), "mean_doc_tokens": float(np.mean([len(d) for d in token_docs]))}


def _run_worker(args: list[str], timeout: float = 1800) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.scale", "--worker", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"scale worker {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(sizes: list[int], kinds: list[str], work: Path | None = None, index_dir: Path | None = None,
        bm25: bool = True, log=print) -> dict:
    """Measure every size; returns {"inputs", "rows", "load_avg"}."""
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="rag-scale-")) if own else work
    inputs = prepare(work, index_dir) if not (work / "base.npy").exists() else {}
    rows = []
    for n in sizes:
        for kind in (["flat"] + [k for k in kinds if k != "flat"]):
            t = time.perf_counter()
            row = _run_worker([kind, str(n), str(work)])
            row["load_avg"] = os.getloadavg()
            rows.append(row)
            log(f"  {n:>9,} {kind:5s} build {row['build_s']:7.1f} s  p50 {row['latency_ms']['p50']:8.2f} ms  "
                f"recall@10 {row['recall_at_10']:.3f}  peak {row['peak_rss_mb']:7.0f} MB  ({time.perf_counter() - t:.0f} s)")
        if bm25:
            row = _run_worker(["bm25", str(n), str(work)])
            row["load_avg"] = os.getloadavg()
            rows.append(row)
            log(f"  {n:>9,} bm25  build {row['build_s']:7.1f} s  p50 {row['latency_ms']['p50']:8.2f} ms  "
                f"peak {row['peak_rss_mb']:7.0f} MB  fusion-as-written p50 {row['fusion_as_written_ms']['p50']:.1f} ms")
        (work / f"truth-{n}.npy").unlink(missing_ok=True)
    if own:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return {"inputs": inputs, "rows": rows, "noise": NOISE, "mix_low": MIX_LOW, "substitute": SUBSTITUTE}


def table_rows(result: dict) -> tuple[list[str], list[list]]:
    headers = ["chunks", "index", "build s", "size MB", "peak RSS MB", "p50 ms", "p95 ms", "recall@10"]
    rows = []
    for r in result["rows"]:
        label = r["kind"] if r["kind"] in ("flat", "bm25") else f"{r['kind']} ({r['param_name']}={r['param']})"
        rows.append([r["n"], label, r["build_s"], r["index_bytes"] / 2**20, r["peak_rss_mb"], r["latency_ms"]["p50"],
                     r["latency_ms"]["p95"], r.get("recall_at_10")])
    return headers, rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        kind, n, work = argv[1], int(argv[2]), Path(argv[3])
        if kind == "bm25":
            out = worker_bm25(n, work)
        else:
            out = worker_faiss(kind, n, work, latency_queries=50 if (kind == "flat" and n >= 500_000) else None)
        print(json.dumps(out))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated chunk counts")
    ap.add_argument("--kinds", default="flat,ivf", help="flat plus any of ivf, hnsw")
    ap.add_argument("--no-bm25", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.json",
                    help="JSON results; rows for sizes measured before are kept unless measured again")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    started = os.getloadavg()
    result = run(sizes, args.kinds.split(","), bm25=not args.no_bm25)
    result["load_avg_start"] = started
    result["load_avg_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.exists():  # merge: keep rows of other sizes/kinds from earlier runs
        old = json.loads(args.out.read_text())
        fresh = {(r["n"], r["kind"]) for r in result["rows"]}
        result["rows"] = sorted([r for r in old.get("rows", []) if (r["n"], r["kind"]) not in fresh] + result["rows"],
                                key=lambda r: (r["n"], ["flat", "ivf", "hnsw", "bm25"].index(r["kind"])))
        result["inputs"] = result["inputs"] or old.get("inputs", {})
        result.setdefault("runs", old.get("runs", []))
    result.setdefault("runs", []).append({"sizes": sizes, "load_avg_start": started, "load_avg_end": result["load_avg_end"]})
    args.out.write_text(json.dumps(result, indent=2))
    headers, rows = table_rows(result)
    print(format_table(headers, rows, title=f"Scale (load average at start {started[0]:.2f})"))
    try:
        from bench.plots import plot_scale

        print(f"plot: {plot_scale(result, args.out.with_suffix('.png'))}")
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
