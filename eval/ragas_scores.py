"""Ragas 0.4.3 metrics that need no LLM, run through `ragas.evaluate` fully offline."""
from __future__ import annotations

import logging
import math
import warnings

log = logging.getLogger(__name__)

CONTEXT_METRICS = ("id_based_context_recall", "id_based_context_precision", "non_llm_context_recall")
RESPONSE_METRICS = ("non_llm_string_similarity", "rouge_score")


def _evaluate(rows: list[dict], metrics: list) -> list[dict[str, float]]:
    """Per-row scores of the metrics over the rows, keyed by metric name."""
    from ragas import EvaluationDataset, evaluate

    if not rows:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        result = evaluate(EvaluationDataset.from_list(rows), metrics=metrics, show_progress=False,
                          raise_exceptions=True)
    out = []
    for scores in result.scores:
        row = {}
        for m in metrics:
            key = next(k for k in scores if k == m.name or k.startswith(m.name + "("))
            row[m.name] = float(scores[key]) if scores[key] is not None else math.nan
        out.append(row)
    return out


def ragas_scores(samples: list[dict]) -> list[dict[str, float]]:
    """Ragas scores for each sample; the id/context metrics only for samples that have reference ids.

    A sample has user_input, response, reference, retrieved_contexts, retrieved_context_ids,
    reference_context_ids and reference_contexts; the result lists one dict per sample, nan where not scored.
    """
    from ragas.metrics._context_precision import IDBasedContextPrecision
    from ragas.metrics._context_recall import IDBasedContextRecall, NonLLMContextRecall
    from ragas.metrics._rouge_score import RougeScore
    from ragas.metrics._string import NonLLMStringSimilarity

    logging.getLogger("ragas").setLevel(logging.ERROR)
    out: list[dict[str, float]] = [{name: math.nan for name in CONTEXT_METRICS + RESPONSE_METRICS} for _ in samples]

    answerable = [i for i, s in enumerate(samples) if s["reference_context_ids"]]
    context_rows = [{
        "user_input": samples[i]["user_input"],
        "retrieved_contexts": samples[i]["retrieved_contexts"] or [""],
        "reference_contexts": samples[i]["reference_contexts"] or [""],
        "retrieved_context_ids": samples[i]["retrieved_context_ids"],
        "reference_context_ids": samples[i]["reference_context_ids"],
    } for i in answerable]
    context_metrics = [IDBasedContextRecall(), IDBasedContextPrecision(), NonLLMContextRecall()]
    for i, row in zip(answerable, _evaluate(context_rows, context_metrics)):
        out[i].update(row)
        if not samples[i]["reference_contexts"]:
            out[i]["non_llm_context_recall"] = math.nan

    response_rows = [{"user_input": s["user_input"], "response": s["response"], "reference": s["reference"]}
                     for s in samples]
    for i, row in enumerate(_evaluate(response_rows, [NonLLMStringSimilarity(), RougeScore()])):
        out[i].update(row)
    return out
