"""How well the local model's yes/no decision separates answerable from unanswerable questions, beside the
extractive answerability check, on one half of the gold set.

    python -m eval.decide_probe --split dev [--limit N] [--out eval/reports/decide-dev.json]

For every question that reaches the passages (not the exact-answer router), the extractive draft is composed and
the model is asked the `decide` prompt over the draft's cited sentences, as `RAG_LLM_STRATEGY=decide` does, also
when the extractive check refused (then over the sentences the refusal quotes). It prints refusal recall and false
refusals for: the extractive check alone, the two combined as LLM mode combines them (either refuses), both
refusing, and the model alone. Needs the local model (or an endpoint); about 2 s per question on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from .gold import GOLD_PATH, in_split, is_unanswerable, load_gold

log = logging.getLogger(__name__)

RULES = {
    "extractive alone": lambda r: r["ext_refused"],
    "either refuses (LLM mode)": lambda r: r["ext_refused"] or r["llm_no"],
    "both refuse": lambda r: r["ext_refused"] and r["llm_no"],
    "model alone": lambda r: r["llm_no"],
}


def probe(items: list[dict]) -> list[dict]:
    """One row per routed-to-passages question: the extractive verdict and the model's yes/no on the draft."""
    from rag import llm
    from rag.config import Settings
    from rag.generate import draft_sources
    from rag.pipeline import Pipeline
    from rag.prompts import load_prompts

    settings = Settings()
    pipe = Pipeline(settings)
    rows = []
    for n, item in enumerate(items, start=1):
        turn = pipe.prepare(item["user_input"], mode="extractive")
        if pipe.route(turn) is not None:
            continue
        draft = pipe.answer_extractive(turn)
        sources = draft_sources(draft)
        reply = ""
        if sources:
            msg = load_prompts().render("decide", sources="\n\n".join(sources), question=item["user_input"])
            reply = llm.complete([{"role": "user", "content": msg}], settings, max_tokens=3)
        word = reply.strip().lower().lstrip("*\"' ")
        rows.append({"id": item["id"], "unanswerable": is_unanswerable(item), "ext_refused": draft.refused,
                     "llm_no": word.startswith("no"), "reply": word[:10]})
        if n % 25 == 0:
            log.info("%d / %d questions", n, len(items))
    return rows


def summary(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Refusal recall and false refusals of each way of combining the two decisions."""
    answerable = [r for r in rows if not r["unanswerable"]]
    unanswerable = [r for r in rows if r["unanswerable"]]
    return {name: {"refusal_recall": sum(map(rule, unanswerable)) / max(1, len(unanswerable)),
                   "false_refusals": sum(map(rule, answerable)) / max(1, len(answerable))}
            for name, rule in RULES.items()}


def main(argv: list[str] | None = None) -> int:
    """Run the probe and print the table."""
    p = argparse.ArgumentParser(prog="python -m eval.decide_probe", description=__doc__.split("\n\n")[0])
    p.add_argument("--gold", type=Path, default=GOLD_PATH)
    p.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", type=Path, default=None, help="write the rows and the summary as JSON")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    items = in_split(load_gold(args.gold), args.split)[: args.limit]
    rows = probe(items)
    table = summary(rows)
    answerable = sum(not r["unanswerable"] for r in rows)
    print(f"{len(rows)} questions ({answerable} answerable, {len(rows) - answerable} unanswerable), {args.split}")
    for name, m in table.items():
        print(f"{name:28s} refusal recall {m['refusal_recall']:.3f}  false refusals {m['false_refusals']:.3f}")
    if args.out:
        args.out.write_text(json.dumps({"summary": table, "rows": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
