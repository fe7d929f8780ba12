"""LLM mode beside extractive mode on one half of the gold set, in the same run.

    python -m eval.modes --split dev [--limit N] [--modes extractive,llm,llm:decide] [--out eval/reports]

Each question is answered in each mode over the same retrieval ("llm:decide" = LLM mode with
RAG_LLM_STRATEGY=decide). Besides the usual own metrics it
reports false refusals (answerable questions refused), the fallback rate (answers where the LLM was asked but the
checked answer is the extractive fallback) with each reason counted, the LLM's own refusals, and time per answer.
Writes `modes-<split>.json` and `.md`.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import Counter
from pathlib import Path

from rag.config import Settings

from .gold import GOLD_PATH, in_split, load_gold
from .retrieval import rankings
from .scoring import aggregate, score_question

MODES = ("extractive", "llm")
_REASONS = (  # note wording (rag/generate.py) -> short reason
    (r"cited no source", "cited no supporting source"),
    (r"sentences were not supported", "most sentences unsupported"),
    (r"timed out|past the timeout", "timeout"),
    (r"could not be reached|could not start|not usable", "endpoint unavailable"),
    (r"empty completion|without finishing|stream broke off|malformed", "broken reply"),
)


def fallback_reason(notes: list[str]) -> str | None:
    """Why an LLM-mode answer is the extractive fallback (None when it is not one)."""
    text = " ".join(n for n in notes if "LLM" in n and ("not used" in n or "failed" in n))
    if not text:
        return None
    return next((name for pattern, name in _REASONS if re.search(pattern, text)), "other")


def summarize(rows: list[dict], answers: list[dict]) -> dict:
    """Own metrics plus false refusals, fallbacks and times for one mode."""
    agg = aggregate(rows)["overall"]
    answerable = [r for r in rows if not r["unanswerable"]]
    asked = [a for a in answers if a.get("route") in (None, "passages") and a.get("contexts")]
    reasons = Counter(r for r in (fallback_reason(a.get("notes", [])) for a in asked) if r)
    times = sorted(a.get("timings_ms", {}).get("total", 0) / 1000 for a in answers)
    return {
        "questions": len(rows),
        "key_fact_recall": agg["key_fact_recall"],
        "refusal_recall": agg["refusal_recall"],
        "false_refusal_rate": sum(r["refused"] for r in answerable) / max(1, len(answerable)),
        "citation_validity": agg["citation_validity"],
        "answered": agg["answered"],
        "llm_asked": len(asked),
        "fallback_rate": sum(reasons.values()) / max(1, len(asked)),
        "fallback_reasons": dict(reasons),
        "llm_refusals": sum(1 for a in asked if a.get("mode") == "llm" and a.get("refused")),
        "seconds_p50": times[len(times) // 2] if times else 0.0,
        "by_kind": {k: v["key_fact_recall"] for k, v in aggregate(rows)["by_kind"].items()},
    }


def sample(items: list[dict], answerable: int) -> list[dict]:
    """Every unanswerable item and `answerable` others spread evenly through the list (file order kept)."""
    others = [i for i in items if i["kind"] != "unanswerable"]
    step = max(1, len(others) // max(1, answerable))
    keep = {id(i) for i in others[::step][:answerable]}
    return [i for i in items if i["kind"] == "unanswerable" or id(i) in keep]


def run(split: str, limit: int | None = None, settings: Settings | None = None,
        modes: tuple[str, ...] = MODES, progress: bool = True, answerable: int | None = None) -> dict:
    """Answer the split's questions in each mode and score them; returns {mode: summary, "questions": [...]}."""
    from rag.api import ask
    from rag.pipeline import Pipeline
    from rag.embed import default_embedder

    from .run import CachedEmbedder

    settings = settings or Settings()
    items = in_split(load_gold(GOLD_PATH), split)
    items = sample(items, answerable) if answerable else items
    items = items[:limit] if limit else items
    embedder = CachedEmbedder(default_embedder(settings.cache_dir, settings.index.embed_model),
                              [i["user_input"] for i in items])
    retriever = Pipeline(settings, embedder).corpus.retriever
    chunk_texts = {c.id: f"{c.title}\n{c.text}" for c in retriever.chunks}
    rows: dict[str, list] = {m: [] for m in modes}
    answers: dict[str, list] = {m: [] for m in modes}
    per_question = []
    t0 = time.perf_counter()
    for n, item in enumerate(items, start=1):
        ranked = rankings(retriever, item["user_input"], embedder.encode([item["user_input"]])[0], settings)
        entry = {"id": item["id"], "kind": item["kind"], "question": item["user_input"]}
        for m in modes:
            mode, _, strategy = m.partition(":")
            s = settings.updated(llm_strategy=strategy) if strategy else settings
            a = ask(item["user_input"], settings=s, embedder=embedder, mode=mode).to_dict()
            answers[m].append(a)
            rows[m].append(score_question(item, a, ranked, chunk_texts, settings.retrieval.k))
            entry[m] = {"text": a["text"], "mode": a["mode"], "refused": a["refused"], "notes": a["notes"],
                        "key_fact_recall": rows[m][-1]["key_fact_recall"], "unsupported": a["unsupported"],
                        "seconds": a["timings_ms"].get("total", 0) / 1000}
        per_question.append(entry)
        if progress:
            print(f"[{n}/{len(items)} {time.perf_counter() - t0:.0f} s] {item['id']} "
                  + " ".join(f"{m}:{'R' if entry[m]['refused'] else entry[m]['mode'][0]}"
                             f"{'' if entry[m]['key_fact_recall'] is None else round(entry[m]['key_fact_recall'], 2)}"
                             for m in modes), file=sys.stderr, flush=True)
    return {"split": split, "settings": settings.model_dump(mode="json"), "seconds": time.perf_counter() - t0,
            **{m: summarize(rows[m], answers[m]) for m in modes}, "questions": per_question}


def table(results: dict, modes: tuple[str, ...] = MODES) -> str:
    """A Markdown table of the headline figures, one column per mode."""
    keys = ("questions", "key_fact_recall", "refusal_recall", "false_refusal_rate", "citation_validity",
            "fallback_rate", "llm_refusals", "seconds_p50")
    lines = ["| metric | " + " | ".join(modes) + " |", "|---|" + "---|" * len(modes)]
    for k in keys:
        vals = [results[m][k] for m in modes]
        lines.append(f"| {k} | " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in vals) + " |")
    for m in modes:
        if results[m]["fallback_reasons"]:
            lines.append(f"\n{m} fallback reasons: " + ", ".join(f"{k} {v}" for k, v in
                                                                 results[m]["fallback_reasons"].items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run both modes on a split, print the table and write the report files."""
    p = argparse.ArgumentParser(prog="python -m eval.modes", description=__doc__.splitlines()[0])
    p.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    p.add_argument("--limit", type=int, default=None, help="only the first N questions")
    p.add_argument("--sample", type=int, default=None, metavar="N",
                   help="every unanswerable question and N answerable ones spread through the half")
    p.add_argument("--modes", default=",".join(MODES), help="comma-separated: extractive, llm, llm:write, llm:decide")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "reports")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    results = run(args.split, args.limit, modes=modes, progress=not args.no_progress, answerable=args.sample)
    print(table(results, modes))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"modes-{args.split}" + (f"-{args.limit}" if args.limit else "") + (f"-s{args.sample}" if args.sample else "")
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str))
    (args.out / f"{stem}.md").write_text(f"# LLM vs extractive, {args.split} half\n\n{table(results, modes)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
