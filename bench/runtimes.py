"""Embedding runtimes side by side, in one run: torch (before) against ONNX Runtime fp32 and int8 (after).

For each runtime, each in fresh processes: the index build (`rag build --force`), cold `rag ask` (wall time
and peak RSS, measured by /usr/bin/time around the command), `import rag`, then warm `ask()` stages and the gold
retrieval figures (dense and fused, dev and test halves) in one process. Optionally fastembed over the same
exported ONNX file, loaded offline from a local folder.

    python -m bench.runtimes [--runs 5] [--configs torch,onnx,onnx-int8] [--no-fastembed]

Prints tables; writes bench/results/runtimes.json. The load average is recorded at the start of every phase.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.core import ROOT, write_result
from bench.stats import median, summarize
from eval.tables import format_table

COLD_QUESTION = "What does OPKV do?"
CONFIGS = {"torch": ("torch", "fp32"), "onnx": ("onnx", "fp32"), "onnx-int8": ("onnx", "int8")}

WARM_CODE = """
import json, time
from eval.gold import load_gold
from eval.retrieval import split_figures
from rag.api import ask
from rag.pipeline import Pipeline
from rag.config import Settings
from rag.embed import embedder_for
settings = Settings(mode="extractive")
embedder = embedder_for(settings)
loaded = Pipeline(settings, embedder).corpus
items = load_gold()
for it in items[:5]:
    ask(it["user_input"], settings=settings, embedder=embedder)
stages = {{}}
for _ in range({repeats}):
    for it in items:
        a = ask(it["user_input"], settings=settings, embedder=embedder)
        for k, v in a.timings_ms.items():
            stages.setdefault(k, []).append(v)
figures = split_figures(loaded.retriever, items, settings, lambda q: embedder.encode([q])[0],
                        ("recall@1", "recall@5", "mrr@10", "questions"))
print(json.dumps({{"stages": stages, "retrieval": figures}}))
"""

FASTEMBED_CODE = """
import json, os, shutil, tempfile, time
from pathlib import Path
import numpy as np
t0 = time.perf_counter()
from fastembed import TextEmbedding
from fastembed.common.model_description import ModelSource, PoolingType
t_import = time.perf_counter() - t0
from rag.config import Settings
from rag.embed import embedder_for, packaged_model_dir
settings = Settings(embed_runtime="onnx", embed_precision="fp32")
ours = embedder_for(settings)
folder = Path(tempfile.mkdtemp())
for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
    shutil.copy(packaged_model_dir(settings.cache_dir) / name, folder / name)
os.symlink(ours.model_file, folder / "model.onnx")
TextEmbedding.add_custom_model(model="local/all-MiniLM-L6-v2-onnx", pooling=PoolingType.MEAN, normalization=True,
                               sources=ModelSource(hf="local/none"), dim=384, model_file="model.onnx")
t0 = time.perf_counter()
fe = TextEmbedding("local/all-MiniLM-L6-v2-onnx", specific_model_path=str(folder), threads=2)
t_load = time.perf_counter() - t0
texts = json.loads(Path({texts_file!r}).read_text())
t0 = time.perf_counter(); a = np.array(list(fe.embed(texts, batch_size=32))); t_fe = time.perf_counter() - t0
t0 = time.perf_counter(); b = ours.encode(texts); t_ours = time.perf_counter() - t0
cos = (a * b).sum(axis=1)
print(json.dumps({{"import_s": t_import, "load_s": t_load, "embed_s": t_fe, "ours_embed_s": t_ours,
                  "texts": len(texts), "min_cos": float(cos.min()), "mean_cos": float(cos.mean()),
                  "truncation": (getattr(getattr(fe.model, "tokenizer", None), "truncation", None) or {{}}).get("max_length")}}))
"""


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _timed(cmd: list[str], env: dict) -> dict:
    """Run a command under /usr/bin/time: wall seconds, peak RSS (MB) and CPU seconds of that command alone."""
    t = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "TIME %M %U %S", *cmd], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env}, timeout=1800)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    rss_kb, user, sys_ = re.findall(r"TIME (\d+) ([\d.]+) ([\d.]+)", proc.stderr)[-1]
    return {"wall_s": wall, "peak_rss_mb": int(rss_kb) / 1024, "cpu_s": float(user) + float(sys_),
            "stdout": proc.stdout}


def measure(config: str, index_dir: Path, runs: int, repeats: int) -> dict:
    """Build, cold start and warm figures of one runtime, each phase in fresh processes."""
    runtime, precision = CONFIGS[config]
    env = {"RAG_INDEX_DIR": str(index_dir), "RAG_EMBED_RUNTIME": runtime, "RAG_EMBED_PRECISION": precision,
           "RAG_MODE": "extractive", "OPENAI_BASE_URL": "", "OPENAI_API_KEY": ""}
    rag_bin = str(Path(sys.executable).with_name("rag"))
    out: dict = {"runtime": runtime, "precision": precision, "load_at_start": _load()}
    # The model file (ONNX export, int8 quantisation) is a cached one-off: make sure it exists before timing.
    subprocess.run([sys.executable, "-c", "from rag.config import Settings; from rag.embed import embedder_for; "
                    "embedder_for(Settings())"], cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True)
    build = _timed([rag_bin, "build", "--force", "--quiet"], env)
    manifest = json.loads((index_dir / "manifest.json").read_text())
    out["build"] = {**{k: v for k, v in build.items() if k != "stdout"}, "build_seconds": manifest["build_seconds"],
                    "embedder": manifest.get("embedder")}
    out["load_at_cold"] = _load()
    cold = [_timed([rag_bin, "ask", COLD_QUESTION], env) for _ in range(runs)]
    out["cold_ask"] = {k: median([c[k] for c in cold]) for k in ("wall_s", "peak_rss_mb", "cpu_s")}
    out["cold_ask"]["runs"] = [round(c["wall_s"], 3) for c in cold]
    out["cold_ask"]["cited"] = "[1]" in cold[0]["stdout"]
    imports = [_timed([sys.executable, "-c", "import rag"], env)["wall_s"] for _ in range(runs)]
    bare = [_timed([sys.executable, "-c", "pass"], env)["wall_s"] for _ in range(runs)]
    out["import_rag_s"] = max(0.0, median(imports) - median(bare))
    out["interpreter_s"] = median(bare)
    out["load_at_warm"] = _load()
    warm = _timed([sys.executable, "-c", WARM_CODE.format(repeats=repeats)], env)
    data = json.loads(warm["stdout"].strip().splitlines()[-1])
    out["warm_ms"] = {k: summarize(v) for k, v in data["stages"].items()}
    out["retrieval"] = data["retrieval"]
    out["load_at_end"] = _load()
    return out


def fastembed(runs_texts: int = 200) -> dict:
    """fastembed over our exported ONNX file from a local folder (no download); vectors compared with ours."""
    from rag.config import Settings
    from rag.corpus import load_corpus

    chunks = load_corpus(Settings().corpus_dir)
    texts = [c.embed_text for c in chunks][:runs_texts]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(texts, f)
    try:
        proc = subprocess.run([sys.executable, "-c", FASTEMBED_CODE.format(texts_file=f.name)], capture_output=True,
                              text=True, cwd=ROOT, timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        os.unlink(f.name)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def tables(result: dict) -> list[tuple[str, list[str], list[list]]]:
    """(title, headers, rows) of the side-by-side tables."""
    cfgs = [c for c in CONFIGS if c in result["configs"]]
    r = result["configs"]
    rows = [
        ["cold `rag ask` wall s (median)"] + [r[c]["cold_ask"]["wall_s"] for c in cfgs],
        ["cold `rag ask` CPU s"] + [r[c]["cold_ask"]["cpu_s"] for c in cfgs],
        ["cold `rag ask` peak RSS MB"] + [r[c]["cold_ask"]["peak_rss_mb"] for c in cfgs],
        ["`import rag` s (over a bare interpreter)"] + [r[c]["import_rag_s"] for c in cfgs],
        ["build wall s (fresh `rag build --force`)"] + [r[c]["build"]["wall_s"] for c in cfgs],
        ["build CPU s"] + [r[c]["build"]["cpu_s"] for c in cfgs],
        ["build peak RSS MB"] + [r[c]["build"]["peak_rss_mb"] for c in cfgs],
    ]
    for stage in ("embed", "retrieve", "answer", "total"):
        rows.append([f"warm ask() {stage} p50 ms"] + [r[c]["warm_ms"].get(stage, {}).get("p50") for c in cfgs])
    rows.append(["warm ask() total p95 ms"] + [r[c]["warm_ms"]["total"]["p95"] for c in cfgs])
    rows.append(["load average at cold / warm"] + [f"{r[c]['load_at_cold']} / {r[c]['load_at_warm']}" for c in cfgs])
    out = [("Runtimes side by side", ["what", *cfgs], rows)]
    ret = []
    for split in ("dev", "test"):
        for name in ("dense", "fused"):
            for m in ("recall@1", "recall@5", "mrr@10"):
                ret.append([f"{split} {name} {m}"] + [r[c]["retrieval"][split][name][m] for c in cfgs])
    out.append(("Gold retrieval (eval.retrieval, same questions)", ["figure", *cfgs], ret))
    fe = result.get("fastembed")
    if fe:
        rows = [[k, v] for k, v in fe.items()]
        out.append(("fastembed on the same ONNX file (local folder, offline)", ["what", "value"], rows))
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure every runtime in one run and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="fresh processes per cold-start figure (median)")
    ap.add_argument("--repeats", type=int, default=1, help="passes over the gold questions for warm timings")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--no-fastembed", action="store_true")
    args = ap.parse_args(argv)
    result: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
                    "question": COLD_QUESTION, "configs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.configs.split(","):
            result["configs"][config] = measure(config, Path(tmp) / config / "index", args.runs, args.repeats)
            print(f"{config}: done (load {_load()})", file=sys.stderr, flush=True)
            write_result("runtimes.json", result)  # a later failure keeps what was measured
    if not args.no_fastembed:
        result["fastembed"] = fastembed()
    for title, headers, rows in tables(result):
        print(format_table(headers, rows, title), end="\n\n")
    write_result("runtimes.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
