"""Write the evaluation report: latest.json, latest.md and two PNG plots."""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

from .retrieval import RETRIEVERS
from .tables import markdown_table, metric_cell

log = logging.getLogger(__name__)

KIND_COLUMNS = ("questions", "answered", "key_fact_recall", "evidence_in_top5", "evidence_id_in_top5",
                "citation_validity", "fused_recall_at_5", "id_based_context_recall", "rouge_score")
PLOT_METRICS = (("key_fact_recall", "key-fact recall"), ("evidence_in_top5", "evidence in top-5"),
                ("citation_validity", "citation validity"))
DEFINITIONS = [
    "- key_fact_recall: share of a question's `must_include` strings found in the answer text, ignoring case.",
    "- evidence_in_top5: every gold evidence quote is a substring of the title or text of one of the answer's "
    "first k contexts; evidence_id_in_top5: any reference chunk id is among them.",
    "- citation_validity (answered questions only): every [n] marker has a citation, every cited chunk is among "
    "the contexts, and every number in the cited sentence occurs in that chunk's title or text.",
    "- refusal precision/recall: positives are the unanswerable questions (`near_miss`: a real subject, an absent "
    "detail; `off_corpus`: about MLSys but not in the documents), predictions `answer.refused`; each kind's "
    "recall is shown apart. false_refusal_rate: share of answerable questions refused.",
    "- subject_precision: on one-subject questions (all reference chunks about one poster), the share of cited "
    "chunks about that poster (the poster, its notes entry, or a passage naming it).",
    "- compare_coverage: on comparison questions, every compared poster is cited and every key fact is present.",
    "- router_false_positives: questions of a kind other than aggregate/metadata answered by the exact table route.",
    "- one_fact_sentences: mean sentences per answered one-fact question (fact_* and alias kinds).",
    "- retrievers: recall@k = share of a question's reference ids in the top k; MRR of the first reference id "
    "within the top 10; unanswerable questions excluded. fused = the pipeline's retriever ({fused}).",
    "- ragas: IDBasedContextRecall/Precision on answer.contexts ids; NonLLMContextRecall compares each evidence "
    "quote with whole context texts by Levenshtein similarity (> 0.5 counts), so short quotes in long chunks "
    "score low; NonLLMStringSimilarity and RougeScore (ROUGE-L F1) compare answer and reference.",
]


def _clean(obj):
    """The object with nan/inf floats replaced by None, so that it is strict JSON."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


# The fused retriever's signals: the settings field that weighs each, and its name in the report.
SIGNALS = (("bm25_weight", "BM25"), ("sentence_weight", "best-sentence cosine"), ("dense_weight", "whole-chunk cosine"))


def fused_description(settings: dict) -> str:
    """How the run's settings fuse retrievers, e.g. "z-score fusion of BM25 and best-sentence cosine, plus the
    name boost"; weights are named when they differ."""
    nested = [v for v in settings.values() if isinstance(v, dict)]  # grouped settings: read the groups' fields too
    settings = {**settings, **{k: v for group in nested for k, v in group.items()}}
    weights = {label: settings.get(key, 0.0) for key, label in SIGNALS if settings.get(key, 0.0) > 0}
    same = len(set(weights.values())) <= 1
    parts = [label if same else f"{label} (weight {w:g})" for label, w in weights.items()]
    signals = " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts) or "no signal"
    how = (f"reciprocal rank fusion (k={settings.get('rrf_k')})" if settings.get("fusion") == "rrf"
           else "z-score fusion")
    boost = settings.get("name_boost", 0.0)
    return f"{how} of {signals}" + ("" if not boost else ", plus the name boost" if boost == 1
                                    else f", plus the name boost ({boost:g})")


def _default_settings() -> dict:
    """The settings a report without its own describes: today's defaults."""
    from rag.config import Settings

    return Settings().model_dump(mode="json")


def _table(header: list[str], rows: list[list]) -> list[str]:
    """A markdown table of metrics, as lines."""
    return markdown_table(header, rows, cell=metric_cell).splitlines()


def markdown(results: dict) -> str:
    """The human-readable report."""
    o, meta = results["overall"], results["meta"]
    lines = [f"# Evaluation report — {meta['finished_at']}", "",
             f"{o['questions']} gold questions from `{meta['gold']}` ({meta['gold_sha256'][:12]}), k={meta['k']}, "
             f"{meta['seconds']:.1f} s. Index fingerprint `{meta['index_fingerprint']}`, prompt hash "
             f"`{meta['prompt_hash']}`.", "", "## Headline (CI gate)", ""]
    halves = results.get("splits", {})
    lines += [f"The gate reads the `{results.get('gate_split', 'all')}` half; tune only on `dev`.", ""]
    lines += _table(["metric", *halves, "gated", "minimum", "maximum"],
                    [[k, *[m.get(k) for m in halves.values()], v, results["thresholds"].get(k),
                      results.get("maxima", {}).get(k)] for k, v in results["headline"].items()])
    lines += ["", "## Retrievers (same questions, unanswerable excluded)", ""]
    ret = results["retrieval"]
    mrr = next(k for k in ret["fused"] if k.startswith("mrr@"))
    lines += _table(["retriever", "recall@1", "recall@5", "recall@10", mrr],
                    [[n, ret[n]["recall@1"], ret[n]["recall@5"], ret[n]["recall@10"], ret[n][mrr]] for n in RETRIEVERS])
    if results.get("citation_check"):
        from .citecheck import markdown_lines as citecheck_lines

        lines += ["", "## Citation check on paraphrased gold references", "", *citecheck_lines(results["citation_check"])]
    lines += ["", "## Ragas (no LLM)", "",
              "ID and context metrics over answerable questions; string similarity and ROUGE-L over all.", ""]
    lines += _table(["metric", "value"], [[k, v] for k, v in results["ragas"].items()])
    if results.get("judge"):
        from .judge import markdown_lines

        lines += ["", "## Ragas, LLM-judged (not gated)", "", *markdown_lines(results["judge"])]
    lines += ["", "## Own metrics", ""]
    lines += _table(["metric", "value"], [[k, o[k]] for k in
                                          ("key_fact_recall", "evidence_in_top5", "evidence_id_in_top5",
                                           "citation_validity", "refusal_precision", "refusal_recall")])
    rc = o["refusal_counts"]
    lines += ["", f"Refusals: {rc['tp']} correct, {rc['fp']} wrongly refused, {rc['fn']} unanswerable answered.",
              "", "## By kind", ""]
    lines += _table(["kind", *KIND_COLUMNS],
                    [[kind, *[m.get(c) for c in KIND_COLUMNS]] for kind, m in results["by_kind"].items()])
    lines += ["", "## Definitions", "", *[d.format(fused=fused_description(results.get("settings") or _default_settings())) for d in DEFINITIONS], "",
              "## Misses", ""]
    for r in results["questions"]:
        why = []
        if r["unanswerable"] != r["refused"]:
            why.append("refused" if r["refused"] else "answered an unanswerable question")
        if r["evidence_in_top5"] == 0.0:
            why.append("evidence not in top-5")
        if r["key_fact_recall"] is not None and r["key_fact_recall"] < 1:
            why.append("missing " + ", ".join(repr(m) for m, ok in r["key_facts"].items() if not ok))
        why += r["citation_problems"]
        if r.get("error"):
            why.append(f"error: {r['error']}")
        if why:
            lines.append(f"- `{r['id']}` ({r['kind']}): {'; '.join(why)}")
    lines += ["", "## Settings", "", "```json", json.dumps(results["settings"], indent=2), "```", ""]
    return "\n".join(lines)


def plot_by_kind(results: dict, path: Path) -> None:
    """Grouped bars of key-fact recall, evidence-in-top-5 and citation validity per kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(results["by_kind"])
    width = 0.8 / len(PLOT_METRICS)
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(kinds)), 4.5))
    for j, (key, label) in enumerate(PLOT_METRICS):
        vals = [results["by_kind"][k].get(key) for k in kinds]
        vals = [0.0 if v is None or math.isnan(v) else v for v in vals]
        ax.bar([i + (j - (len(PLOT_METRICS) - 1) / 2) * width for i in range(len(kinds))], vals, width, label=label)
    ax.set_xticks(range(len(kinds)), kinds, rotation=30, ha="right")
    ax.set_ylim(0, 1.18)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("score")
    ax.set_title("Answer metrics by question kind (n/a shown as 0)")
    ax.legend(loc="upper center", ncol=len(PLOT_METRICS), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_recall_at_k(results: dict, path: Path) -> None:
    """Recall@k curves, k=1..10, for BM25, dense and fused retrieval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name in RETRIEVERS:
        curve = results["retrieval"][name]["recall_curve"]
        ks = sorted(int(k) for k in curve)
        ax.plot(ks, [curve[str(k)] for k in ks], marker="o", label=name)
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_xticks(range(1, 11))
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title("Retrieval recall@k on the gold questions")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def to_json(results: dict) -> str:
    """Strict JSON: the summary indented, then one line per question."""
    body = _clean(results)
    questions = body.pop("questions", [])
    head = json.dumps(body, indent=1, ensure_ascii=False)
    rows = ",\n".join("  " + json.dumps(q, ensure_ascii=False) for q in questions)
    return head[:-1].rstrip() + ',\n "questions": [\n' + rows + "\n ]\n}\n"


def write_reports(results: dict, out_dir: str | Path) -> dict[str, Path]:
    """Write latest.json, latest.md, metrics_by_kind.png and recall_at_k.png into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "latest.json", "md": out / "latest.md",
             "by_kind": out / "metrics_by_kind.png", "recall": out / "recall_at_k.png"}
    paths["json"].write_text(to_json(results), encoding="utf-8")
    paths["md"].write_text(markdown(results), encoding="utf-8")
    plot_by_kind(results, paths["by_kind"])
    plot_recall_at_k(results, paths["recall"])
    log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return paths
