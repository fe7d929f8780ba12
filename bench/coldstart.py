"""Cold start, warm `ask()` and build of two checkouts side by side, in one run (before/after a change).

Each figure comes from fresh processes of each checkout's own code and index (PYTHONPATH and cwd set to the
checkout), and the checkouts alternate run by run, so both see the same load. For every run the 1-minute load
average is recorded beside the wall time, and CPU seconds (user + sys, all threads) and peak RSS come from
/usr/bin/time around that command alone. Offline extractive mode throughout. Python's bytecode cache is on (as
after an install), and one unmeasured start per checkout precedes the cold-start runs.

    python -m bench.coldstart before=/work/base after=. [--runs 7] [--phases ask,import,warm,build]

Prints a markdown table of medians; writes bench/results/coldstart.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.core import write_result
from eval.tables import markdown_table

QUESTION = "What does OPKV do?"
PHASES = ("ask", "import", "warm", "build")
WARM_CODE = """
import json, time
from rag.api import ask
from rag.config import Settings
settings = Settings(mode="extractive")
qs = [json.loads(x)["user_input"] for x in open("eval/gold.jsonl") if x.strip()]
for q in qs[:5]:
    ask(q, settings=settings)
stages = {{}}
cpu = time.process_time()
for _ in range({repeats}):
    for q in qs:
        for k, v in ask(q, settings=settings).timings_ms.items():
            stages.setdefault(k, []).append(v)
cpu_ms = (time.process_time() - cpu) * 1000 / len(stages["total"])
print(json.dumps({{"stages": stages, "cpu_ms_per_ask": cpu_ms}}))
"""
IMPORT_CODE = "import time; t = time.perf_counter(); import rag; print(time.perf_counter() - t)"


def _env(tree: Path, extra: dict | None = None) -> dict:
    # Bytecode is cached as after any install (PYTHONDONTWRITEBYTECODE would recompile every module every start).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PYTHONPATH": str(tree), "RAG_LOCAL_LLM": "0", "RAG_MODE": "extractive", "OPENAI_BASE_URL": "",
                "OPENAI_API_KEY": ""})
    return {**env, **(extra or {})}


def timed(cmd: list[str], tree: Path, extra_env: dict | None = None) -> dict:
    """One command under /usr/bin/time in the checkout: wall s, CPU s, peak RSS MB, load average before, stdout."""
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "TIME %M %U %S", *cmd], capture_output=True, text=True,
                          cwd=tree, env=_env(tree, extra_env), timeout=3600)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} in {tree} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    rss_kb, user, sys_ = re.findall(r"TIME (\d+) ([\d.]+) ([\d.]+)", proc.stderr)[-1]
    return {"wall_s": wall, "cpu_s": float(user) + float(sys_), "peak_rss_mb": int(rss_kb) / 1024, "load": load,
            "stdout": proc.stdout}


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def run(trees: dict[str, Path], runs: int, phases: list[str], repeats: int = 1) -> dict:
    """Every phase for every checkout, checkouts alternating within each phase."""
    py = sys.executable
    out: dict = {name: {} for name in trees}
    if "ask" in phases:
        for tree in trees.values():  # one unmeasured start each: bytecode written, files in the page cache
            timed([py, "-m", "rag", "ask", QUESTION], tree)
        for _ in range(runs):
            for name, tree in trees.items():
                r = timed([py, "-m", "rag", "ask", QUESTION], tree)
                assert "[1]" in r.pop("stdout"), f"no cited answer from {name}"
                out[name].setdefault("ask", []).append(r)
    if "import" in phases:
        for _ in range(runs):
            for name, tree in trees.items():
                r = timed([py, "-c", IMPORT_CODE], tree)
                r["import_s"] = float(r.pop("stdout"))
                out[name].setdefault("import", []).append(r)
    if "warm" in phases:
        for name, tree in trees.items():
            r = timed([py, "-c", WARM_CODE.format(repeats=repeats)], tree)
            got = json.loads(r.pop("stdout"))
            totals = got["stages"]["total"]
            r.update(p50_ms=statistics.median(totals), p95_ms=sorted(totals)[int(0.95 * (len(totals) - 1))],
                     questions=len(totals), cpu_ms_per_ask=got["cpu_ms_per_ask"],
                     **{f"{k}_p50_ms": statistics.median(v) for k, v in got["stages"].items() if k != "total"})
            out[name]["warm"] = [r]
    if "build" in phases:
        for name, tree in trees.items():
            with tempfile.TemporaryDirectory() as tmp:
                r = timed([py, "-m", "rag", "build", "--force"], tree, {"RAG_INDEX_DIR": str(Path(tmp) / "index")})
                r.pop("stdout")
                out[name]["build"] = [r]
    return out


def table(result: dict) -> str:
    """Medians per phase and checkout, as markdown."""
    names = list(result)
    rows = []
    spec = [("ask", "wall_s", "cold `rag ask` wall s"), ("ask", "cpu_s", "cold `rag ask` CPU s"),
            ("ask", "peak_rss_mb", "cold `rag ask` peak RSS MB"), ("ask", "load", "load average during cold asks"),
            ("import", "import_s", "`import rag` s"), ("warm", "p50_ms", "warm `ask()` total p50 ms"),
            ("warm", "p95_ms", "warm `ask()` total p95 ms"), ("warm", "cpu_ms_per_ask", "warm `ask()` CPU ms each"),
            ("warm", "embed_p50_ms", "… embed p50 ms"), ("warm", "retrieve_p50_ms", "… retrieve p50 ms"),
            ("warm", "answer_p50_ms", "… answer p50 ms"), ("warm", "load", "load average at warm"),
            ("build", "wall_s", "`rag build --force` wall s"), ("build", "cpu_s", "`rag build --force` CPU s"),
            ("build", "peak_rss_mb", "build peak RSS MB"), ("build", "load", "load average at build")]
    for phase, key, label in spec:
        if all(phase in result[n] for n in names):
            rows.append([label, *(round(_median(result[n][phase], key), 3) for n in names)])
    return markdown_table(["what", *names], rows)


def main(argv: list[str] | None = None) -> int:
    """Parse name=path checkouts, run the phases, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trees", nargs="+", help="name=path of each checkout (each with its own built index)")
    ap.add_argument("--runs", type=int, default=7, help="fresh processes per cold figure and checkout (median)")
    ap.add_argument("--repeats", type=int, default=1, help="passes over the gold questions for warm timings")
    ap.add_argument("--phases", default=",".join(PHASES))
    args = ap.parse_args(argv)
    trees = {t.split("=", 1)[0]: Path(t.split("=", 1)[1]).resolve() for t in args.trees}
    result = run(trees, args.runs, args.phases.split(","), args.repeats)
    print(table(result))
    write_result("coldstart.json", {"trees": {k: str(v) for k, v in trees.items()}, "runs": args.runs,
                                    "result": result, "cpus": os.cpu_count()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
