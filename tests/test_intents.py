"""Question intents and the exact-answer router, table-driven over a tiny in-memory table: no index, no model."""
from __future__ import annotations

import pytest

from rag import intents, routeforms
from rag.followup import is_follow_up, rewrite
from rag.structured import Poster, answer, route

TABLE = [
    Poster("poster:1", "FastKV: Compressing the KV Cache", "FastKV", ("Ada Lovelace", "Alan Turing"),
           ("Stanford University", "Google"), "We compress the KV cache of LLM serving by 4x."),
    Poster("poster:2", "SlowPipe: Pipeline Parallel Training", "SlowPipe", ("Grace Hopper",),
           ("Massachusetts Institute of Technology",), "Pipeline parallelism for training large models."),
    Poster("poster:3", "KVShare: Sharing Caches Across Requests", "KVShare", ("Alan Turing", "Edsger Dijkstra"),
           ("Google",), "Prefix caching shares the KV cache across requests."),
]


@pytest.mark.parametrize("question, count, lst, rank", [
    ("How many posters are from Google?", True, False, False),
    ("What is the number of papers by MIT authors?", True, False, False),
    ("List all posters about KV cache compression", False, True, False),
    ("Which papers did Alan Turing co-author?", False, True, False),
    ("Which institutions have the most posters?", False, False, True),
    ("How many GPUs did FastKV use?", False, False, False),
    ("What does KVShare do?", False, False, False),
])
def test_count_list_and_rank_patterns(question, count, lst, rank):
    q = question.lower()
    assert (bool(routeforms.COUNT.search(q)), bool(routeforms.LIST.search(q)), bool(routeforms.RANK.search(q))) == \
        (count, lst, rank)


@pytest.mark.parametrize("question, kind", [
    ("How much faster is FastKV than vLLM?", "number"),
    ("By what factor does KVShare cut memory?", "number"),
    ("When is the poster session?", "date"),
    ("What year was SlowPipe released?", "date"),
    ("Who wrote SlowPipe?", "who"),
    ("Which university is FastKV from?", "who"),
    ("What does FastKV do?", "other"),
])
def test_answer_type(question, kind):
    assert intents.answer_type(question) == kind


@pytest.mark.parametrize("question, people", [
    ("Who built KVShare?", True), ("Which labs wrote about pipelines?", True),
    ("What are the authors' affiliations?", True), ("How fast is FastKV?", False),
])
def test_asks_about_people(question, people):
    assert intents.asks_about_people(question) is people


@pytest.mark.parametrize("question, follow_up", [
    ("and who wrote it?", True), ("What about SlowPipe?", True), ("How does it work?", True),
    ("How does FastKV compress the KV cache?", False),
])
def test_follow_up_detection(question, follow_up):
    assert is_follow_up(question) is follow_up


def test_a_follow_up_is_rewritten_with_the_last_subject():
    out = rewrite("and who wrote it?", [("What does FastKV do?", "FastKV compresses the KV cache [1].")])
    assert "FastKV" in out and out != "and who wrote it?"


@pytest.mark.parametrize("question, op, field, value", [
    ("How many posters have an author from Google?", "count", "institution", "google"),
    ("Which papers did Alan Turing co-author?", "list", "author", "Alan Turing"),
    ("How many posters have 'KV' in the title?", "count", "text", "KV"),
    ("Top 2 institutions by number of posters", "rank_institutions", None, None),
    ("Which authors have the most posters?", "rank_authors", None, None),
])
def test_router_recognises_exact_questions(question, op, field, value):
    r = route(question, TABLE, [])
    assert r is not None and r.op == op and r.field == field
    if value is not None:
        assert (r.value or "").lower() == value.lower()


@pytest.mark.parametrize("question", [
    "How many GPUs did FastKV scale to?",
    "What does KVShare do?",
    "How much memory does SlowPipe save?",
    # a statement that sets the question up may say "list … posters"; the question itself asks how
    "The notes list SlowPipe among posters that pipeline work. How does its poster split work on mixed GPUs?",
])
def test_router_leaves_passage_questions_alone(question):
    assert route(question, TABLE, []) is None


def test_who_wrote_a_named_poster_is_answered_from_the_table():
    r = route("Who wrote KVShare?", TABLE, ["poster:3"])
    assert r is not None and r.op == "authors_of"
    text = answer(r, TABLE)
    assert "Alan Turing" in text and "Edsger Dijkstra" in text and "{cite:poster:3}" in text


def test_exact_counts_over_the_table_cite_every_match():
    text = answer(route("How many posters have an author from Google?", TABLE, []), TABLE)
    assert text.startswith("2 ") and "{cite:poster:1}" in text and "{cite:poster:3}" in text
    assert "{cite:poster:2}" not in text
    ranked = answer(route("Top 2 institutions by number of posters", TABLE, []), TABLE)
    assert "1. Google — 2 posters" in ranked and "3." not in ranked  # the top 2 only, Google first


def test_a_how_question_about_what_the_authors_did_is_not_an_authorship_question():
    assert route("How did the authors of KVShare sum up their result?", TABLE, ["poster:3"]) is None
    assert route("Who are the authors of KVShare?", TABLE, ["poster:3"]).op == "authors_of"


@pytest.mark.parametrize("question, term", [
    ("How many posters have titles containing the word 'Cache'?", "Cache"),
    ("List the papers with 'KV' in the title", "KV"),
])
def test_title_word_rule(question, term):
    m = routeforms.TITLE_WORD.search(question)
    assert m and (m.group(1) or m.group(2)) == term


def test_twitter_names_the_tweets():
    assert intents.named_kinds("What did they say on Twitter?") == {"tweet"}


def test_asking_keeps_the_question_sentences_whole():
    assert intents.asking("The notes list X among posters. How does it work?") == "How does it work?"
    assert intents.asking("How does X compare to e.g. Yolo on mixed GPUs?") == "How does X compare to e.g. Yolo on mixed GPUs?"
    assert intents.asking("List all posters by Google.") == "List all posters by Google."
