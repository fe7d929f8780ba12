"""The chat page: pure rendering (fast), the handlers, and the real app over the real index via gradio_client."""
from __future__ import annotations

import re
import socket
from html.parser import HTMLParser

import pytest

from rag.answer import REFUSAL_TEXT
from rag.types import Answer, Chunk, Citation, Hit
from ui import render

pytestmark = [
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),  # inside gradio's queue
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

VOID = {"br", "img", "hr", "input", "meta", "link"}


class _Tree(HTMLParser):
    """Checks that tags nest properly and collects text per element class."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.text_by_class: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append((tag, dict(attrs).get("class") or ""))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data):
        for _, cls in self.stack:
            for c in cls.split():
                self.text_by_class[c] = self.text_by_class.get(c, "") + data


def parse(html_text: str) -> _Tree:
    t = _Tree()
    t.feed(html_text)
    t.close()
    assert not t.errors, t.errors
    assert not t.stack, f"unclosed tags: {t.stack}"
    return t


def _poster_chunk(title="LEANN: A Low-Storage Overhead Vector Index", text=None, cid="poster:3563") -> Chunk:
    text = text or ("LEANN is a vector index. It reduces index size by up to 50× compared with conventional indices. "
                    "It keeps accuracy.")
    return Chunk(cid, "poster", title, text, {"authors": ["Yichuan Wang", "Matei Zaharia"],
                                               "institutions": ["UC Berkeley", "Amazon", "UC Berkeley"],
                                               "url": "https://openreview.net/forum?id=abc"})


def _answer(**kw) -> Answer:
    ch = _poster_chunk()
    other = Chunk("tweets:4", "tweet", "Tweet 4", "Excited for #MLSys!\nSee you there.", {})
    cit = Citation(1, ch.id, ch.kind, ch.title, ch.text, ch.metadata["url"],
                   "It reduces index size by up to 50× compared with conventional indices.", ch.metadata)
    base = dict(question="What does LEANN do?", text="LEANN reduces index size by up to 50× [1].", citations=[cit],
                contexts=[Hit(ch, 0.9), Hit(other, 0.5)], refused=False, mode="extractive",
                timings_ms={"total": 42.0})
    base.update(kw)
    return Answer(**base)


# ------------------------------------------------------------------------------------------------ pure rendering


def test_markers_become_footnote_links_to_source_cards():
    out = render.render_answer(_answer(text="First claim [1]. Second [1][2]. Odd [7]."), prefix="a3")
    t = parse(out)
    links = [a for tag, a in t.tags if tag == "a" and a.get("href", "").startswith("#")]
    assert [a["href"] for a in links] == ["#a3-src-1", "#a3-src-1"]  # [2] and [7] have no citation
    ids = {a.get("id") for tag, a in t.tags if a.get("id")}
    assert "a3-src-1" in ids                                          # every footnote lands on a card
    assert "claim<sup" in out                                         # the marker hugs the word before it
    assert "[7]" in t.text_by_class["rag-text"] and "[1]" not in t.text_by_class["rag-text"]


def test_source_card_has_badge_title_people_link_and_collapsed_highlighted_passage():
    out = render.render_answer(_answer(), prefix="p")
    t = parse(out)
    assert t.text_by_class["rag-badge"].startswith("poster abstract")
    assert "LEANN: A Low-Storage Overhead Vector Index" in t.text_by_class["rag-card-title"]
    assert "Matei Zaharia" in t.text_by_class["rag-authors"]
    assert t.text_by_class["rag-insts"].count("UC Berkeley") == 1    # duplicates folded
    assert ("a", {"class": "rag-link", "href": "https://openreview.net/forum?id=abc", "target": "_blank",
                  "rel": "noopener noreferrer"}) in t.tags
    details = [a for tag, a in t.tags if tag == "details"]
    assert details and all("open" not in a for a in details)           # collapsed by default
    assert "<mark>It reduces index size by up to 50× compared with conventional indices.</mark>" in out
    # The uncited tweet is listed separately, collapsed, with its own badge.
    assert "Also retrieved, not cited" in out and "tweet" in t.text_by_class["rag-others"]


def test_corpus_text_and_questions_are_escaped_exactly_once():
    evil = 'Fast <script>alert("x")</script> serving & <img src=x onerror=alert(1)> at AT&amp;T'
    ch = _poster_chunk(title="<b>Bold</b> & co", text=evil)
    cit = Citation(1, ch.id, "poster", ch.title, evil, "javascript:alert(1)", "serving &", ch.metadata)
    a = _answer(question="<script>q()</script>", text="See <i>this</i> & that [1].", citations=[cit],
                contexts=[Hit(ch, 1.0)])
    out = render.render_answer(a) + render.render_user('<script>alert("q")</script> & <b>x</b>')
    t = parse(out)
    assert "<script" not in out and "<img" not in out and "<b>" not in out and "<i>" not in out
    assert not [a for _, a in t.tags if any(k.startswith("on") for k in a)]
    assert "javascript:" not in out                                    # unsafe URL is not linked
    # What a browser shows is the original text, character for character (no &amp;amp; artefacts).
    assert t.text_by_class["rag-passage"] == evil
    assert t.text_by_class["rag-card-title"] == "<b>Bold</b> & co"
    assert t.text_by_class["rag-question"] == '<script>alert("q")</script> & <b>x</b>'
    assert t.text_by_class["rag-text"].startswith("See <i>this</i> & that")
    assert "&amp;amp;" in out  # the literal "&amp;" in the corpus text, escaped once, and nothing else
    assert out.count("&amp;amp;") == 1


def test_refusal_says_so_and_offers_the_closest_passages():
    a = _answer(text=REFUSAL_TEXT, citations=[], refused=True,
                notes=["Refused: only 0% of the question's key terms appear in the best passages."])
    out = render.render_answer(a)
    t = parse(out)
    assert "The documents don’t cover this." in t.text_by_class["rag-refusal-title"]
    assert t.text_by_class["rag-refusal-text"].startswith("Only 0% of the question's key terms")
    assert "Closest passages" in out and "rag-sources" not in out and "rag-fn" not in out
    assert t.text_by_class["rag-card-title"].count("LEANN") == 1 and "Tweet 4" in t.text_by_class["rag-card-title"]
    assert re.search(r'<details class="rag-others" open>', out)       # offered, not hidden


def test_fallback_from_llm_is_shown_with_its_reason():
    a = _answer(notes=["LLM request failed after 3 attempts (HTTP 500); answered offline."])
    out = render.render_answer(a, expected_mode="llm", model="smollm2")
    t = parse(out)
    assert "Answered offline (extractive) instead of by the LLM." in t.text_by_class["rag-fallback"]
    assert "HTTP 500" in t.text_by_class["rag-fallback"]
    # Not a fallback: the page expected extractive, or the question had an exact (structured) answer.
    assert "rag-fallback" not in render.render_answer(a, expected_mode="extractive")
    assert "rag-fallback" not in render.render_answer(_answer(route="structured"), expected_mode="llm")
    # Notes still show when there is no fallback.
    assert "HTTP 500" in parse(render.render_answer(a)).text_by_class["rag-note"]


def test_rewritten_question_unsupported_sentences_and_llm_meta():
    a = _answer(rewritten_question="Who are LEANN's authors?", question="and who wrote it?", mode="llm",
                unsupported=["A claim with no source."])
    t = parse(render.render_answer(a, expected_mode="llm", model="smollm2"))
    assert t.text_by_class["rag-rewritten"] == "Searched as: “Who are LEANN's authors?”"
    assert "A claim with no source." in t.text_by_class["rag-unsupported"]
    assert t.text_by_class["rag-meta"].startswith("LLM · smollm2")
    assert "rag-fallback" not in render.render_answer(a, expected_mode="llm")


def test_long_source_lists_fold_and_highlight_tolerates_whitespace():
    chunks = [_poster_chunk(title=f"Poster {i}", cid=f"poster:{i}") for i in range(1, 13)]
    cits = [Citation(i, c.id, "poster", c.title, c.text, None, c.title, c.metadata) for i, c in enumerate(chunks, 1)]
    text = " ".join(f"P{i} [{i}]." for i in range(1, 13))
    out = render.render_answer(_answer(text=text, citations=cits, contexts=[Hit(c, 1.0) for c in chunks]))
    parse(out)
    assert out.count('class="rag-card"') == 12 and "Show 4 more sources" in out
    html_, found = render.highlight("one two\n  three four", "two three")
    assert found and html_ == "one <mark>two\n  three</mark> four"
    assert render.highlight("abc", "zzz") == ("abc", False)


def test_status_and_messages():
    llm = parse(render.render_status("llm", "smollm2", "OPENAI_BASE_URL is set.", "http://127.0.0.1:8080/v1"))
    assert llm.text_by_class["rag-status-label"] == "LLM answers · smollm2"
    off = parse(render.render_status("extractive", None, "No LLM is configured <really>."))
    assert off.text_by_class["rag-status-label"] == "Offline extractive answers"
    assert off.text_by_class["rag-status-reason"] == "No LLM is configured <really>."
    m = parse(render.render_message("Oops <x>", "detail & more"))
    assert m.text_by_class["rag-problem-title"] == "Oops <x>"
    assert "<x>" not in render.render_streaming("<x> partial")


# ------------------------------------------------------------------------------------------------ handlers


def _run(gen):
    """All (messages, state, box) yields of a handler generator."""
    return list(gen)


def test_handler_empty_too_long_and_internal_error(monkeypatch):
    import rag
    from ui.app import make_handlers

    respond, _, _ = make_handlers(rag.Settings(max_question_chars=50))
    out = _run(respond("   ", 5, "auto", None))
    msgs = out[-1][0]
    assert len(msgs) == 1 and "Please type a question." in msgs[0]["content"]
    out = _run(respond("why " * 40, 5, "auto", None))
    assert "too long" in out[-1][0][-1]["content"] and "159 characters" in out[-1][0][-1]["content"]
    assert out[-1][1]["history"] == []

    def boom(*a, **kw):
        raise RuntimeError("secret internal detail\nTraceback (most recent call last)")
        yield  # pragma: no cover

    monkeypatch.setattr(rag, "ask_stream", boom)
    out = _run(respond("What does LEANN do?", 5, "auto", None))
    last = out[-1][0][-1]["content"]
    assert "Something went wrong while answering." in last and "RuntimeError" in last
    assert "Traceback" not in last and "secret" not in last
    assert out[-1][1]["history"] == []                              # a failed turn is not history


def test_handler_streams_then_replaces_with_the_final_checked_answer(monkeypatch):
    import rag
    from ui.app import make_handlers

    calls = []

    def fake_stream(question, *, history=None, mode=None, k=None, settings=None, sources=False):
        calls.append((question, history, mode, k))
        yield "LEANN is "
        yield "a <vector> index [1]"
        yield _answer(text="LEANN reduces index size [1].")

    monkeypatch.setattr(rag, "ask_stream", fake_stream)
    respond, prepare, resume = make_handlers(rag.Settings())
    out = _run(respond("What does LEANN do?", 3, "extractive", None))
    contents = [o[0][-1]["content"] for o in out]
    assert "rag-pending" in contents[0]
    assert "LEANN is a &lt;vector&gt; index [1]" in contents[2] and "rag-streaming" in contents[2]
    assert "LEANN reduces index size<sup" in contents[-1] and "a &lt;vector&gt;" not in contents[-1]
    state = out[-1][1]
    assert state["history"] == [("What does LEANN do?", "LEANN reduces index size [1].")]
    # The page's two-step path: prepare (outside the queue) then resume; the history is passed along.
    msgs, state2, box = prepare("and who wrote it?", state)
    assert box == "" and state2["pending"] == "and who wrote it?" and "rag-pending" in msgs[-1]["content"]
    _run(resume(5, "auto", state2))
    assert calls[-1] == ("and who wrote it?", [("What does LEANN do?", "LEANN reduces index size [1].")], None, 5)
    assert calls[0][2:] == ("extractive", 3)
    # Asking for the LLM and getting an offline answer back is shown as a fallback.
    out = _run(respond("What does LEANN do?", 5, "llm", None))
    assert calls[-1][2] == "llm" and "Answered offline (extractive) instead of by the LLM." in out[-1][0][-1]["content"]


def test_mode_indicator_follows_the_mode_choice(monkeypatch):
    import rag
    from ui.app import _status_html

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    off = parse(_status_html(rag.Settings(), "extractive"))
    assert off.text_by_class["rag-status-label"] == "Offline extractive answers"
    assert off.text_by_class["rag-status-reason"] == "Offline extractive mode was requested."
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    on = parse(_status_html(rag.Settings(llm_model="smollm2"), "auto"))
    assert on.text_by_class["rag-status-label"] == "LLM answers · smollm2"
    assert "127.0.0.1:9" in on.text_by_class["rag-status-where"]


# ------------------------------------------------------------------------------------------------ the real app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(real_settings):
    """The real chat app over the session's real index, served on a free loopback port."""
    from ui.app import CONCURRENCY, build_app

    demo = build_app(settings=real_settings).queue(default_concurrency_limit=CONCURRENCY)
    demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield demo.local_url
    finally:
        demo.close()


def _last_html(result) -> str:
    messages = result[0]
    content = messages[-1]["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


@pytest.mark.slow
def test_client_gets_a_cited_answer_with_sources(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    html_ = _last_html(client.predict("How much does NexSpec speed up RL training?", 5, "auto", api_name="/ask"))
    t = parse(html_)
    assert 'class="rag-fn"' in html_ and 'href="#a1-src-1"' in html_
    assert "NexSpec: Towards Optimizing Speculative Decoding in Reinforcement Learning Systems" in \
        t.text_by_class["rag-card-title"]
    assert "4.5x" in t.text_by_class["rag-text"]
    assert "https://openreview.net/forum?id=" in html_ and "<mark>" in html_


@pytest.mark.slow
def test_client_follow_up_uses_the_history(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)  # one client = one session = one conversation
    first = parse(_last_html(client.predict("What does LEANN do?", 5, "auto", api_name="/ask")))
    assert "LEANN" in first.text_by_class["rag-text"]
    result = client.predict("and who are its authors?", 5, "auto", api_name="/ask")
    assert len(result[0]) == 4                                     # two questions, two answers
    t = parse(_last_html(result))
    assert "LEANN" in t.text_by_class["rag-rewritten"]             # the follow-up was made standalone
    first_card = _last_html(result).split('class="rag-card"', 2)[1]
    assert "LEANN: A Low-Storage Overhead Vector Index" in first_card
    assert "Matei Zaharia" in first_card and "Yichuan Wang" in first_card
    # A fresh session has no history: the same follow-up is not rewritten to LEANN.
    alone = _last_html(Client(app_url, verbose=False).predict("and who are its authors?", 5, "auto", api_name="/ask"))
    assert "LEANN" not in alone.split('class="rag-sources"')[0]


@pytest.mark.slow
def test_client_empty_and_refused_questions_get_readable_messages(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    assert "Please type a question." in _last_html(client.predict("", 5, "auto", api_name="/ask"))
    refused = _last_html(client.predict("What is the capital of France?", 5, "auto", api_name="/ask"))
    assert "The documents don’t cover this." in refused and "Closest passages" in refused


@pytest.mark.slow
def test_answers_stream_through_the_server_and_llm_failures_fall_back(app_url, monkeypatch):
    """With a scripted OpenAI-compatible server, the client sees partial text before the final answer."""
    from fake_llm import FakeLLM
    from gradio_client import Client

    llm = FakeLLM()
    monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    try:
        job = Client(app_url, verbose=False).submit("What does LEANN do?", 5, "auto", api_name="/ask")
        final = _last_html(job.result(timeout=180))
        outputs = [_last_html(o) for o in job.outputs()]
        assert any("rag-streaming" in o for o in outputs), "no partial answer was streamed"
        assert "rag-streaming" not in final and 'class="rag-fn"' in final
        assert parse(final).text_by_class["rag-meta"].startswith("LLM")

        llm.behaviour = "http500"
        failed = _last_html(Client(app_url, verbose=False).predict("What does LEANN do?", 5, "auto", api_name="/ask"))
        t = parse(failed)
        assert "Answered offline (extractive) instead of by the LLM." in t.text_by_class["rag-fallback"]
        assert 'class="rag-fn"' in failed                          # the offline answer is still cited
    finally:
        llm.close()


@pytest.mark.slow
def test_page_fetches_nothing_from_the_internet(app_url):
    import urllib.request

    with urllib.request.urlopen(app_url) as r:  # noqa: S310 - loopback
        page = r.read().decode()
    with urllib.request.urlopen(app_url.rstrip("/") + "/theme.css") as r:  # noqa: S310
        theme = r.read().decode()
    assert "fonts.googleapis" not in page + theme and "@import" not in theme
    assert "rag-card" in page  # our stylesheet is served with the page


def test_page_title_header_welcome_and_examples_come_from_the_collection(tiny_settings):
    from ui.app import DEFAULT_EXAMPLES, build_app, examples_for, header_html, placeholder_html
    from rag.collection import collection_for

    (tiny_settings.corpus_dir / "collection.toml").write_text(
        'name = "FooConf 2026"\ndescription = "the FooConf <2026> posters"\nexamples = ["What does FooServe do?"]\n')
    collection = collection_for(tiny_settings.corpus_dir)
    assert build_app(tiny_settings).title == "FooConf 2026 · cited answers"
    assert ">FooConf 2026</div>" in header_html(collection)
    assert "Answers are built from the FooConf &lt;2026&gt; posters." in placeholder_html(collection)
    assert examples_for(collection) == ["What does FooServe do?"]
    assert "Searching the FooConf 2026 documents" in render.render_pending(collection.name)
    (tiny_settings.corpus_dir / "collection.toml").unlink()
    bare = collection_for(tiny_settings.corpus_dir)  # no collection.toml: named after the folder
    assert bare.name == "corpus" and examples_for(bare) == DEFAULT_EXAMPLES


def test_a_server_warms_up_once_and_a_failed_warm_up_is_logged_not_raised(monkeypatch, caplog, tmp_path):
    """`rag ui` and the page both ask for a warm-up; it runs once, and a broken index waits for the first question."""
    import logging

    import rag
    from rag import pipeline

    monkeypatch.setattr(pipeline, "_warmed", False)
    asked = []

    def prepare(self, question, **kwargs):
        asked.append((question, kwargs.get("mode")))
        raise RuntimeError("index is corrupt")

    monkeypatch.setattr(pipeline.Pipeline, "prepare", prepare)
    settings = rag.Settings(corpus_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="rag.pipeline"):
        pipeline.warm_up(settings)
        pipeline.warm_up(settings)
    assert asked == [("What is this collection about?", "extractive")]
    assert "warm-up failed" in caplog.text
