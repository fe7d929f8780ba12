"""Unit tests of pure pipeline logic: fusion, sentence candidates, selection, composition and refusal."""
import numpy as np
import pytest

from rag.answer import Candidate, compose, select, supported
from rag.intents import answer_type
from rag.retrieve import rrf_fuse
from rag.sentences import chunk_sentences
from rag.types import Answer, Chunk, Hit


def test_rrf_fuse_rewards_agreement_and_respects_weights():
    scores = rrf_fuse([[1, 2, 3], [3, 1]], [1.0, 1.0], k=60)
    assert max(scores, key=scores.get) == 1
    assert scores[3] > scores[2]
    assert abs(scores[2] - 1 / 62) < 1e-12
    weighted = rrf_fuse([[1], [2]], [1.0, 3.0], k=60)
    assert weighted[2] == 3 * weighted[1]


def test_chunk_sentences_keep_lists_together_and_add_metadata():
    c = Chunk("notes:x", "notes", "X", "X: a useful tool. It finds three problems:\n- One thing.\n- Two things.\nTake-away: it is fast.", {})
    assert chunk_sentences(c) == ["X: a useful tool.", "It finds three problems: One thing; Two things.", "Take-away: it is fast."]
    p = Chunk("poster:1", "poster", "Foo: bar", "Foo is fast.", {"name": "Foo", "authors": ["A B", "C D"], "institutions": ["Acme"]})
    assert chunk_sentences(p)[-2:] == ["Foo is by A B and C D.", "The authors of Foo are from: Acme."]


def _hit(cid, text, kind="poster", name=""):
    return Hit(Chunk(cid, kind, f"{name}: title" if name else cid, text, {"name": name, "url": "u"}), 1.0)


def test_compose_numbers_markers_by_first_use_and_cites_every_sentence():
    hits = [_hit("poster:1", "A is fast.", name="A"), _hit("poster:2", "B is slow.", name="B")]
    chosen = [Candidate(1, "B is slow.", 0.9, 1, 1), Candidate(0, "A is fast.", 0.8, 1, 1), Candidate(1, "B is big.", 0.7, 1, 1)]
    text, cites = compose(chosen, hits)
    assert text == "B is slow [1]. A is fast [2]. B is big [1]."
    assert [(c.marker, c.chunk_id) for c in cites] == [(1, "poster:2"), (2, "poster:1")]


def test_compose_names_the_poster_and_drops_article_references_from_the_sentence():
    article = Hit(Chunk("preview:what:1", "preview", "t", "X won[3][4].", {"references": {"3": "A", "4": "B"}}), 1.0)
    hits = [_hit("poster:1", "Our method is fast.", name="Foo"), article]
    text, cites = compose([Candidate(0, "Our method is fast.", 1, 1, 1), Candidate(1, "X won[3][4].", 1, 1, 1)], hits)
    assert text == "Foo: Our method is fast [1]. X won [2]."  # the article's sources travel with the citation
    assert cites[1].metadata["references"] == {"3": "A", "4": "B"}
    text, _ = compose([Candidate(0, "Our method is fast.", 1, 1, 1)], hits, label=False)
    assert text == "Our method is fast [1]."


def test_compose_names_a_source_once_even_for_two_of_its_sentences():
    hits = [_hit("poster:1", "Our method is fast. It is also small.", name="Foo")]
    text, _ = compose([Candidate(0, "Our method is fast.", 1, 1, 1), Candidate(0, "It is also small.", 1, 1, 1)], hits)
    assert text == "Foo: Our method is fast [1]. It is also small [1]."


def test_questions_inside_passages_are_never_answer_candidates():
    from rag.answer import score_sentences

    hit = _hit("preview:x:1", "Speedups reach 3x on A100. Will it scale to H100?", kind="preview")
    sents = ["Speedups reach 3x on A100.", "Will it scale to H100?"]
    vecs = [np.ones((2, 4), dtype=np.float32) / 2]
    cands = score_sentences("Will it scale to H100?", np.ones(4, dtype=np.float32) / 2, [hit], [sents], vecs,
                            lambda t: 1.0)
    assert [c.sentence for c in cands] == ["Speedups reach 3x on A100."]


def test_select_keeps_margin_limits_per_chunk_and_drops_duplicates():
    cands = [Candidate(0, "alpha beta gamma", 1.0, 1, 1), Candidate(0, "alpha beta gamma delta", 0.95, 1, 1),
             Candidate(0, "x y z", 0.9, 1, 1), Candidate(0, "p q r", 0.9, 1, 1), Candidate(1, "far below", 0.2, 0, 0)]
    chosen = select(cands, max_sentences=4, per_chunk=2)
    assert [c.sentence for c in chosen] == ["alpha beta gamma", "x y z"]
    assert select([], 4) == []


def test_answer_type():
    assert answer_type("How much faster is it?") == "number"
    assert answer_type("When was it held?") == "date"
    assert answer_type("Who wrote OPKV?") == "who"
    assert answer_type("What does OPKV do?") == "other"


def test_supported_refuses_questions_about_unknown_things():
    hits = [_hit("poster:1", "FooServe cuts latency by 30% on A100 GPUs.")]
    vocab = {"fooserv", "cut", "latenc", "30", "a100", "gpus", "gpu", "latency"}
    idf = lambda t: 1.0  # noqa: E731
    ok, _ = supported("How much does FooServe cut latency?", hits, idf, vocab, 0.6, 0.34)
    assert ok
    ok, why = supported("Who won the 2022 FIFA World Cup?", hits, idf, vocab, 0.1, 0.34)
    assert not ok and why


def test_answer_to_dict_is_json_serialisable():
    import json

    a = Answer("q", "t [1].", [], [_hit("poster:1", "t")], False, timings_ms={"total": 1.23456})
    d = json.loads(json.dumps(a.to_dict()))
    assert {"text", "citations", "contexts", "refused", "mode", "timings_ms", "notes", "unsupported"} <= set(d)
    assert d["contexts"][0]["chunk_id"] == "poster:1" and d["timings_ms"]["total"] == 1.235


def test_a_number_question_gets_a_sentence_with_a_number():
    from rag.answer import ensure_type

    cands = [Candidate(0, "Foo predicts power and area for designs.", 1.0, 1, 1),
             Candidate(1, "Unrelated passage with 99 things.", 0.9, 0, 0),
             Candidate(0, "It runs in 0.12 seconds per design.", 0.6, 0.5, 0.5),
             Candidate(0, "It uses 3 GPUs.", 0.3, 0.2, 0.2)]
    chosen = ensure_type(cands[:1], cands, "number", 4)
    assert [c.sentence for c in chosen] == ["Foo predicts power and area for designs.", "It runs in 0.12 seconds per design."]
    assert ensure_type(cands[:1], cands, "other", 4) == cands[:1]  # only for number and date questions
    assert ensure_type(cands[:1], cands[:2] + cands[3:], "number", 4) == cands[:1]  # 0.3 is below half the best


def test_candidates_keep_a_tweets_first_person_only_when_no_system_is_asked():
    from rag.passage import Passage, candidates

    tweet = _hit("tweet:1", "We introduce a faster sampler. It doubles throughput.", kind="tweet")
    sents = ["We introduce a faster sampler.", "It doubles throughput."]
    passages = [Passage(tweet, sents, np.ones((2, 4), dtype=np.float32) / 2)]  # no owner: a tweet
    qvec = np.ones(4, dtype=np.float32) / 2
    kept = [c.sentence for c in candidates("What sampler was introduced?", qvec, passages, lambda t: 1.0, {0}, set())]
    assert kept == ["We introduce a faster sampler."]  # "we" is the tweet's author; "It" has no referent
    asked_about = candidates("What sampler was introduced?", qvec, passages, lambda t: 1.0, {0}, {"poster:9"})
    assert asked_about == []  # about another system, neither sentence can stand


@pytest.mark.parametrize("sentence, result", [
    ("Implemented atop vLLM, BEAM reduces end-to-end GPU energy consumption by up to 51%.", True),
    ("It cuts KV memory by nearly 8× with negligible accuracy loss.", True),
    ("While effective at stabilizing TBT, chunked prefill incurs substantial overhead: memory traffic rises 39%.", False),
    ("Existing systems reduce latency by 10% at best.", False),
    ("The KV cache is a dominant memory bottleneck for LLM inference.", False),
])
def test_a_comparison_leads_with_what_a_system_achieves_not_its_problem(sentence, result):
    from rag.comparison import reports_result
    assert reports_result(sentence) is result


@pytest.mark.parametrize("sentence, problem", [
    ("However, these indices require storing high-dimensional embeddings.", True),
    ("The KV cache is a dominant memory bottleneck for LLM inference.", True),
    ("It leverages a diffusion drafter to address bottleneck (1).", False),
    ("FooKV compresses KV caches with learned codes.", False),
])
def test_a_problem_statement_is_told_from_a_sentence_that_solves_it(sentence, problem):
    from rag.comparison import states_problem
    assert states_problem(sentence) is problem
