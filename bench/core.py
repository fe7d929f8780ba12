"""Core-pipeline figures: `import rag`, index build, and warm extractive `ask()` latency per stage.

Run: python -m bench.core [--repeats 3]. Prints a table; writes bench/results/core.json.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval.gold import GOLD_PATH, load_gold
from eval.tables import format_table

from .stats import median, summarize

ROOT = Path(__file__).resolve().parent.parent
FALLBACK_QUESTIONS = ["Which paper won the MLSys 2026 Best Paper award?", "How much does NexSpec speed up RL training?",
                      "What are the three problems OPKV identifies in sparse-KV systems?",
                      "Who characterized sparse attention as a stopgap?", "Where and when was MLSys 2026 held?"]


def import_time(runs: int = 5) -> float:
    """Median wall time of `import rag` in a fresh interpreter, in seconds."""
    code = "import time; t=time.perf_counter(); import rag; print(time.perf_counter()-t)"
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT).stdout)
             for _ in range(runs)]
    return median(times)


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
        questions = [i["user_input"] for i in load_gold()] if GOLD_PATH.exists() else FALLBACK_QUESTIONS
        # extractive: with the local model installed the default mode would time the LLM (that is bench.llm)
        ask(questions[0], settings=settings, mode="extractive")  # warm: index and retriever loaded
        stages: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            for q in questions:
                a = ask(q, settings=settings, mode="extractive")
                for k, v in a.timings_ms.items():
                    stages.setdefault(k, []).append(v)
    out["questions"] = len(questions) * args.repeats
    out["ask_ms"] = {k: summarize(v) for k, v in stages.items()}
    print(f"import rag            {out['import_rag_s'] * 1000:8.1f} ms")
    print(f"model load            {out['model_load_s']:8.2f} s")
    print(f"index build           {out['build_s']:8.2f} s   (model already loaded)")
    print(format_table(["stage", "p50", "p95", "p99"],
                       [[k, v["p50"], v["p95"], v["p99"]] for k, v in out["ask_ms"].items()],
                       title=f"warm ask() over {out['questions']} questions (ms):"))
    write_result("core.json", out)
    return 0


def write_result(name: str, data: dict) -> Path:
    """Write a benchmark's figures as JSON under bench/results/; returns the file."""
    res = ROOT / "bench" / "results"
    res.mkdir(parents=True, exist_ok=True)
    path = res / name
    path.write_text(json.dumps(data, indent=2))
    return path


if __name__ == "__main__":
    sys.exit(main())
