"""What the judge is shown of each answer, and how its per-sample scores are summarised."""
from __future__ import annotations

import math
import re
from collections.abc import Sequence

from .config import DEFAULTS, JUDGE_METRICS

_MARKER = re.compile(r"\s*\[\d+\]")


def strip_markers(text: str) -> str:
    """The answer without its [n] citation markers, which are not claims."""
    return _MARKER.sub("", text or "").strip()


def judge_contexts(contexts: Sequence[dict], cited_ids: Sequence[str], max_chars: int | None) -> list[str]:
    """Context texts ("title\\ntext") for faithfulness: cited chunks first, then rank order, within max_chars.

    A passage that would cross the budget is cut at it (the first one is always kept, cut if need be), so a
    small-context judge sees the passages the answer was drawn from.
    """
    cited = {cid: i for i, cid in enumerate(dict.fromkeys(cited_ids))}
    ordered = sorted(enumerate(contexts), key=lambda p: (cited.get(p[1].get("chunk_id"), len(cited)), p[0]))
    out, used = [], 0
    for _, c in ordered:
        text = "\n".join(part for part in (c.get("title") or "", c.get("text") or "") if part).strip()
        if not text:
            continue
        if max_chars is not None:
            room = max_chars - used
            if room <= 0:
                break
            text = text[:room]
        out.append(text)
        used += len(text)
    return out


def judge_sample(item: dict, answer: dict, max_context_chars: int | None = DEFAULTS["max_context_chars"]) -> dict:
    """What the judge sees of one gold item and the pipeline's answer to it."""
    return {
        "id": item.get("id"),
        "user_input": item["user_input"],
        "response": strip_markers(answer.get("text") or ""),
        "reference": item.get("reference") or "",
        "retrieved_contexts": judge_contexts(answer.get("contexts") or [],
                                             [c.get("chunk_id") for c in answer.get("citations") or []],
                                             max_context_chars),
        "answer_mode": answer.get("mode") or ("error" if answer.get("error") else None),
    }


REQUIRED = {"faithfulness": ("user_input", "response", "retrieved_contexts"),
            "factual_correctness": ("response", "reference"),
            "response_relevancy": ("user_input", "response")}


def missing_inputs(sample: dict, metric: str) -> list[str]:
    """The inputs a metric needs that the sample lacks (ragas raises on empty ones)."""
    return [k for k in REQUIRED[metric] if not sample.get(k)]


def finite(value) -> float:
    """The value as a float, nan if it is missing or not a finite number."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def summarize(per_sample: Sequence[dict[str, float]], metrics: Sequence[str] = JUDGE_METRICS) -> dict[str, dict]:
    """Mean and n (samples with a real score) of each metric; mean is nan when nothing was scored."""
    out = {}
    for name in metrics:
        vals = [v for v in (finite(s.get(name)) for s in per_sample) if not math.isnan(v)]
        out[name] = {"mean": sum(vals) / len(vals) if vals else math.nan, "n": len(vals),
                     "of": len(per_sample)}
    return out
