"""How the assistant grows with its corpus: build time, peak memory, index size and warm `ask()` p50 per folder.

Run: python -m bench.growth DIR [DIR ...] [--questions 10]. Each folder is measured in its own process (so peak
memory is that folder's), building into a temporary index with the embedding cache (RAG_CACHE_DIR/embeddings):
the build time is chunking, indexing and whatever the cache does not yet hold, and the embedding time of a cold
build is reported separately by the benchmark that first embedded the folder. Writes bench/results/growth.json
and growth.png.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.tables import format_table

from .core import FALLBACK_QUESTIONS, write_result
from .stats import percentile


def folder_bytes(path: Path) -> int:
    """Total size of the files under a folder."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def questions_for(chunks, n: int) -> list[str]:
    """Questions about the folder's own documents: "What does <title> propose?" for evenly spaced chunks."""
    step = max(1, len(chunks) // n)
    return [f"What does {c.title} propose?" for c in chunks[::step] if c.title][:n]


def measure(folder: Path, n_questions: int) -> dict:
    """Build the folder's index and time warm ask() calls (run in a fresh process)."""
    from rag.api import ask, build_index
    from rag.config import Settings
    from rag.embcache import CachedEmbedder
    from rag.embed import default_embedder
    from rag.index import load_index

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(corpus_dir=folder, index_dir=Path(tmp) / "index")
        embedder = CachedEmbedder(default_embedder(settings.cache_dir, settings.index.embed_model), settings.cache_dir)
        t = time.perf_counter()
        build_index(settings, embedder=embedder, progress=False)
        embedder.flush()
        build_s = time.perf_counter() - t
        index = load_index(settings)
        default_qs = folder.resolve() == Settings().corpus_dir.resolve()
        questions = FALLBACK_QUESTIONS if default_qs else questions_for(index.chunks, n_questions)
        t = time.perf_counter()
        ask(questions[0], settings=settings, embedder=embedder, mode="extractive")  # loads index and retriever
        load_s = time.perf_counter() - t
        times = []
        for q in questions:
            t = time.perf_counter()
            ask(q, settings=settings, embedder=embedder, mode="extractive")
            times.append((time.perf_counter() - t) * 1000)
        return {"folder": str(folder), "chunks": index.manifest["chunk_count"],
                "sentences": index.manifest["sentence_count"], "plan": index.manifest.get("embedding_plan", "full"),
                "build_s": round(build_s, 1), "first_ask_s": round(load_s, 1),
                "index_mb": round(folder_bytes(settings.index_dir) / 1e6, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
                "ask_p50_ms": round(percentile(times, 50), 1), "questions": len(times),
                "embeddings_computed": embedder.misses}


def main(argv: list[str] | None = None) -> int:
    """Measure each folder in a subprocess and print the table."""
    p = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__.split("\n\n")[0])
    p.add_argument("folders", type=Path, nargs="+")
    p.add_argument("--questions", type=int, default=10)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # internal: measure one folder here
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.folders[0], args.questions)))
        return 0
    rows = []
    for folder in args.folders:
        out = subprocess.run([sys.executable, "-m", "bench.growth", "--one", str(folder), "--questions",
                              str(args.questions)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    out = write_result("growth.json", {"rows": rows})
    from .plots import plot_growth

    plot_growth({"rows": rows}, Path(out).with_suffix(".png"))
    cols = ["chunks", "plan", "build_s", "first_ask_s", "peak_rss_mb", "index_mb", "ask_p50_ms"]
    print(format_table(["folder", *cols], [[Path(r["folder"]).name, *[r[c] for c in cols]] for r in rows],
                       title="Growth"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
