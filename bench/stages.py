"""Cold start, index build and warm `ask()` per stage, each beside its floor.

- Cold start, each in a fresh process: `import rag`; the first `ask()` (model and index load included); the
  `rag ask` command end to end.
- Index build of the real corpus in a fresh process: wall time and that process's peak RSS.
- Warm `ask()` in extractive mode over the gold questions, `repeats` times each. `ask()` itself records
  load/embed/retrieve/answer/total; the retrieval sub-stages are timed here by wrapping the retriever's own
  methods for the duration of the run (dense = `dense_scores` + `sentence_scores`, BM25 = `bm25_scores`
  including the question's tokenisation, fusion = the rest of `search`), so the library carries no timing code.
- The floor, interleaved with the questions so that both see the same machine load: MiniLM's tokeniser and one
  forward pass on the question (one torch thread, like `ask()`), and a raw `IndexFlatIP.search` over the chunk
  vectors (and, for reference, over the sentence vectors the dense stage actually scans).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.core import ROOT
from bench.stats import median, summarize
from rag.retrieve import SearchParams

COLD_QUESTION = "How much does NexSpec speed up RL training?"
STAGES = ("load", "embed", "dense", "bm25", "fusion", "retrieve", "answer", "other", "total")


def _python(code: str, env: dict | None = None, timeout: float = 900) -> tuple[dict, float]:
    """Run code in a fresh interpreter; returns (the JSON it printed last, wall seconds)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=timeout)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


BUILD_CODE = """
import json, time
from bench.scale import peak_rss_mb
t0 = time.perf_counter()
from rag.config import Settings
from rag.embed import embedder_for
from rag.api import build_index
settings = Settings(index_dir={index_dir!r})
emb = embedder_for(settings)
t1 = time.perf_counter()
build_index(settings, embedder=emb, progress=False)
t2 = time.perf_counter()
print(json.dumps({{"model_load_s": t1 - t0, "build_s": t2 - t1,
                  "peak_rss_mb": peak_rss_mb()}}))
"""

FIRST_ASK_CODE = """
import json, time
t0 = time.perf_counter()
import rag
t1 = time.perf_counter()
a = rag.ask({question!r}, mode="extractive")
t2 = time.perf_counter()
from bench.scale import peak_rss_mb
print(json.dumps({{"import_s": t1 - t0, "first_ask_s": t2 - t1, "timings_ms": a.timings_ms, "refused": a.refused,
                  "peak_rss_mb": peak_rss_mb()}}))
"""

IMPORT_CODE = "import json, time; t = time.perf_counter(); import rag; print(json.dumps(time.perf_counter() - t))"


def build(index_dir: Path) -> dict:
    """Build the real corpus's index in a fresh process: model load, build time, peak RSS of that process."""
    out, wall = _python(BUILD_CODE.format(index_dir=str(index_dir)))
    manifest = json.loads((index_dir / "manifest.json").read_text())
    size = sum(f.stat().st_size for f in index_dir.iterdir() if f.is_file())
    # Peak RSS is the child's VmHWM: RUSAGE_CHILDREN's ru_maxrss would also count this (bigger) parent, because
    # Linux keeps the maximum across the fork + exec that starts the child.
    out.update(wall_s=wall, chunks=manifest["chunk_count"], sentences=manifest["sentence_count"], index_bytes=size)
    return out


def cold_start(index_dir: Path, runs: int = 3, question: str = COLD_QUESTION) -> dict:
    """`import rag`, first `ask()` and `rag ask` end to end, each in fresh processes; medians over `runs`."""
    env = {"RAG_INDEX_DIR": str(index_dir), "RAG_MODE": "extractive"}
    imports = [_python(IMPORT_CODE, env)[0] for _ in range(max(5, runs))]
    firsts = [_python(FIRST_ASK_CODE.format(question=question), env) for _ in range(runs)]
    rag_bin = Path(sys.executable).with_name("rag")
    cli = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([str(rag_bin), "ask", "--mode", "extractive", question], capture_output=True, check=True,
                       cwd=ROOT, env={**os.environ, **env}, timeout=300)
        cli.append(time.perf_counter() - t)
    return {
        "import_rag_s": median(imports), "import_rag_runs": imports,
        "first_ask_s": median([f[0]["first_ask_s"] for f in firsts]),
        "first_ask_process_s": median([f[1] for f in firsts]),  # interpreter start + import + first ask
        "first_ask_load_ms": median([f[0]["timings_ms"]["load"] for f in firsts]),
        "first_ask_peak_rss_mb": median([f[0]["peak_rss_mb"] for f in firsts]),
        "first_ask_runs": [f[0]["first_ask_s"] for f in firsts],
        "cli_ask_s": median(cli), "cli_ask_runs": cli, "question": question,
    }


class _StageTimer:
    """Wraps the retriever's scoring methods on the instance to add up their time per question."""

    METHODS = {"dense_scores": "dense", "sentence_scores": "dense", "bm25_scores": "bm25"}

    def __init__(self, retriever) -> None:
        self.retriever, self.spent = retriever, {"dense": 0.0, "bm25": 0.0}

    def __enter__(self):
        for name, stage in self.METHODS.items():
            setattr(self.retriever, name, self._wrap(getattr(self.retriever, name), stage))
        return self

    def _wrap(self, fn, stage):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[stage] += (time.perf_counter() - t) * 1000
        return timed

    def reset(self) -> None:
        self.spent = {"dense": 0.0, "bm25": 0.0}

    def __exit__(self, *exc) -> None:
        for name in self.METHODS:
            self.retriever.__dict__.pop(name, None)


class Floor:
    """The least work each stage could do: tokenise + one MiniLM forward pass; a raw flat FAISS search."""

    def __init__(self, embedder, loaded, k: int = 40) -> None:
        import faiss
        import numpy as np

        self.embedder, self.k = embedder, k
        n = len(loaded.index.chunks)
        self.chunk_index = faiss.IndexFlatIP(embedder.dimension)
        self.chunk_index.add(np.asarray(loaded.index.faiss_index.reconstruct_n(0, n), dtype=np.float32))
        self.sentence_index = faiss.IndexFlatIP(embedder.dimension)
        self.sentence_index.add(np.ascontiguousarray(loaded.index.sentence_vectors, dtype=np.float32))

    def forward_ms(self, question: str) -> float:
        """Tokenise and run the model on one question: ONNX session run, or the torch forward pass."""
        if hasattr(self.embedder, "token_embeddings"):  # ONNX Runtime
            t = time.perf_counter()
            self.embedder.token_embeddings([question])
            return (time.perf_counter() - t) * 1000
        import torch

        from rag.embed import single_torch_thread

        model = self.embedder._model
        t = time.perf_counter()
        with single_torch_thread(), torch.inference_mode():
            feats = getattr(model, "preprocess", model.tokenize)([question])
            model.forward(feats)["sentence_embedding"]
        return (time.perf_counter() - t) * 1000

    def search_ms(self, qvec, index) -> float:
        q = qvec.reshape(1, -1)
        t = time.perf_counter()
        index.search(q, min(self.k, index.ntotal))
        return (time.perf_counter() - t) * 1000


def warm(index_dir: Path, items: list[dict], repeats: int = 3) -> dict:
    """Warm extractive `ask()` per stage and the floors, over the gold items, `repeats` times each."""
    import faiss

    from eval.metrics import evidence_in_contexts, mean
    from rag.api import ask
    from rag.pipeline import Pipeline
    from rag.config import Settings
    from rag.embed import embedder_for

    settings = Settings(index_dir=index_dir, mode="extractive")
    embedder = embedder_for(settings)
    loaded = Pipeline(settings, embedder).corpus
    retriever = loaded.retriever
    floor = Floor(embedder, loaded, settings.retrieval.candidates)
    questions = [i["user_input"] for i in items]
    for q in questions[:5]:  # warm caches, allocator and torch's first-call paths
        ask(q, settings=settings, embedder=embedder)
        floor.forward_ms(q)
    stages = {s: [] for s in STAGES}
    floors = {"forward": [], "flat_chunks": [], "flat_sentences": []}
    evidence_answer, evidence_retrieval, routes = [], [], {}
    with _StageTimer(retriever) as timer:
        for rep in range(repeats):
            for item in items:
                q = item["user_input"]
                timer.reset()
                a = ask(q, settings=settings, embedder=embedder)
                t = dict(a.timings_ms)
                for key in ("load", "embed", "retrieve", "answer", "total"):
                    stages[key].append(t.get(key, 0.0))
                stages["dense"].append(timer.spent["dense"])
                stages["bm25"].append(timer.spent["bm25"])
                stages["fusion"].append(max(0.0, t.get("retrieve", 0.0) - timer.spent["dense"] - timer.spent["bm25"]))
                stages["other"].append(max(0.0, t["total"] - sum(t.get(k, 0.0) for k in ("load", "embed", "retrieve", "answer"))))
                floors["forward"].append(floor.forward_ms(q))
                qvec = embedder.encode([a.rewritten_question or q])[0]
                floors["flat_chunks"].append(floor.search_ms(qvec, floor.chunk_index))
                floors["flat_sentences"].append(floor.search_ms(qvec, floor.sentence_index))
                if rep == 0:
                    routes[a.route or "retrieval"] = routes.get(a.route or "retrieval", 0) + 1
                    if item["evidence"]:
                        top = [f"{h.chunk.title}\n{h.chunk.text}" for h in a.contexts[:5]]
                        evidence_answer.append(evidence_in_contexts(item["evidence"], top))
    # Retrieval alone (what the peer is compared with): our fused top-5 for each question, and its latency.
    retrieval_ms = []
    for item in items:
        if not item["evidence"]:
            continue
        t = time.perf_counter()
        qvec = embedder.encode([item["user_input"]])[0]
        hits = retriever.tuned(SearchParams.from_settings(settings)).search(item["user_input"], qvec, 5)
        retrieval_ms.append((time.perf_counter() - t) * 1000)
        evidence_retrieval.append(evidence_in_contexts(item["evidence"], [f"{h.chunk.title}\n{h.chunk.text}" for h in hits]))
    out = {
        "questions": len(items), "repeats": repeats, "samples": len(stages["total"]), "routes": routes,
        "stages_ms": {s: summarize(v) for s, v in stages.items()},
        "floor_ms": {s: summarize(v) for s, v in floors.items()},
        "chunks": len(loaded.index.chunks), "sentence_vectors": int(loaded.index.sentence_vectors.shape[0]),
        "evidence_in_top5_answer": mean(evidence_answer),
        "evidence_in_top5_retrieval": mean(evidence_retrieval),
        "evidence_questions": len(evidence_retrieval),
        "retrieval_with_embed_ms": summarize(retrieval_ms),
        "runtime": getattr(embedder, "runtime", None), "faiss_threads": faiss.omp_get_max_threads(),
    }
    s, f = out["stages_ms"], out["floor_ms"]
    floor_total = f["forward"]["p50"] + f["flat_chunks"]["p50"]
    out["floor_total_p50_ms"] = floor_total
    out["ratios_p50"] = {
        "embed/forward": s["embed"]["p50"] / f["forward"]["p50"],
        "dense/flat_chunks": s["dense"]["p50"] / f["flat_chunks"]["p50"],
        "dense/flat_sentences": s["dense"]["p50"] / f["flat_sentences"]["p50"],
        "total/floor": s["total"]["p50"] / floor_total,
    }
    return out
