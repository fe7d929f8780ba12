"""LLM-mode figures against a local llama.cpp server: time to first token, total time, citation-check time,
and the prompt's token count for each question.

Run: python -m bench.llm [--questions 10] [--base-url URL --model NAME]. Without --base-url it starts the
embedded local model (Qwen2.5-Coder-1.5B-Instruct) on llama.cpp itself. Prints a table with the load average;
writes bench/results/llm.json. Timings on a shared machine are noisy: compare medians taken at similar load.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from bench.core import FALLBACK_QUESTIONS, write_result
from bench.stats import summarize
from eval.gold import GOLD_PATH, load_gold
from eval.tables import format_table


def _questions(n: int) -> list[str]:
    """Up to n one-fact gold questions, spread over the file (the fallback questions without a gold file)."""
    if not GOLD_PATH.exists():
        return FALLBACK_QUESTIONS[:n]
    rows = [r for r in load_gold() if r["kind"].startswith("fact")]
    return [r["user_input"] for r in rows[:: max(1, len(rows) // n)]][:n]


def _prompt_tokens(messages: list[dict], settings) -> int | None:
    """The prompt's token count as the server counts it (a 1-token call; llama.cpp reuses the cached prompt)."""
    from rag import llm

    try:
        return llm.prompt_tokens(messages, settings)
    except Exception:  # noqa: BLE001 - a count is nice to have, not worth failing the run
        return None


def measure(questions: list[str], settings) -> dict:
    """Stream each question in LLM mode and time the first piece, the whole answer and the citation check."""
    from rag import grounding, llm
    from rag.api import ask_stream
    from rag.pipeline import Pipeline
    from rag.generate import generic_checker, instructions_text
    from rag.prompts import format_source

    sent: list[list[dict]] = []
    real_stream, real_complete = llm.stream, llm.complete

    def recording(call):
        def wrapper(messages, settings, max_tokens=None):
            sent.append(messages)
            return call(messages, settings, max_tokens)
        return wrapper

    # To count the prompt's tokens afterwards, outside the timing ("decide" completes, "write" streams).
    llm.stream, llm.complete = recording(real_stream), recording(real_complete)

    is_generic = generic_checker(Pipeline(settings).corpus.retriever.idf)
    rows = []
    for q in questions:
        sent.clear()
        t0 = time.perf_counter()
        first, pieces, final = None, [], None
        for item in ask_stream(q, settings=settings, mode="llm"):
            if isinstance(item, str):
                first = first if first is not None else time.perf_counter() - t0
                pieces.append(item)
            else:
                final = item
        total = time.perf_counter() - t0
        tokens = _prompt_tokens(sent[-1], settings) if sent else None
        sources = [format_source(i + 1, h) for i, h in enumerate(final.contexts)]
        raw, instr = "".join(pieces), instructions_text()
        t = time.perf_counter()
        reps = 20
        for _ in range(reps):
            grounding.clear_caches()  # cold: each real answer brings new sources and text
            grounding.check_answer(raw, sources, q, is_generic, settings.answer.min_claim_overlap, instr)
        check_ms = (time.perf_counter() - t) * 1000 / reps
        rows.append({"question": q, "ttft_s": first, "total_s": total, "llm_s": final.timings_ms.get("llm", 0) / 1000,
                     "check_ms": check_ms, "mode": final.mode, "unsupported": len(final.unsupported),
                     "chars": len(raw), "prompt_tokens": tokens, "load": os.getloadavg()[0]})
        print(f"  {total:6.2f} s  ttft {first or 0:5.2f} s  prompt {tokens or 0:5d} tok  check {check_ms:5.2f} ms  "
              f"load {os.getloadavg()[0]:4.1f}  {final.mode:10s} {q[:50]}")
    llm.stream, llm.complete = real_stream, real_complete
    return {"rows": rows}


def main(argv: list[str] | None = None) -> int:
    """Measure and print the LLM-mode figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--questions", type=int, default=10)
    ap.add_argument("--base-url", default=None,
                    help="an OpenAI-compatible endpoint (default: start the embedded local model)")
    ap.add_argument("--model", default=None, help="model name for --base-url")
    ap.add_argument("--strategy", choices=("auto", "write", "decide"), default="auto",
                    help="RAG_LLM_STRATEGY for the run (auto: decide for the local model, write for --base-url)")
    args = ap.parse_args(argv)
    from rag.config import Settings

    if args.base_url:
        os.environ["OPENAI_BASE_URL"] = args.base_url
        os.environ.setdefault("OPENAI_API_KEY", "local")
        model = args.model or Settings().llm.llm_model
    else:  # the embedded default, exactly as `ask()` runs it: this process's managed llama.cpp server
        for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
            os.environ.pop(var, None)
    settings = Settings(local_llm=True, llm_timeout=600, llm_strategy=args.strategy,
                        **({"llm_model": model} if args.base_url else {}))
    from rag import llm
    from rag.api import ask
    from rag.generate import strategy

    if not args.base_url:
        t = time.perf_counter()
        model = llm.endpoint(settings).model  # starts the local server (and joins the model on first use)
        print(f"local {model} server ready in {time.perf_counter() - t:.1f} s")
    try:
        ask("warm-up: which paper won the best paper award?", settings=settings, mode="extractive")
        out = measure(_questions(args.questions), settings)
    finally:
        from rag.serve import stop_managed_server

        stop_managed_server()
    out["strategy"] = strategy(settings)
    rows = out["rows"]
    summary = {}
    for key in ("ttft_s", "total_s", "check_ms", "prompt_tokens", "load"):
        vals = [r[key] for r in rows if r[key] is not None]
        summary[key] = summarize(vals, (50, 95))
    summary["llm_answers_kept"] = sum(r["mode"] == "llm" for r in rows)
    out.update(summary=summary, model=model, questions=len(rows))
    print(f"{len(rows)} questions, model {model}:")
    print(format_table(["figure", "p50", "p95", "mean"],
                       [[key, summary[key]["p50"], summary[key]["p95"], summary[key]["mean"]]
                        for key in ("ttft_s", "total_s", "check_ms", "prompt_tokens", "load")]))
    print(f"  LLM answers kept after the check: {summary['llm_answers_kept']} of {len(rows)}")
    write_result("llm.json", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
