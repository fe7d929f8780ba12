"""Core-pipeline figures: `import rag`, index build, and warm extractive `ask()` latency per stage.

Run: python -m bench.core [--repeats 3]. Prints a table; writes bench/results/core.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FALLBACK_QUESTIONS = ["Which paper won the MLSys 2026 Best Paper award?", "How much does NexSpec speed up RL training?",
                      "What are the three problems OPKV identifies in sparse-KV systems?",
                      "Who characterized sparse attention as a stopgap?", "Where and when was MLSys 2026 held?"]


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def import_time(runs: int = 5) -> float:
    """Median wall time of `import rag` in a fresh interpreter, in seconds."""
    code = "import time; t=time.perf_counter(); import rag; print(time.perf_counter()-t)"
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT).stdout)
             for _ in range(runs)]
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the core figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    from rag.api import ask, build_index
    from rag.config import Settings
    from rag.embed import default_embedder

    out: dict = {"import_rag_s": import_time()}
    t = time.perf_counter()
    default_embedder(Settings().cache_dir)
    out["model_load_s"] = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp) / "index")
        t = time.perf_counter()
        build_index(settings, progress=False)
        out["build_s"] = time.perf_counter() - t
        gold = ROOT / "eval" / "gold.jsonl"
        questions = [json.loads(x)["user_input"] for x in gold.read_text().splitlines()] if gold.exists() else FALLBACK_QUESTIONS
        ask(questions[0], settings=settings)  # warm: index and retriever loaded
        stages: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            for q in questions:
                a = ask(q, settings=settings)
                for k, v in a.timings_ms.items():
                    stages.setdefault(k, []).append(v)
    out["questions"] = len(questions) * args.repeats
    out["ask_ms"] = {k: {"p50": _pct(v, 50), "p95": _pct(v, 95), "p99": _pct(v, 99)} for k, v in stages.items()}
    print(f"import rag            {out['import_rag_s'] * 1000:8.1f} ms")
    print(f"model load            {out['model_load_s']:8.2f} s")
    print(f"index build           {out['build_s']:8.2f} s   (model already loaded)")
    print(f"warm ask() over {out['questions']} questions (ms):")
    for k, v in out["ask_ms"].items():
        print(f"  {k:10s} p50 {v['p50']:7.2f}  p95 {v['p95']:7.2f}  p99 {v['p99']:7.2f}")
    res = ROOT / "bench" / "results"
    res.mkdir(parents=True, exist_ok=True)
    (res / "core.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
