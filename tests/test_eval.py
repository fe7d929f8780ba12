"""The evaluation suite: the gold set is grounded in the corpus, the metric functions are right, the harness runs."""
from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `eval/` is a top-level folder, not part of the installed `rag` package
    sys.path.insert(0, str(ROOT))

from eval import gate  # noqa: E402
from eval.gold import GOLD_PATH, coverage, is_unanswerable, load_gold  # noqa: E402
from eval.metrics import (  # noqa: E402
    any_id_in,
    citation_problems,
    evidence_in_contexts,
    key_fact_recall,
    mean,
    recall_at_k,
    reciprocal_rank,
    refusal_scores,
)
from eval.retrieval import summarize  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.corpus import load_corpus  # noqa: E402


# ---------------------------------------------------------------- (a) the gold set
@pytest.fixture(scope="module")
def gold() -> list[dict]:
    return load_gold(GOLD_PATH)


@pytest.fixture(scope="module")
def chunks_by_id() -> dict:
    return {c.id: c for c in load_corpus(Settings().corpus_dir)}


def test_gold_ids_are_unique_and_kinds_known(gold):
    ids = [g["id"] for g in gold]
    assert len(ids) == len(set(ids)), "duplicate gold ids"
    from eval.gold import KINDS

    assert {g["kind"] for g in gold} <= set(KINDS)


def test_every_reference_id_exists(gold, chunks_by_id):
    missing = [(g["id"], cid) for g in gold for cid in g["reference_context_ids"] if cid not in chunks_by_id]
    assert not missing, f"reference ids not in the corpus: {missing[:10]}"


def test_every_evidence_quote_is_in_a_reference_chunk(gold, chunks_by_id):
    bad = []
    for g in gold:
        refs = [chunks_by_id[c] for c in g["reference_context_ids"] if c in chunks_by_id]
        for quote in g["evidence"]:
            if not any(quote in c.text or quote in c.title for c in refs):
                bad.append((g["id"], quote[:60]))
    assert not bad, f"{len(bad)} evidence quotes are not verbatim in their reference chunks: {bad[:10]}"


def test_answerable_questions_have_references_and_unanswerable_have_none(gold):
    for g in gold:
        if is_unanswerable(g):
            assert not g["reference_context_ids"] and not g["must_include"] and not g["evidence"], g["id"]
        elif g["kind"] == "overview":  # a list of posters: no single quote or key fact has to hold
            assert g["reference_context_ids"], g["id"]
        else:
            assert g["reference_context_ids"] and g["must_include"] and g["evidence"], g["id"]


def test_gold_coverage(gold):
    cov = coverage(gold)
    assert cov["questions"] >= 150
    assert cov["distinct_posters"] >= 60
    assert cov["multi_hop_or_comparison"] >= 15
    assert cov["near_miss"] >= 30
    assert cov["off_corpus"] >= 10
    assert cov["comparison"] >= 10
    assert cov["overview"] >= 10
    assert cov["metadata"] >= 10
    assert cov["aggregate"] >= 5
    assert "unanswerable" not in {g["kind"] for g in gold}, "use near_miss or off_corpus"


# A comparison whose reference says that one side does not report the asked fact; that side holds no key fact.
SIDE_LACKS = re.compile(r"\b(does not|doesn't|do not|don't) (report|give|name|state|say|mention)\b"
                        r"|\b(gives|names|reports|states) no\b", re.I)


def test_comparisons_name_both_sides_and_trace_key_facts_to_each(gold, chunks_by_id):
    bad = []
    for g in (g for g in gold if g["kind"] == "comparison"):
        texts = [chunks_by_id[c].title + "\n" + chunks_by_id[c].text for c in g["reference_context_ids"]]
        if len(texts) < 2:
            bad.append((g["id"], "fewer than 2 reference ids"))
            continue
        bad += [(g["id"], f"key fact {m!r} is in no reference chunk") for m in g["must_include"]
                if not any(m in t for t in texts)]
        bare = [c for c, t in zip(g["reference_context_ids"], texts) if not any(m in t for m in g["must_include"])]
        if bare and not SIDE_LACKS.search(g["reference"]):
            bad.append((g["id"], f"no key fact from {bare} and the reference does not say that side lacks it"))
    assert not bad, bad


def test_overviews_list_several_posters(gold):
    # Some topics have exactly two posters in the program (HDL generation, GNN systems).
    short = [g["id"] for g in gold if g["kind"] == "overview"
             and sum(c.startswith("poster:") for c in g["reference_context_ids"]) < 2]
    assert not short, f"overview items with fewer than 2 poster ids: {short}"


# ---------------------------------------------------------------- (b) pure metric functions
def test_recall_at_k_and_mrr():
    ranking = ["a", "b", "c", "d"]
    assert recall_at_k(ranking, ["c"], 1) == 0.0
    assert recall_at_k(ranking, ["c"], 3) == 1.0
    assert recall_at_k(ranking, ["a", "d", "z"], 2) == pytest.approx(1 / 3)
    assert math.isnan(recall_at_k(ranking, [], 5))
    assert reciprocal_rank(ranking, ["c", "d"]) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranking, ["z"]) == 0.0
    assert mean([1.0, math.nan, 0.0]) == 0.5


def test_retriever_summary_averages_only_answerable_questions():
    ranked = [{"bm25": ["a", "b"], "dense": ["b", "a"], "fused": ["a"]}, {"bm25": [], "dense": [], "fused": []}]
    s = summarize(ranked, [["a"], []], depth=2)
    assert s["bm25"]["recall@1"] == 1.0 and s["dense"]["recall@1"] == 0.0 and s["dense"]["recall@5"] == 1.0
    assert s["dense"]["mrr@2"] == 0.5 and s["fused"]["questions"] == 1


def test_key_facts_evidence_and_any_id():
    assert key_fact_recall(["1.7×", "NodeSweep"], "nodesweep improves MFU by 1.7× [1].") == 1.0
    assert key_fact_recall(["1.7×", "Amazon"], "NodeSweep [1].") == 0.0
    assert math.isnan(key_fact_recall([], "anything"))
    assert evidence_in_contexts(["cuts latency"], ["x", "FooServe cuts latency by 30%"]) == 1.0
    assert evidence_in_contexts(["cuts latency", "absent quote"], ["FooServe cuts latency"]) == 0.0
    assert any_id_in(["poster:1", "notes:x"], ["notes:x", "poster:9"]) == 1.0
    assert any_id_in(["poster:1"], ["poster:9"]) == 0.0


def test_refusal_precision_and_recall():
    s = refusal_scores(predicted=[True, True, False, False, True], actual=[True, False, True, False, True])
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert refusal_scores([False, False], [True, False])["precision"] == 0.0
    assert refusal_scores([False, False], [False, False])["precision"] == 1.0


def test_citation_validity_catches_bad_markers_ids_and_numbers():
    texts = {"poster:1": "FooServe\nFooServe cuts latency by 30% on 8 GPUs."}
    good = [{"marker": 1, "chunk_id": "poster:1", "sentence": "FooServe cuts latency by 30% on 8 GPUs."}]
    assert citation_problems("FooServe cuts latency by 30% [1].", good, ["poster:1"], texts) == []
    assert any("[2]" in p for p in citation_problems("It is fast [1]. And cheap [2].", good, ["poster:1"], texts))
    assert citation_problems("No marker at all.", good, ["poster:1"], texts) == ["answer has no [n] marker"]
    assert any("not among the contexts" in p for p in citation_problems("Fast [1].", good, ["poster:2"], texts))
    wrong_number = [{"marker": 1, "chunk_id": "poster:1", "sentence": "FooServe cuts latency by 45%."}]
    assert any("45" in p for p in citation_problems("Fast [1].", wrong_number, ["poster:1"], texts))


def test_gate_lists_each_failing_metric_with_both_values(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("[minimum]\nkey_fact_recall = 0.70\nrefusal_recall = 0.5\ncitation_validity = 0.9\n")
    minimum = gate.load_thresholds(path)
    failures = gate.check({"key_fact_recall": 0.75, "refusal_recall": 0.2, "citation_validity": math.nan}, minimum)
    assert len(failures) == 2
    assert "refusal_recall" in failures[0] and "0.200" in failures[0] and "0.500" in failures[0]
    assert "citation_validity" in failures[1]


def test_shipped_thresholds_cover_the_headline_metrics():
    from eval.scoring import HEADLINE

    from eval.scoring import LOWER_IS_BETTER

    minimum = gate.load_thresholds(gate.THRESHOLDS_PATH)
    maximum = gate.load_maxima(gate.THRESHOLDS_PATH)
    assert set(HEADLINE) - set(LOWER_IS_BETTER) <= set(minimum)  # higher is better: a floor
    assert set(LOWER_IS_BETTER) <= set(maximum) and not set(maximum) & set(minimum)  # lower is better: a ceiling
    assert all(0.0 <= v <= 1.0 for v in minimum.values())


def test_gate_checks_ceilings_too():
    assert gate.check({"false_refusal_rate": 0.2}, {}, {"false_refusal_rate": 0.1}) == \
        ["FAIL false_refusal_rate: measured 0.200 > maximum 0.100"]
    assert gate.check({"false_refusal_rate": 0.05}, {}, {"false_refusal_rate": 0.1}) == []


# ---------------------------------------------------------------- (c) end to end
@pytest.mark.slow
def test_harness_end_to_end_writes_report_and_gate_fails(real_settings, tmp_path, gold, capsys):
    from eval.run import main

    picks, seen = [], set()
    for kind in ("fact_abstract", "near_miss", "aggregate", "metadata", "multi_hop", "fact_preview",
                 "fact_notes", "comparison"):
        item = next((g for g in gold if g["kind"] == kind and g["kind"] not in seen), None)
        if item and len(picks) < 6:
            picks.append(item)
            seen.add(kind)
    subset = tmp_path / "gold6.jsonl"
    subset.write_text("".join(json.dumps(g) + "\n" for g in picks))
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text("[minimum]\nkey_fact_recall = 1.01\nfused_recall_at_5 = 0.0\n")
    out = tmp_path / "reports"

    code = main(["--gold", str(subset), "--out", str(out), "--gate", "--thresholds", str(thresholds),
                 "--no-progress"], settings=real_settings)
    printed = capsys.readouterr().out
    assert code == 1
    assert "FAIL key_fact_recall" in printed and "1.010" in printed
    assert "FAIL fused_recall_at_5" not in printed

    for name in ("latest.json", "latest.md", "metrics_by_kind.png", "recall_at_k.png"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "latest.json").read_text())
    assert report["overall"]["questions"] == len(picks) == 6
    for name in ("bm25", "dense", "fused"):
        for key in ("recall@1", "recall@5", "recall@10", "mrr@10"):
            assert isinstance(report["retrieval"][name][key], float), (name, key)
    for key in ("id_based_context_recall", "id_based_context_precision", "non_llm_context_recall",
                "non_llm_string_similarity", "rouge_score"):
        assert isinstance(report["ragas"][key], float), key
    assert report["meta"]["index_fingerprint"]
    assert report["settings"]["index_dir"] == str(real_settings.index_dir)
    assert set(report["by_kind"]) == {p["kind"] for p in picks}


def test_decide_probe_summary_counts_each_way_of_combining_the_two_decisions():
    from eval.decide_probe import summary

    rows = [{"unanswerable": True, "ext_refused": True, "llm_no": False},
            {"unanswerable": True, "ext_refused": False, "llm_no": True},
            {"unanswerable": False, "ext_refused": False, "llm_no": True},
            {"unanswerable": False, "ext_refused": False, "llm_no": False}]
    table = summary(rows)
    assert table["extractive alone"] == {"refusal_recall": 0.5, "false_refusals": 0.0}
    assert table["either refuses (LLM mode)"] == {"refusal_recall": 1.0, "false_refusals": 0.5}
    assert table["both refuse"] == {"refusal_recall": 0.0, "false_refusals": 0.0}
    assert table["model alone"] == {"refusal_recall": 0.5, "false_refusals": 0.5}
