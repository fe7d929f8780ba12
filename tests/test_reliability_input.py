"""Reliability 1: bad questions, handled alike by `ask()`, the CLI and the chat page; property tests of the
question normaliser, the chunkers and the citation parser.

Extends tests/test_text.py (normaliser never crashes / idempotent), tests/test_corpus.py (text chunkers on random
lines) and tests/test_real_pipeline.py (empty / None / 42 raise QuestionError) without repeating them.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, given, settings as hsettings, strategies as st

from conftest import ROOT
from rag.answer import REFUSAL_TEXT
from rag.api import QuestionError, ask
from rag.question import validate_question
from rag.config import Settings
from rag.corpus import PREVIEW_SECTIONS, parse_notes, parse_posters, parse_preview, parse_tweets
from rag.grounding import check_answer, parse_markers, split_claims
from rag.text import clean_latex, normalize_question

PROPS = hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SETTINGS = Settings()
CLEANED = "Removed control characters or invalid bytes from the question."
TRUNCATED = "Question was longer than 2000 characters and was truncated."
_MARKER = re.compile(r"\[(\d{1,3})\]")
# What the cleaned question may never contain: C0/C1 controls, bidi overrides, surrogates, U+FFFD.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffd]")


def assert_markers_valid(text: str, n_cited: int) -> None:
    """Every [n] refers to a citation, and markers are 1..m in order of first use, each citation used."""
    found = [int(m) for m in _MARKER.findall(text)]
    assert all(1 <= n <= n_cited for n in found), (text, n_cited)
    assert list(dict.fromkeys(found)) == list(range(1, n_cited + 1)), (text, n_cited)


def assert_well_formed(a) -> None:
    """An Answer that is either a plain refusal or cited sentences with valid markers, and serialisable."""
    json.dumps(a.to_dict(), ensure_ascii=False).encode("utf-8")
    if a.refused:  # says what is missing, and may go on to cite what the documents do say
        assert a.text.startswith("The documents don")
        if a.citations:
            assert_markers_valid(a.text, len(a.citations))
    else:
        assert a.citations and a.text.strip()
        assert_markers_valid(a.text, len(a.citations))


# ---------------------------------------------------------------------------------------- validation (no index)

@pytest.mark.parametrize("bad", ["\t\n\r\u3000\u2028\u00a0", "\u200b\ufeff\u200d", "\x00\x1b\x7f", b"", b"  \n",
                                 b"\xff\xfe", 3.5, ["What does OPKV do?"], {"q": 1}, object(), True])
def test_rejected_questions_raise_question_error_with_a_one_line_message(bad):
    with pytest.raises(QuestionError) as e:
        validate_question(bad, SETTINGS.answer.max_question_chars)
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert msg.strip() and "\n" not in msg and len(msg) < 120


def test_invalid_utf8_control_and_bidi_characters_are_cleaned_with_a_note():
    for raw in (b"What does \xff\xfeOPKV do?", "What does \udcffOPKV do?", "What\x00 does\x1b[31m OPKV do?",
                "\u202eWhat does OPKV do?\u2066", "What does OPKV\ufffd do?"):
        q, notes = validate_question(raw, SETTINGS.answer.max_question_chars)
        assert notes == [CLEANED], raw
        assert "OPKV" in q and not _FORBIDDEN.search(q)
        q.encode("utf-8")  # no lone surrogate survives
    # Ordinary whitespace, accents and emoji are not "cleaning": no note.
    for raw in ("What does\tOPKV\r\ndo?", "Que\u0301 hace OPKV?", "👩‍💻 OPKV?"):
        assert validate_question(raw, SETTINGS.answer.max_question_chars)[1] == []


def test_long_questions_are_cut_at_a_word_boundary_with_a_note():
    raw = "Which poster reduces KV cache memory? " * 200
    q, notes = validate_question(raw, SETTINGS.answer.max_question_chars)
    assert notes == [TRUNCATED] and len(q) <= 2000 and raw.startswith(q) and raw[len(q)] == " "
    q, notes = validate_question("x" * 5000, SETTINGS.answer.max_question_chars)  # no space to cut at: a hard cut
    assert q == "x" * 2000 and notes == [TRUNCATED]
    q, notes = validate_question("\x07" + "y " * 1500, SETTINGS.answer.max_question_chars)
    assert notes == [CLEANED, TRUNCATED]


questions = st.one_of(st.text(max_size=300), st.binary(max_size=300),
                      st.lists(st.sampled_from(["OPKV", " ", "\x00", "\u202e", "\udcff", "\ufffd", "é", "e\u0301",
                                                "\u200b", "🤖", "\n", "?", "[1]"]), max_size=40).map("".join))


@PROPS
@given(questions)
def test_validate_question_accepts_or_rejects_and_its_output_is_clean_and_stable(raw):
    small = Settings(max_question_chars=50)
    try:
        q, notes = validate_question(raw, small.answer.max_question_chars)
    except QuestionError as e:
        assert "\n" not in str(e)
        return
    assert 0 < len(q) <= 50 and q == q.strip() and "\n" not in q and "  " not in q
    assert not _FORBIDDEN.search(q)
    assert any(unicodedata.category(c)[0] not in "CZ" for c in q)  # something visible is left
    q.encode("utf-8")
    assert set(notes) <= {CLEANED, "Question was longer than 50 characters and was truncated."}
    if isinstance(raw, str) and not _FORBIDDEN.search(raw.replace("\t", "").replace("\n", "").replace("\r", "")
                                                       .replace("\x0b", "").replace("\x0c", "")):
        assert CLEANED not in notes
    assert validate_question(q, small.answer.max_question_chars) == (q, [])  # cleaning is idempotent and leaves nothing to note


@PROPS
@given(st.text(min_size=1, max_size=30).filter(lambda s: s.strip()), st.integers(10, 80))
def test_truncation_keeps_a_prefix_of_the_cleaned_question(text, limit):
    raw = (text + " ") * 20
    cleaned_full, _ = normalize_question(raw, 10_000)
    q, notes = normalize_question(raw, limit)
    assume(q)
    assert cleaned_full.startswith(q) and len(q) <= limit
    assert (len(cleaned_full) > limit) == any("truncated" in n for n in notes)


# ------------------------------------------------------------------------------------------ chunkers (properties)

_chars = st.characters(blacklist_categories=("Cs",))
word = st.text(alphabet=_chars, min_size=1, max_size=10).filter(lambda w: w.strip())
prose = st.lists(word, min_size=1, max_size=10).map(" ".join)
special = st.sampled_from(["#FooConf", "@someone", "#A #B @c", "https://t.co/abc", "Slides: https://x.io/s",
                           "- bullet with a [2] ref", "Evolution: changed her mind.", "Most Popular Users",
                           "Cross-Cutting Themes", "1. Serving", "2. Training Systems", "Sources",
                           "- [1] Home page — web (2026-01-01)", "FooServe: Fast Serving of Foo Models (Amazon). Fast.",
                           "Take-away: use caches.", ""])
line = st.one_of(prose, special, st.sampled_from(PREVIEW_SECTIONS), st.text(alphabet=_chars, max_size=30))
document = st.lists(line, max_size=40).map("\n".join)


def _lines(raw: str) -> set[str]:
    return {ln.strip() for ln in raw.splitlines() if ln.strip()}


@PROPS
@given(document)
def test_notes_and_tweets_chunks_are_unique_non_empty_and_made_of_input_lines(raw):
    lines = _lines(raw)
    for parser in (parse_notes, parse_tweets):
        chunks = parser(raw)
        assert len({c.id for c in chunks}) == len(chunks)
        for c in chunks:
            if c.id == "tweets:accounts" and not c.text:
                continue  # an empty account list; see test_an_empty_account_list_makes_no_empty_chunk
            assert c.text.strip(), c
            if c.id == "notes:intro":  # the introduction is its lines joined with spaces
                assert all(any(tok in ln for ln in lines) for tok in c.text.split())
            else:
                assert all(ln in lines for ln in c.text.split("\n")), c


@PROPS
@given(st.lists(st.tuples(st.sampled_from(PREVIEW_SECTIONS),
                          st.lists(st.one_of(prose, special).filter(lambda ln: ln.lstrip("- ").strip()),  # see below
                                   max_size=5)),
                max_size=8), prose)
def test_preview_chunks_are_unique_non_empty_and_keep_their_section(sections, title):
    raw = "\n".join([title] + [ln for head, body in sections for ln in [head, *body]])
    chunks = parse_preview(raw)
    lines = _lines(raw)
    assert len({c.id for c in chunks}) == len(chunks)
    for c in chunks:
        section = c.metadata["section"]
        assert section in PREVIEW_SECTIONS[:-1] and c.id.startswith("preview:") and c.text.strip()
        if section != "Perspectives":  # a paragraph is one input line without its list dash
            assert any(ln.lstrip("- ").strip() == c.text for ln in lines)
        assert set(c.metadata["references"]) <= set(re.findall(r"\[(\d{1,3})\]", c.text))


_latex = st.lists(st.one_of(st.text(alphabet=_chars, max_size=20),
                            st.sampled_from([r"30\%", r"2.5$\times$", r"\textbf{fast}", r"\sys", "{", "}", "$", "&amp;",
                                             "--", ": "])), max_size=6).map("".join)
_author = st.fixed_dictionaries({"fullname": st.one_of(st.none(), st.text(alphabet=_chars, max_size=20)),
                                 "institution": st.one_of(st.none(), _latex)})
_poster = st.fixed_dictionaries({"name": st.tuples(prose, _latex).map("".join), "abstract": st.one_of(st.none(), _latex),
                                 "authors": st.lists(_author, max_size=4)},
                                optional={"paper_url": st.just("https://openreview.net/forum?id=x")})


@PROPS
@given(st.lists(_poster, max_size=6), st.booleans())
def test_poster_chunks_one_per_poster_with_clean_text(posters, wrapped):
    posters = [dict(p, id=3000 + i) for i, p in enumerate(posters)]
    raw = json.dumps({"count": len(posters), "results": posters} if wrapped else posters)
    chunks = parse_posters(raw)
    assert [c.id for c in chunks] == [f"poster:{p['id']}" for p in posters]
    for c, p in zip(chunks, posters):
        assert c.title == clean_latex(p["name"]) and c.title.strip()
        assert c.text == clean_latex(p["abstract"] or "", macro_name=c.metadata["name"] or None)
        assert all(a and a == a.strip() for a in c.metadata["authors"])
        assert len(set(c.metadata["institutions"])) == len(c.metadata["institutions"])


@pytest.mark.xfail(strict=True, reason="rag/corpus.py parse_tweets makes a 'tweets:accounts' chunk with empty text "
                                       "when 'Most Popular Users' has no accounts after it (owner: corpus.py)")
def test_an_empty_account_list_makes_no_empty_chunk():
    chunks = parse_tweets("Top Tweets\nFooServe is out! #FooConf\n\nMost Popular Users\n")
    assert all(c.text.strip() for c in chunks)


@pytest.mark.xfail(strict=True, reason="rag/corpus.py parse_preview turns a paragraph line that is only '-' into a "
                                       "chunk with empty text (owner: corpus.py)")
def test_a_bare_dash_line_makes_no_empty_preview_chunk():
    assert all(c.text.strip() for c in parse_preview("Title\nWhat\nFooConf was held in Springfield.\n-\n"))


# ------------------------------------------------------------------------------------ citation parser (properties)

SOURCES = ["[1] (poster abstract) FooServe\nFooServe cuts latency by 30% on A100 GPUs. It uses a paged cache.",
           "[2] (poster notes) BarTrain\nBarTrain trains bar models on 1024 TPUs from Initech.",
           "[3] (tweet) Tweet 3\nExcited to present FooServe at #FooConf!"]
_pieces = st.sampled_from([
    "FooServe cuts latency by 30%", "It uses a paged cache", "BarTrain trains bar models on 1024 TPUs", "Initech",
    "Zorblax-9 is built by Initech", "The documents don't answer this question.", "In short:", "Why?", "e.g.",
    "\n- ", "\n1. ", ".", "!", " ", "\n", "[1]", "[2]", "[3]", "[7]", "[0]", "[1, 2]", "[2-3]", "[3–1]", "[source 1]",
    "[ 1 ]", "[999]", "[1000]", "[1][2]", "[", "]", "(1)", "Answer in two to five sentences"])
answers = st.one_of(st.text(max_size=200), st.lists(st.one_of(_pieces, st.text(max_size=6)), max_size=25).map("".join))


@PROPS
@given(st.text(max_size=60))
def test_parse_markers_never_crashes_and_returns_unique_small_numbers(body):
    nums = parse_markers(body)
    assert len(nums) == len(set(nums)) and all(0 <= n <= 999 for n in nums)


@PROPS
@given(answers)
def test_split_claims_never_crashes_and_strips_its_markers(text):
    for sentence, nums in split_claims(text):
        assert sentence.strip() and not re.search(r"\[\s*\d{1,3}\s*\]", sentence)
        assert len(nums) == len(set(nums))


@PROPS
@given(answers, st.integers(0, 3))
def test_checked_answers_only_carry_markers_to_cited_sources_in_first_use_order(text, n_sources):
    c = check_answer(text, SOURCES[:n_sources], "What does FooServe do?", lambda t: t in {"model", "gpu"},
                     instructions="Answer in two to five sentences, with a [n] citation after every sentence.")
    assert_markers_valid(c.text, len(c.cited))
    assert all(1 <= s <= n_sources for s in c.cited) and len(set(c.cited)) == len(c.cited)
    assert set(c.support) == set(c.cited)
    assert c.failed <= c.claims and len(c.unsupported) == c.failed


# --------------------------------------------------------------------------------- odd questions, end to end

ODD = [
    "OPKV是做什么的？", "¿Qué hace OPKV y cuánto acelera la decodificación?", "Что делает OPKV?", "ما هو OPKV؟",
    "NexSpecはRL学習をどれだけ高速化しますか？", "🤖🚀🔥", "How much does NexSpec 🚀 speed up RL training? 🤔",
    "```python\nimport rag\nprint(rag.ask('What does OPKV do?'))\n```", "?!?!... ;;; ---", "[1] [2] cite [7]",
    "<script>alert(1)</script> What does LEANN do?", "'; DROP TABLE posters; --", "{cite:poster:3613} {0} %s",
    "What does OPKV do? " * 150, "What\x00 does\x1b[31m OPKV\x7f do?",
]


@pytest.mark.slow
@pytest.mark.parametrize("question", ODD, ids=range(len(ODD)))
def test_odd_questions_are_answered_or_refused_without_crashing(real_settings, question):
    a = ask(question, mode="extractive", settings=real_settings)
    assert_well_formed(a)
    assert (TRUNCATED in a.notes) == (len(question) > 2000)
    assert (CLEANED in a.notes) == bool(re.search("[\x00\x1b\x7f]", question))


@pytest.mark.slow
def test_odd_questions_in_llm_mode_end_in_a_well_formed_answer(real_settings, monkeypatch):
    from fake_llm import FakeLLM

    server = FakeLLM()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-odd")
    try:
        for question in ODD[::2]:
            assert_well_formed(ask(question, settings=real_settings.updated(llm_timeout=5.0)))
    finally:
        server.close()


# -------------------------------------------------------------------------------------------------- the CLI

def _rag(args, settings, timeout=180):
    env = dict(os.environ, RAG_INDEX_DIR=str(settings.index_dir))
    env.pop("OPENAI_BASE_URL", None), env.pop("OPENAI_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, env=env, cwd=ROOT, timeout=timeout)


@pytest.mark.slow
def test_cli_cleans_and_truncates_with_notes_and_rejects_invisible_questions(real_settings):
    long_dirty = b"What does \xff\x1bOPKV do? " + b"Please answer briefly. " * 120  # invalid UTF-8 and ESC in argv
    r = _rag(["ask", long_dirty], real_settings)
    out, err = r.stdout.decode(), r.stderr.decode()
    assert r.returncode == 0, err
    assert f"Note: {CLEANED}" in out and f"Note: {TRUNCATED}" in out and "OPKV" in out and "[1]" in out
    assert "Traceback" not in err

    r = _rag(["ask", "--json", "🤖🚀🔥"], real_settings)
    assert r.returncode == 0
    d = json.loads(r.stdout)
    assert d["refused"] is True and d["text"] == REFUSAL_TEXT

    r = _rag(["ask", "\u200b\u00a0\u3000"], real_settings)
    err = r.stderr.decode()
    assert r.returncode == 2 and err.strip() == "rag: error: question is empty"


# ------------------------------------------------------------------------------------------------ the chat page

def _ui_respond(settings, question):
    from ui.app import make_handlers

    respond, _, _ = make_handlers(settings)
    return list(respond(question, 5, "extractive", None))[-1][0][-1]["content"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_chat_page_handles_the_same_bad_questions(real_settings):
    for bad in (None, "", "   \n"):  # (the page turns any other value into its string: 42 is asked as "42")
        out = _ui_respond(real_settings, bad)
        assert "Please type a question." in out or "can’t be answered as asked" in out
    out = _ui_respond(real_settings, "\u200b\u200d")  # invisible only: rejected like empty, as in ask() and the CLI
    assert "Question is empty" in out or "Please type a question." in out
    out = _ui_respond(real_settings, "What\x00 does\x1b[31m OPKV do?")
    assert CLEANED in out and "rag-fn" in out
    for question in ODD[:-2]:
        out = _ui_respond(real_settings, question)
        assert "Something went wrong" not in out and ("rag-fn" in out or "don’t cover this" in out), question


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_chat_page_rejects_over_long_questions_with_a_clear_message(real_settings):
    # The issue allows truncation or a clear rejection; in a chat the person can shorten it, so the page rejects.
    out = _ui_respond(real_settings, "What does OPKV do? " * 150)
    assert "That question is too long." in out and "the limit is 2,000" in out
