"""Integration: the shapes of extractive answers on the real corpus (issue 12) — refusals that say what is
missing, two-part questions, comparisons with a side that lacks the fact, sources that disagree."""
from __future__ import annotations

import pytest

from rag.api import ask

pytestmark = pytest.mark.slow


def _ask(question, settings):
    return ask(question, mode="extractive", settings=settings)


def test_a_near_miss_is_refused_with_what_is_missing_and_what_they_do_say(real_settings):
    a = _ask("Which GPU did RocketPPA run on?", real_settings)
    assert a.refused, a.text
    assert a.text.startswith("The documents don't say which hardware RocketPPA")
    assert "What they do say:" in a.text and {c.chunk_id for c in a.citations} == {"poster:3538"}


def test_questions_about_the_conference_the_documents_do_not_cover_are_refused(real_settings):
    for q in ("Which city hosted MLSys 2019?", "What was the paper submission deadline for MLSys 2026?"):
        a = _ask(q, real_settings)
        assert a.refused and not a.citations, (q, a.text)


def test_each_part_of_a_two_part_question_gets_its_sentence(real_settings):
    a = _ask("Which stages does TriInfer separate, and what throughput gain does it claim?", real_settings)
    assert not a.refused, a.text
    assert "encode" in a.text and "3.7×" in a.text
    assert "poster:3533" in {c.chunk_id for c in a.citations}


def test_a_comparison_side_without_the_fact_says_so_and_cites_what_it_does_say(real_settings):
    a = _ask("Which benchmarks were VeriMoA and RocketPPA evaluated on?", real_settings)
    assert not a.refused
    assert "VerilogEval" in a.text
    assert "The documents don't report this for RocketPPA; they say:" in a.text
    assert "poster:3538" in {c.chunk_id for c in a.citations}


def test_two_sources_that_disagree_on_a_figure_are_both_cited(real_settings):
    a = _ask("How much lower latency does CDLM get?", real_settings)
    assert "The sources give different figures for this" in a.text
    assert {c.chunk_id for c in a.citations} >= {"poster:3562", "notes:cdlm"}
