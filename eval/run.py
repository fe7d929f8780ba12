"""The evaluation harness: `python -m eval [--gold PATH] [--limit N] [--k 5] [--out DIR] [--gate]`.

With `--judge-base-url URL --judge-model NAME` it also scores the answers with LLM-judged Ragas metrics
(eval/judge/); `--answer-mode` chooses how the answers are produced."""
from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rag.config import Settings

from . import citecheck, gate
from . import judge as judging
from .gold import GOLD_PATH, coverage, in_split, load_gold
from .report import write_reports
from .retrieval import RETRIEVERS, rankings, summarize
from .scoring import aggregate, score_question
from .tables import format_table, metric_cell

log = logging.getLogger(__name__)

REPORTS_DIR = Path(__file__).resolve().parent / "reports"


class CachedEmbedder:
    """An embedder that serves the vectors of texts it encoded up front in one batch, encoding others on demand.

    One batch for all questions is far faster on a small CPU than one call per question; vectors match
    single-text encoding to float rounding (about 1e-7).
    """

    def __init__(self, inner, texts: list[str]) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        unique = list(dict.fromkeys(texts))
        self._cache = dict(zip(unique, inner.encode(unique, batch_size=64))) if unique else {}

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Rows for the texts, from the cache where possible."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            self._cache.update(zip(missing, self.inner.encode(missing, batch_size=batch_size)))
        return np.vstack([self._cache[t] for t in texts]).astype(np.float32) if texts else \
            np.zeros((0, self.dimension), dtype=np.float32)


def _normalized(question: str, settings: Settings) -> str | None:
    """The question as `ask` sees it, or None if `ask` would reject it."""
    from rag.question import validate_question

    try:
        return validate_question(question, settings.answer.max_question_chars)[0]
    except ValueError:
        return None


def about_posters(chunks) -> dict[str, set[str]]:
    """For each chunk, the poster chunk ids it is about: a poster itself, a notes entry linked to it, or a passage
    that names its system (name or alias as a word)."""
    import re

    from rag.text import fold

    names = {}
    for c in chunks:
        if c.kind == "poster":
            for n in [c.metadata.get("name") or "", *c.metadata.get("aliases", [])]:
                if len(n) >= 3:
                    names[re.compile(r"(?<![\w-])" + re.escape(fold(n)) + r"(?![\w-])")] = c.id
    out: dict[str, set[str]] = {}
    for c in chunks:
        own = {c.id} if c.kind == "poster" else set()
        if c.metadata.get("poster_id"):
            own.add(c.metadata["poster_id"])
        text = fold(f"{c.title} {c.text}")
        out[c.id] = own | {pid for pat, pid in names.items() if pat.search(text)}
    return out


def _failed_answer(question: str, error: Exception) -> dict:
    """A stand-in answer for a question that raised: counts as answered, wrong and uncited."""
    return {"question": question, "text": "", "citations": [], "contexts": [], "refused": False,
            "route": None, "prompt_hash": None, "index_fingerprint": None, "error": f"{type(error).__name__}: {error}"}


def run(settings: Settings | None = None, gold_path: str | Path = GOLD_PATH, limit: int | None = None,
        out_dir: str | Path | None = REPORTS_DIR, k: int = 5, thresholds_path: str | Path | None = gate.THRESHOLDS_PATH,
        progress: bool = True, answer_mode: str | None = None,
        judge_config: judging.JudgeConfig | None = None, split: str | None = None) -> dict:
    """Answer every gold question, score answers and the three retrievers, and write the report.

    `answer_mode` ("auto", "llm", "extractive"; None = the settings' mode) is passed to `ask`; with `judge_config`
    the answers are also scored by an LLM judge (eval/judge/), whose endpoint is checked before any answering.
    """
    from tqdm import tqdm

    from rag.api import ask
    from rag.pipeline import Pipeline
    from rag.embed import default_embedder

    from .ragas_scores import ragas_scores

    t0 = time.perf_counter()
    if judge_config is not None:  # fail fast, before minutes of answering, if the judge is not there
        judging.check_endpoint(judge_config.base_url, judge_config.model, timeout=min(10.0, judge_config.call_timeout))
    settings = settings or Settings()
    items = in_split(load_gold(gold_path), split)
    items = items[:limit] if limit else items
    questions = [_normalized(i["user_input"], settings) for i in items]
    embedder = CachedEmbedder(default_embedder(settings.cache_dir, settings.index.embed_model), [q for q in questions if q])
    loaded = Pipeline(settings, embedder).corpus
    retriever = loaded.retriever
    chunk_texts = {c.id: f"{c.title}\n{c.text}" for c in retriever.chunks}
    about = about_posters(retriever.chunks)

    rows, samples, judge_samples = [], [], []
    for item, q in zip(tqdm(items, desc="eval", unit="q", disable=not progress, file=sys.stderr), questions):
        try:
            answer = ask(item["user_input"], k=k, settings=settings, embedder=embedder, mode=answer_mode).to_dict()
        except Exception as e:  # noqa: BLE001 - one broken question must not stop the run
            log.exception("question %s failed", item["id"])
            answer = _failed_answer(item["user_input"], e)
        ranked = {name: [] for name in RETRIEVERS}
        if q:
            ranked = rankings(retriever, q, embedder.encode([q])[0], settings)
        rows.append(score_question(item, answer, ranked, chunk_texts, k, about))
        samples.append({
            "user_input": item["user_input"], "response": answer["text"], "reference": item["reference"],
            "retrieved_contexts": [c["text"] for c in answer["contexts"]],
            "retrieved_context_ids": [c["chunk_id"] for c in answer["contexts"]],
            "reference_context_ids": item["reference_context_ids"], "reference_contexts": item["evidence"],
        })
        if judge_config is not None:
            judge_samples.append(judging.judge_sample(item, answer, judge_config.max_context_chars))

    for row, scores in zip(rows, ragas_scores(samples)):
        row["ragas"] = scores
    results = aggregate(rows)
    results["ragas"] = {name: results["overall"][name] for name in rows[0]["ragas"]} if rows else {}
    results["retrieval"] = summarize([r["rankings"] for r in rows], [r["reference_context_ids"] for r in rows])
    citecheck.add_to_results(results, items, retriever.chunks, settings)  # the citation check on gold references
    if judge_config is not None:
        judged = judging.judge(judge_samples, judge_config, embedder=embedder.inner, settings=settings, check=False)
        for row, scores in zip(rows, judged.per_sample):
            row["judge"] = scores
        results["judge"] = {"metrics": judged.metrics, "meta": judged.meta}
    has_thresholds = bool(thresholds_path and Path(thresholds_path).exists())
    results["thresholds"] = gate.load_thresholds(thresholds_path) if has_thresholds else {}
    results["maxima"] = gate.load_maxima(thresholds_path) if has_thresholds else {}
    hashes = sorted({r["prompt_hash"] for r in rows if r["prompt_hash"]})
    results["settings"] = settings.model_dump(mode="json")
    results["meta"] = {
        "finished_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "gold": str(gold_path),
        "gold_sha256": hashlib.sha256(Path(gold_path).read_bytes()).hexdigest(),
        "gold_coverage": coverage(items),
        "limit": limit,
        "split": split or "all",
        "k": k,
        "index_fingerprint": loaded.index.fingerprint,
        "prompt_hash": hashes[0] if len(hashes) == 1 else (hashes or None),
        "routes": sorted({r["route"] or "error" for r in rows}),
        "seconds": time.perf_counter() - t0,
    }
    results["questions"] = rows
    if out_dir is not None:
        write_reports(results, out_dir)
    return results


def summary(results: dict) -> str:
    """Plain-text summary tables for the terminal."""
    ret = results["retrieval"]
    mrr = next(key for key in ret["fused"] if key.startswith("mrr@"))
    tables = [format_table(["retriever", "R@1", "R@5", "R@10", mrr.upper()],
                           [[n, ret[n]["recall@1"], ret[n]["recall@5"], ret[n]["recall@10"], ret[n][mrr]]
                            for n in RETRIEVERS], cell=metric_cell)]
    halves = results.get("splits", {})
    minima, maxima = results["thresholds"], results.get("maxima", {})
    tables.append(format_table(
        ["metric", *halves, "gated", "min", "max"],
        [[name, *[m.get(name) for m in halves.values()], value, minima.get(name, ""), maxima.get(name, "")]
         for name, value in {**results["headline"], **results["ragas"]}.items()], cell=metric_cell))
    tables.append(format_table(
        ["kind", "n", "facts", "evid5", "cite", "R@5"],
        [[kind, m["questions"], m["key_fact_recall"], m["evidence_in_top5"], m["citation_validity"],
          m["fused_recall_at_5"]] for kind, m in results["by_kind"].items()], cell=metric_cell))
    if results.get("judge"):
        tables.append("\n".join(judging.summary_lines(results["judge"])))
    tables.append(f"{results['overall']['questions']} questions in {results['meta']['seconds']:.1f} s")
    return "\n\n".join(tables)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line flags."""
    p = argparse.ArgumentParser(prog="python -m eval", description="Offline evaluation of the cited QA pipeline.")
    p.add_argument("--gold", type=Path, default=GOLD_PATH, help="gold questions (JSONL)")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--k", type=int, default=5, help="passages retrieved per question")
    p.add_argument("--out", type=Path, default=REPORTS_DIR, help="report folder")
    p.add_argument("--gate", action="store_true", help="exit 1 when a headline metric is below its minimum")
    p.add_argument("--thresholds", type=Path, default=gate.THRESHOLDS_PATH, help="minimums for --gate (TOML)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--split", choices=("dev", "test", "all"), default="all",
                   help="answer only one half of gold (the report always shows each half present)")
    judging.add_arguments(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Run the suite, print the summary, and with --gate return 1 if any headline metric misses its minimum."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.gate and not args.thresholds.exists():
        print(f"no thresholds file at {args.thresholds}", file=sys.stderr)
        return 2
    try:
        judge_config = judging.config_from_args(args)
        judging.check_answer_mode(args.answer_mode, settings)
        results = run(settings, args.gold, args.limit, args.out, args.k, args.thresholds, progress=not args.no_progress,
                      answer_mode=args.answer_mode, judge_config=judge_config, split=args.split)
    except (judging.JudgeUnavailable, judging.JudgeArgumentError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary(results))
    print(f"report: {Path(args.out) / 'latest.md'}")
    if not args.gate:
        return 0
    failures = gate.check(results["headline"], results["thresholds"], results.get("maxima"))
    for line in failures:
        print(line)
    print("gate: FAILED" if failures else "gate: passed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
