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

from .stats import median, summarize

ROOT = Path(__file__).resolve().parent.parent
FALLBACK_QUESTIONS = ["Which paper won the MLSys 2026 Best Paper award?", "How much does NexSpec speed up RL training?",
                      "What are the three problems OPKV identifies in sparse-KV systems?",
                      "Who characterized sparse attention as a stopgap?", "Where and when was MLSys 2026 held?"]


def format_table(headers: list[str], rows: list[list], title: str | None = None) -> str:
    """A plain-text table: numbers right-aligned with sensible precision, text left-aligned."""
    def cell(v) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, int):
            return f"{v:,}"
        if isinstance(v, float):
            if v != v:
                return "-"
            a = abs(v)
            return f"{v:,.0f}" if a >= 1000 else f"{v:.1f}" if a >= 100 else f"{v:.2f}" if a >= 1 else f"{v:.3f}"
        return str(v)

    body = [[cell(v) for v in row] for row in rows]
    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) if rows else False
               for i in range(len(headers))]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)).rstrip()

    out = [title] if title else []
    out += [line(headers), line(["-" * w for w in widths])] + [line(r) for r in body]
    return "\n".join(out)


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """The same table as GitHub markdown."""
    text = format_table(headers, rows).splitlines()
    cells = [[c for c in _split_cells(line, text[1])] for line in (text[0], *text[2:])]
    md = ["| " + " | ".join(cells[0]) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    md += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    return "\n".join(md)


def _split_cells(line: str, rule: str) -> list[str]:
    """Cut a formatted line at the column boundaries of the dashed rule line."""
    out, pos = [], 0
    for dashes in rule.split("  "):
        out.append(line[pos:pos + len(dashes)].strip())
        pos += len(dashes) + 2
    return out


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
        ask(questions[0], settings=settings)  # warm: index and retriever loaded
        stages: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            for q in questions:
                a = ask(q, settings=settings)
                for k, v in a.timings_ms.items():
                    stages.setdefault(k, []).append(v)
    out["questions"] = len(questions) * args.repeats
    out["ask_ms"] = {k: summarize(v) for k, v in stages.items()}
    print(f"import rag            {out['import_rag_s'] * 1000:8.1f} ms")
    print(f"model load            {out['model_load_s']:8.2f} s")
    print(f"index build           {out['build_s']:8.2f} s   (model already loaded)")
    print(f"warm ask() over {out['questions']} questions (ms):")
    for k, v in out["ask_ms"].items():
        print(f"  {k:10s} p50 {v['p50']:7.2f}  p95 {v['p95']:7.2f}  p99 {v['p99']:7.2f}")
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
