"""Smoke tests of the benchmark harness's pure parts (no timing assertions: performance is measured by
`python -m bench`, not by timed tests), a tiny scale run with recall, and the llama-index peer offline."""
from __future__ import annotations

import importlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import scale
from eval.tables import format_table, markdown_table
from bench.stats import percentile, summarize

ROOT = Path(__file__).resolve().parent.parent


def test_percentiles_interpolate_and_summarize():
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 0) == 1 and percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    s = summarize([3.0, 1.0, 2.0])
    assert s["p50"] == 2.0 and s["n"] == 3 and s["mean"] == pytest.approx(2.0)
    assert s["p50"] <= s["p95"] <= s["p99"] <= 3.0


def test_table_formatting():
    text = format_table(["stage", "p50", "met"], [["embed", 12.345, True], ["bm25", 0.1234, None], ["n", 1234567, False]],
                        title="T")
    lines = text.splitlines()
    assert lines[0] == "T"
    assert lines[1].split() == ["stage", "p50", "met"]
    assert set(lines[2].replace(" ", "")) == {"-"}
    assert "12.35" in lines[3] and "yes" in lines[3]
    assert "0.123" in lines[4] and lines[4].rstrip().endswith("-")
    assert "1,234,567" in lines[5] and "no" in lines[5]
    widths = {len(line) for line in lines[1:4]}
    assert len(widths) == 1  # aligned columns
    md = markdown_table(["stage", "p50"], [["embed", 12.345], ["bm25", 0.5]]).splitlines()
    assert md[0] == "| stage | p50 |" and md[1] == "|---|---|" and md[2] == "| embed | 12.35 |"


def _base(n: int = 200, d: int = 32, seed: int = 0) -> np.ndarray:
    return scale.unit(np.random.default_rng(seed).standard_normal((n, d)))


def test_synthetic_vectors_are_unit_clustered_and_deterministic():
    base = _base()
    a = scale.vector_block(base, 0, 500)
    assert a.shape == (500, 32) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(a, scale.vector_block(base, 0, 500))
    assert not np.array_equal(a, scale.vector_block(base, 500, 500))
    # Each vector stays close to some real vector, unlike uniform random unit vectors.
    uniform = scale.unit(np.random.default_rng(1).standard_normal((500, 32)))
    assert np.median((a @ base.T).max(axis=1)) > 0.7
    assert np.median((a @ base.T).max(axis=1)) > np.median((uniform @ base.T).max(axis=1)) + 0.2
    blocks = list(scale.vector_blocks(base, 1200, block=500))
    assert [s for s, _ in blocks] == [0, 500, 1000] and sum(len(b) for _, b in blocks) == 1200


def test_recall_and_top_k():
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert scale.recall_at_k(truth, truth, 4) == 1.0
    assert scale.recall_at_k(truth, np.array([[1, 2, 9, 9], [8, 7, 6, 5]]), 4) == pytest.approx(0.75)
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    assert scale.top_k(scores, 3).tolist() == [1, 3, 2]
    assert scale.top_k(scores, 10).tolist() == [1, 3, 2, 4, 0]


@pytest.fixture
def work(tmp_path):
    """Worker inputs at a tiny size: 64 base vectors, 30 queries near them, a 12-document token corpus."""
    import faiss

    base = _base(64, 48)
    np.save(tmp_path / "base.npy", base)
    np.save(tmp_path / "queries.npy", scale.vector_block(base, 10_000_000, 30, noise=0.4))
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(40)]
    docs = [[words[j] for j in rng.zipf(1.5, 30) % 40] for _ in range(12)]
    vocab = {w: i for i, w in enumerate(words)}
    (tmp_path / "bm25.json").write_text(json.dumps({"vocab": vocab, "docs": [[vocab[w] for w in d] for d in docs],
                                                    "queries": [["w1", "w3"], ["w5"], ["nope"]]}))
    threads = faiss.omp_get_max_threads()
    yield tmp_path
    faiss.omp_set_num_threads(threads)  # the workers pin OpenMP to one thread for latency


def test_tiny_scale_run_exact_and_ivf_with_recall(work):
    flat = scale.worker_faiss("flat", 2000, work)
    assert flat["recall_at_10"] == 1.0 and flat["index_bytes"] > 2000 * 48 * 4
    assert (work / "truth-2000.npy").exists()
    ivf = scale.worker_faiss("ivf", 2000, work)
    assert ivf["describe"].startswith("ivf(") and ivf["param_name"] == "nprobe"
    assert [s["param"] for s in ivf["sweep"]] == list(scale.NPROBES)
    recalls = [s["recall_at_10"] for s in ivf["sweep"]]
    assert all(0 <= r <= 1 for r in recalls) and recalls[-1] >= recalls[0]
    assert ivf["recall_at_10"] >= 0.9
    assert {"p50", "p95", "p99"} <= set(ivf["latency_ms"])
    headers, rows = scale.table_rows({"rows": [flat, ivf]})
    assert len(rows) == 2 and "recall@10" in headers
    assert "nprobe=" in rows[1][1]


def test_bm25_matrix_matches_bm25s_index():
    """The vectorised synthetic BM25 index scores exactly like bm25s.BM25.index on the same documents."""
    import bm25s

    rng = np.random.default_rng(7)
    vocab_size = 50
    docs = [rng.integers(0, vocab_size, rng.integers(3, 25)).astype(np.int32) for _ in range(20)]
    n = 300
    matrix = scale.bm25_matrix(docs, vocab_size, n, k1=1.5, b=0.3)
    vocab = {f"t{i}": i for i in range(vocab_size)}
    ours = scale.bm25s_from_matrix(matrix, vocab, 1.5, 0.3)
    tokens, lengths = scale.doc_block(docs, vocab_size, 0, n)
    starts = np.r_[0, np.cumsum(lengths)[:-1]]
    texts = [[f"t{t}" for t in tokens[s:s + ln]] for s, ln in zip(starts, lengths)]
    ref = bm25s.BM25(k1=1.5, b=0.3)
    ref.index(texts, show_progress=False)
    for query in (["t1"], ["t2", "t7", "t7"], ["t0", "t49", "t13"]):
        query = [t for t in query if t in ref.vocab_dict]
        if query:
            np.testing.assert_allclose(ours.get_scores(query), ref.get_scores(query), rtol=1e-5, atol=1e-6)


def test_tiny_bm25_worker(work):
    out = scale.worker_bm25(500, work)
    assert out["kind"] == "bm25" and out["queries"] == 2 and out["nnz"] > 500
    assert out["index_bytes"] > 0 and "fusion_as_written_ms" in out


def test_bench_tables_and_plots(tmp_path):
    from bench.__main__ import tables

    st = {k: {"p50": 1.0, "p95": 2.0, "p99": 3.0, "mean": 1.2, "n": 6}
          for k in ("load", "embed", "dense", "bm25", "fusion", "retrieve", "answer", "other", "total")}
    fl = {k: {"p50": 0.5, "p95": 0.6, "p99": 0.7, "mean": 0.5, "n": 6} for k in ("forward", "flat_chunks", "flat_sentences")}
    result = {
        "load_avg_start": [1.0, 1.0, 1.0], "load_avg_end": [1.0, 1.0, 1.0],
        "cold": {"import_rag_s": 0.01, "first_ask_s": 5.0, "first_ask_load_ms": 4000.0, "first_ask_process_s": 6.0,
                 "cli_ask_s": 6.5},
        "build": {"chunks": 282, "sentences": 1707, "model_load_s": 4.0, "build_s": 30.0, "peak_rss_mb": 900.0,
                  "index_bytes": 2_000_000},
        "warm": {"questions": 2, "repeats": 3, "samples": 6, "stages_ms": st, "floor_ms": fl, "floor_total_p50_ms": 1.0,
                 "ratios_p50": {"total/floor": 1.0}, "retrieval_with_embed_ms": st["total"], "chunks": 282,
                 "evidence_in_top5_retrieval": 0.8, "evidence_in_top5_answer": 0.8},
        "peer": {"nodes": 207, "build_s": 9.0, "retrieve_ms": st["total"], "evidence_in_top5": 0.4,
                 "hybrid": {"retrieve_ms": st["total"], "direct_search_ms": st["total"], "evidence_in_top5": 0.9}},
    }
    out = tables(result)
    titles = [t for t, _, _ in out]
    assert any(t.startswith("Warm ask()") for t in titles) and "Targets" in titles
    peer_rows = next(rows for t, _, rows in out if t.startswith("Retrieval beside"))
    assert [r[-1] for r in peer_rows] == [0.8, 0.8, 0.4, 0.9]  # ours, ask() contexts, defaults, ours in llama-index
    for _, headers, rows in out:
        format_table(headers, rows)
    pytest.importorskip("matplotlib")
    from bench.plots import plot_run, plot_scale

    assert plot_run(result, tmp_path / "run.png").stat().st_size > 1000
    rows = [{"n": 1000, "kind": "flat", "latency_ms": st["total"]},
            {"n": 1000, "kind": "ivf", "latency_ms": st["total"], "sweep": [
                {"param": 4, "recall_at_10": 0.9, "latency_ms": st["total"]}]}]
    assert plot_scale({"rows": rows}, tmp_path / "scale.png").stat().st_size > 1000


# --- the llama-index peer -----------------------------------------------------------------------------------------

PEER_CODE = """
import json, sys
from pathlib import Path
from bench.peer import Peer
from rag.config import Settings
from rag.embed import packaged_model_dir
d = Path(sys.argv[1])
peer = Peer(sorted(d.iterdir()), packaged_model_dir(Settings().cache_dir), top_k=2)
print(json.dumps({"nodes": peer.nodes, "top": peer.retrieve("Which system compresses the KV cache?")}))
"""


def _network_blocker() -> list[str]:
    """`unshare -n` when it works here (root in a container), else nothing."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n"]
    return []


def test_peer_builds_over_a_tiny_corpus_offline(tmp_path):
    try:
        import llama_index.core  # noqa: F401
        import llama_index.embeddings.huggingface  # noqa: F401
    except ImportError:
        pytest.skip("llama-index is not installed: it is in the `bench` extra (pip install -e '.[bench]'), "
                    "which `make test` does not install")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("OPKV compresses the KV cache of long-context LLM serving by 4x.\n")
    (corpus / "b.txt").write_text("NexSpec speeds up reinforcement learning rollouts with speculative decoding.\n")
    env = {k: v for k, v in os.environ.items() if k not in ("TIKTOKEN_CACHE_DIR", "NLTK_DATA")}
    env["LLAMA_INDEX_CACHE_DIR"] = str(tmp_path / "li-cache")
    proc = subprocess.run([*_network_blocker(), sys.executable, "-c", PEER_CODE, str(corpus)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["nodes"] == 2
    assert "OPKV" in out["top"][0]


def test_rag_bench_forwards_to_the_benchmark(tmp_path, capsys):
    from bench.__main__ import tables  # noqa: F401 - the module the command forwards to
    from rag.cli import main

    (tmp_path / "scale.json").write_text(json.dumps({"rows": [
        {"n": 1000, "kind": "flat", "build_s": 0.1, "index_bytes": 2**20, "peak_rss_mb": 100.0,
         "latency_ms": {"p50": 0.1, "p95": 0.2}, "recall_at_10": 1.0}],
        "runs": [{"sizes": [1000], "load_avg_start": [1.0, 1.0, 1.0], "load_avg_end": [1.0, 1.0, 1.0]}]}))
    assert main(["bench", "report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "**Scale**" in out and "| 1,000 | flat |" in out


@pytest.mark.parametrize("module", sorted(p.stem for p in (Path(__file__).parent.parent / "bench").glob("*.py")
                                          if p.stem != "__main__"))
def test_every_benchmark_module_imports(module):
    """A benchmark that no test runs must at least import (a moved helper broke `bench.coldstart` once)."""
    importlib.import_module(f"bench.{module}")


def _code_templates():
    """(module, name, source) of every multi-line Python template a benchmark runs in a fresh interpreter."""
    import ast

    for path in sorted((Path(__file__).parent.parent / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id.endswith("_CODE") and isinstance(node.value, ast.Constant)):
                yield path.stem, node.targets[0].id, node.value.value


@pytest.mark.parametrize("module, name, source", list(_code_templates()), ids=lambda v: v if len(v) < 40 else "")
def test_every_benchmark_code_template_is_valid_python(module, name, source):
    """Templates are formatted, then run with `python -c`: a broken one only fails inside a long benchmark run."""
    import ast
    import string

    fields = {f: "0" for _, f, _, _ in string.Formatter().parse(source) if f}
    ast.parse(source.format(**{f.split("!")[0]: v for f, v in fields.items()}))
