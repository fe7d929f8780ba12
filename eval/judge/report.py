"""The judge's part of the eval report: terminal lines and the markdown section."""
from __future__ import annotations

from ..tables import format_table, markdown_table, metric_cell
from .samples import finite


def summary_lines(judged: dict) -> list[str]:
    """Terminal lines: one per judged metric, then what the judge did."""
    meta = judged["meta"]
    table = format_table(["judged (not gated)", "mean", "n"],
                         [[name, finite(m["mean"]), m["n"]] for name, m in judged["metrics"].items()], cell=metric_cell)
    return [*table.splitlines(),
            f"judge {meta['model']} at {meta['base_url']}: {meta['scored']}/{meta['judged']} samples scored, "
            f"{meta['ok_calls']}/{meta['calls']} calls ok, {meta['seconds']:.1f} s"
            + ("" if meta["finished"] else " (overall timeout hit)")]


def markdown_lines(judged: dict) -> list[str]:
    """The report section: mean and n per metric, and how the judge ran."""
    meta = judged["meta"]
    lines = markdown_table(["metric", "ragas class", "mean", "n scored", "failed", "skipped"],
                           [[name, m.get("ragas_class", ""), finite(m["mean"]), f"{m['n']} of {m['of']}",
                             m.get("failed", 0), m.get("skipped", 0)] for name, m in judged["metrics"].items()],
                           cell=metric_cell).splitlines()
    modes = ", ".join(f"{k}: {v}" for k, v in sorted(meta.get("answer_modes", {}).items())) or "none"
    errors = ", ".join(f"{k}: {v}" for k, v in meta.get("call_errors", {}).items()) or "none"
    cfg = meta.get("config", {})
    lines += [
        "",
        f"Judge `{meta['model']}` at `{meta['base_url']}`: {meta['judged']} of {meta['samples']} answers judged, "
        f"{meta['scored']} got at least one score; {meta['ok_calls']} of {meta['calls']} judge calls succeeded "
        f"({meta['http_responses']} HTTP responses; errors: {errors}) in {meta['seconds']:.1f} s"
        + ("." if meta["finished"] else f", stopped by the overall timeout ({cfg.get('total_timeout')} s)."),
        f"Answer modes judged: {modes}. Concurrency {cfg.get('concurrency')}, {cfg.get('call_timeout')} s per call, "
        f"{cfg.get('max_retries')} re-ask(s), relevancy strictness {cfg.get('strictness')}, "
        f"JSON schema {'on' if cfg.get('json_schema') else 'off'}, "
        f"context budget {cfg.get('max_context_chars') or 'unlimited'} characters.",
        "",
        "- faithfulness: share of the answer's statements (extracted by the judge) that the judge finds supported by "
        "the contexts, cited passages first.",
        "- factual_correctness: F1 of claims, answer vs. the gold reference and back (rounded to 0.01).",
        "- response_relevancy: cosine (MiniLM) between the question and questions the judge writes from the "
        "answer; 0 when the judge calls the answer noncommittal.",
        "- n scored counts samples with a real number; a failed call (timeout, invalid JSON) leaves nan.",
    ]
    return lines
