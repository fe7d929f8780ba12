"""`python -m bench` (or `rag bench`): cold start, index build, warm ask() per stage against its floor, and the
llama-index peer, in one run. Prints tables; writes bench/results/bench.json and bench/results/bench.png.

    python -m bench [--repeats 3] [--limit N] [--no-peer] [--out DIR]
    python -m bench scale --sizes 10000,100000[,1000000] [--kinds flat,ivf[,hnsw]]   (see bench/scale.py)
    python -m bench report [DIR]     markdown tables of the saved results (for docs/performance.md)

Timings are wall-clock on whatever machine runs them; the load average is recorded beside them.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from bench.core import ROOT
from eval.tables import format_table

TARGETS = {"warm_p50_ms": 30.0, "warm_over_floor": 1.5, "import_s": 0.3, "first_answer_s": 8.0,
           "scale_p50_ms": 20.0, "scale_recall": 0.95, "scale_index_gb": 2.0}


def tables(result: dict) -> list[tuple[str, list[str], list[list]]]:
    """(title, headers, rows) of every table in a run's result."""
    out = []
    cold, build, warm = result["cold"], result["build"], result["warm"]
    out.append(("Cold start (median of fresh processes)", ["what", "seconds", "target", "met"], [
        ["import rag", cold["import_rag_s"], TARGETS["import_s"], cold["import_rag_s"] <= TARGETS["import_s"]],
        ["first ask() (model + index load included)", cold["first_ask_s"], TARGETS["first_answer_s"],
         cold["first_ask_s"] <= TARGETS["first_answer_s"]],
        ["  of which load (model + index)", cold["first_ask_load_ms"] / 1000, None, None],
        ["new process to first answer (interpreter + import + ask)", cold["first_ask_process_s"],
         TARGETS["first_answer_s"], cold["first_ask_process_s"] <= TARGETS["first_answer_s"]],
        ["rag ask CLI end to end", cold["cli_ask_s"], None, None],
    ]))
    out.append(("Index build (real corpus, fresh process)",
                ["chunks", "sentences", "model load s", "build s", "peak RSS MB", "index MB"],
                [[build["chunks"], build["sentences"], build["model_load_s"], build["build_s"], build["peak_rss_mb"],
                  build["index_bytes"] / 2**20]]))
    s, f = warm["stages_ms"], warm["floor_ms"]
    floor_of = {"embed": ("forward", f["forward"]["p50"]), "dense": ("flat search", f["flat_chunks"]["p50"]),
                "total": ("embed+search", warm["floor_total_p50_ms"])}
    rows = []
    for stage in ("load", "embed", "dense", "bm25", "fusion", "retrieve", "answer", "other", "total"):
        floor_name, floor = floor_of.get(stage, (None, None))
        rows.append([stage, s[stage]["p50"], s[stage]["p95"], s[stage]["p99"], floor_name, floor,
                     s[stage]["p50"] / floor if floor else None])
    for name, label in (("forward", "floor: tokenise + MiniLM forward"), ("flat_chunks", "floor: IndexFlatIP, chunks"),
                        ("flat_sentences", "ref: IndexFlatIP, sentences")):
        rows.append([label, f[name]["p50"], f[name]["p95"], f[name]["p99"], None, None, None])
    out.append((f"Warm ask(), extractive, ms ({warm['questions']} gold questions x {warm['repeats']})",
                ["stage", "p50", "p95", "p99", "floor", "floor p50", "x floor"], rows))
    peer = result.get("peer")
    if peer and "error" not in peer:
        out.append(("Retrieval beside the llama-index defaults peer (same MiniLM, same gold questions)",
                    ["system", "chunks", "build s", "retrieve p50 ms", "p95 ms", "evidence in top 5"], [
                        ["ours: hybrid BM25 + sentence dense, z-score fusion", warm["chunks"], build["build_s"],
                         warm["retrieval_with_embed_ms"]["p50"], warm["retrieval_with_embed_ms"]["p95"],
                         warm["evidence_in_top5_retrieval"]],
                        ["ours, ask() contexts (as eval scores them)", warm["chunks"], None, None, None,
                         warm["evidence_in_top5_answer"]],
                        ["llama-index VectorStoreIndex, SentenceSplitter defaults", peer["nodes"], peer["build_s"],
                         peer["retrieve_ms"]["p50"], peer["retrieve_ms"]["p95"], peer["evidence_in_top5"]],
                        *([["ours inside llama-index: HybridRetriever.retrieve", warm["chunks"], None,
                            hy["retrieve_ms"]["p50"], hy["retrieve_ms"]["p95"], hy["evidence_in_top5"]]]
                          if (hy := peer.get("hybrid")) else []),
                    ]))
    elif peer:
        out.append(("llama-index peer", ["status"], [[peer["error"]]]))
    tgt = [["warm ask() p50 <= 30 ms", s["total"]["p50"], s["total"]["p50"] <= TARGETS["warm_p50_ms"]],
           ["warm ask() p50 <= 1.5 x floor", warm["ratios_p50"]["total/floor"],
            warm["ratios_p50"]["total/floor"] <= TARGETS["warm_over_floor"]],
           ["import rag <= 0.3 s", cold["import_rag_s"], cold["import_rag_s"] <= TARGETS["import_s"]],
           ["first answer in a new process <= 8 s", cold["first_ask_process_s"],
            cold["first_ask_process_s"] <= TARGETS["first_answer_s"]]]
    out.append(("Targets", ["target", "measured", "met"], tgt))
    return out


def run(args: argparse.Namespace) -> dict:
    from eval.gold import load_gold

    from bench import stages

    items = load_gold(limit=args.limit)
    result: dict = {"load_avg_start": os.getloadavg(), "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                                    "platform": platform.platform()},
                    "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        index_dir = Path(tmp) / "index"
        print("building the real corpus's index in a fresh process ...", flush=True)
        result["build"] = stages.build(index_dir)
        print("cold start: import rag, first ask(), rag ask ...", flush=True)
        result["cold"] = stages.cold_start(index_dir, runs=args.cold_runs)
        print(f"warm ask() over {len(items)} questions x {args.repeats} ...", flush=True)
        result["load_avg_warm"] = os.getloadavg()
        result["warm"] = stages.warm(index_dir, items, args.repeats)
        if not args.no_peer:  # inside: our side of it (HybridRetriever) searches the index just built
            print("llama-index peer, and our retriever inside llama-index ...", flush=True)
            try:
                from bench.peer import measure
                from rag.config import Settings

                result["peer"] = measure(items, repeats=args.repeats, settings=Settings(index_dir=index_dir))
            except ImportError as e:
                result["peer"] = {"error": f"not measured: {e}"}
    result["load_avg_end"] = os.getloadavg()
    return result


def report(out_dir: Path) -> str:
    """Markdown tables of the last saved runs (bench.json, scale.json in out_dir), for docs/performance.md."""
    from eval.tables import markdown_table

    parts = []
    bench_json, scale_json = out_dir / "bench.json", out_dir / "scale.json"
    if bench_json.exists():
        result = json.loads(bench_json.read_text())
        la = result["load_avg_start"]
        parts.append(f"_Run started {result['started_at']}, load average {la[0]:.2f} / {la[1]:.2f} / {la[2]:.2f} "
                     f"(1/5/15 min) at start, {result['load_avg_end'][0]:.2f} at end, {result['machine']['cpus']} CPUs._")
        for title, headers, rows in tables(result):
            parts.append(f"**{title}**\n\n{markdown_table(headers, rows)}")
    if scale_json.exists():
        from bench.scale import table_rows

        result = json.loads(scale_json.read_text())
        runs = "; ".join(f"sizes {r['sizes']}: load average {r['load_avg_start'][0]:.2f} at start, "
                         f"{r['load_avg_end'][0]:.2f} at end" for r in result.get("runs", []))
        headers, rows = table_rows(result)
        parts.append(f"**Scale** ({runs})\n\n{markdown_table(headers, rows)}")
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["scale"]:
        from bench.scale import main as scale_main

        return scale_main(argv[1:])
    if argv[:1] == ["report"]:  # markdown tables of the saved results
        print(report(Path(argv[1]) if len(argv) > 1 else ROOT / "bench" / "results"))
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="repetitions of each gold question (default 3)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N gold questions")
    ap.add_argument("--cold-runs", type=int, default=3, help="fresh processes per cold-start figure (default 3)")
    ap.add_argument("--no-peer", action="store_true", help="skip the llama-index peer")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="folder for bench.json and bench.png")
    args = ap.parse_args(argv)
    result = run(args)
    la = result["load_avg_start"]
    print(f"\nmachine: {result['machine']['cpus']} CPUs; load average at start {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, "
          f"at end {result['load_avg_end'][0]:.2f}")
    for title, headers, rows in tables(result):
        print()
        print(format_table(headers, rows, title=title))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out / 'bench.json'}")
    try:
        from bench.plots import plot_run

        print(f"wrote {plot_run(result, args.out / 'bench.png')}")
    except ImportError as e:  # matplotlib is in the eval extra
        print(f"no plot ({e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
