"""Integration: the real corpus, the real MiniLM, a real FAISS index, retrieval and extractive answers."""
import re

import pytest

from rag.api import QuestionError, ask
from rag.heuristics import WEIGHTS
from rag.sentences import chunk_sentences

# (question, evidence that must be in a top-5 chunk, fact the answer must contain)
ACCEPTANCE = [
    ("Which paper won the MLSys 2026 Best Paper award?", ["BLASST", "Best Paper"], "BLASST"),
    ("How much does NexSpec speed up RL training?", ["4.5x speedup"], "4.5x"),
    ("What are the three problems OPKV identifies in sparse-KV systems?", ["Token–Page Mismatch"], "Token–Page Mismatch"),
    ("Who characterized sparse attention as a stopgap?", ["@superaiwatcher", "stopgap"], "@superaiwatcher"),
    ("Which institutions are the LEANN authors from?", ["LEANN"], "Berkeley"),
    ("What does the MLSys tweet say about GPU bottlenecks being config, not algorithm?", ["GPU bottlenecks are often config"], "launch overhead"),
    ("Where and when was MLSys 2026 held?", ["Bellevue"], "Bellevue"),
]


@pytest.mark.parametrize("question,evidence,fact", ACCEPTANCE)
def test_acceptance_questions_find_evidence_and_answer(real_settings, question, evidence, fact):
    a = ask(question, settings=real_settings)
    top5 = [h.chunk for h in a.contexts[:5]]
    assert any(all(e in c.search_text for e in evidence) for c in top5), [c.id for c in top5]
    assert not a.refused
    assert fact.lower() in a.text.lower(), a.text


@pytest.mark.parametrize("question,chunk_id", [
    ("What does OPKV do?", "poster:3621"),
    ("What does NodeSweep improve?", "poster:3608"),
    ("Tell me about LEANN", "poster:3563"),
])
def test_a_named_system_is_retrieved_first(real_settings, question, chunk_id):
    a = ask(question, settings=real_settings)
    assert a.contexts[0].chunk.id == chunk_id


@pytest.mark.parametrize("question", ["Who won the 2022 FIFA World Cup?", "What is the capital of Australia?",
                                      "How do I bake sourdough bread at home?"])
def test_out_of_scope_questions_are_refused(real_settings, question):
    a = ask(question, settings=real_settings)
    assert a.refused and not a.citations
    assert "don't answer" in a.text and a.notes
    assert a.contexts  # the closest passages are still offered


QUESTIONS = [q for q, _, _ in ACCEPTANCE] + ["What is FlashAttention-4 about?", "Which posters study KV cache compression?",
                                              "What did AWS Neuron publish?"]


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_answer_sentence_carries_a_valid_marker(real_settings, question):
    a = ask(question, settings=real_settings)
    if a.refused:
        return
    markers = {c.marker for c in a.citations}
    sentences = re.findall(r"[^\[]+?\[(\d+)\][.!?]", a.text)
    assert sentences and {int(m) for m in sentences} == markers
    assert re.sub(r".*?\[\d+\][.!?]\s*", "", a.text) == ""  # nothing left uncited
    retrieved = {h.chunk.id: h.chunk for h in a.contexts}
    for c in a.citations:
        assert c.chunk_id in retrieved
        if a.route == "passages":  # extractive sentences are quoted verbatim from the cited chunk
            assert c.sentence in chunk_sentences(retrieved[c.chunk_id])
    # One to three sentences, one more for a two-part question; an overview lists up to WEIGHTS.overview_items posters.
    assert len(sentences) <= max(real_settings.answer.max_answer_sentences + 1, WEIGHTS.overview_items)


def test_answer_records_timings_and_fingerprint(real_settings):
    a = ask("What does OPKV do?", settings=real_settings, k=8)
    assert len(a.contexts) == 8
    assert {"embed", "retrieve", "answer", "total"} <= set(a.timings_ms)
    assert a.index_fingerprint and a.mode == "extractive"
    scores = [h.score for h in a.contexts]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("bad", ["", "   \n\t ", None, 42])
def test_bad_questions_raise_a_typed_error(real_settings, bad):
    with pytest.raises(QuestionError):
        ask(bad, settings=real_settings)
