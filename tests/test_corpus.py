"""Chunkers on the real corpus and a tiny fixture: counts, stable ids, metadata and resolved references."""
import json
import re
from pathlib import Path

from hypothesis import given, settings as hsettings, strategies as st

from rag.config import Settings
from rag.corpus import load_corpus, parse_notes, parse_posters, parse_preview, parse_tweets, preview_sources

CORPUS = Settings().corpus_dir


def _chunks(kind):
    return [c for c in load_corpus(CORPUS) if c.kind == kind]


def test_one_chunk_per_poster_with_metadata():
    raw = json.loads((CORPUS / "posters.json").read_text())["results"]
    chunks = _chunks("poster")
    assert len(chunks) == len(raw) == 135
    by_id = {c.id: c for c in chunks}
    for p in raw:
        c = by_id[f"poster:{p['id']}"]
        assert c.title.split(":")[0] in c.title and c.metadata["url"] == p["paper_url"]
        assert c.metadata["authors"] == [a["fullname"].strip() for a in p["authors"] if a["fullname"].strip()]
        assert "" not in c.metadata["authors"]
        assert "\\%" not in c.text and "$\\times$" not in c.text
    nodesweep = by_id["poster:3608"]
    assert nodesweep.metadata["institutions"] == ["Amazon"]
    assert "Amazon" in nodesweep.search_text  # institutions are searchable


def test_preview_paragraphs_keep_sections_and_resolve_references():
    text = (CORPUS / "research_preview.txt").read_text()
    lines = [ln.strip() for ln in text.splitlines()]
    chunks = _chunks("preview")
    sections = ["What", "Why it matters", "Open questions", "Narrative", "Timeline", "Tensions"]
    for s in sections:
        start = lines.index(s) + 1
        end = next(i for i in range(start, len(lines)) if lines[i] in sections + ["Perspectives", "Sources"])
        body = [ln for ln in lines[start:end] if ln]
        assert len([c for c in chunks if c.metadata["section"] == s]) == len(body), s
    persp = [c for c in chunks if c.metadata["section"] == "Perspectives"]
    assert len(persp) == sum(1 for ln in lines if ln.startswith("Evolution:"))
    stopgap = next(c for c in persp if "stopgap" in c.text)
    assert stopgap.text.startswith("@superaiwatcher") and "Evolution:" in stopgap.text
    sources = preview_sources(text)
    assert len(sources) == 76 and sources[12] == "stepfun-ai/StepMesh"
    for c in chunks:
        for n in re.findall(r"\[(\d+)\]", c.text):
            assert c.metadata["references"][n] == sources[int(n)]


def test_notes_one_chunk_per_entry_with_topic():
    chunks = _chunks("notes")
    entries = [c for c in chunks if not c.id.startswith(("notes:theme:", "notes:intro"))]
    themes = [c for c in chunks if c.id.startswith("notes:theme:")]
    text = (CORPUS / "poster_notes.txt").read_text()
    after = text.split("Cross-Cutting Themes", 1)[1]
    assert len(themes) == len([ln for ln in after.splitlines() if ln.strip()])
    assert len(entries) == 72  # the notes cover ~72 posters
    opkv = next(c for c in chunks if c.id == "notes:opkv")
    assert opkv.metadata["topic"] == "KV Cache Management"
    assert "Token–Page Mismatch" in opkv.text and "Recall Overhead Explosion" in opkv.text
    assert len({c.metadata["topic"] for c in entries}) == 18


def test_tweets_one_chunk_each_and_account_list():
    chunks = _chunks("tweet")
    accounts = [c for c in chunks if c.id == "tweets:accounts"]
    assert len(accounts) == 1 and "@elonmusk" in accounts[0].text
    texts = [c.text for c in chunks]
    assert len(texts) == len(set(texts))  # verbatim repeats collapse to one chunk
    assert any("GPU bottlenecks are often config" in t for t in texts)


def test_chunk_ids_are_stable_readable_and_unique():
    a, b = load_corpus(CORPUS), load_corpus(CORPUS)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)
    assert all(re.fullmatch(r"(poster:\d+|preview:[a-z-]+:\d+|notes:[a-z0-9:-]+|tweets:(\d+|accounts))", c.id) for c in a)


def test_loading_never_writes_the_corpus(tmp_path):
    before = {p.name: p.stat().st_mtime_ns for p in CORPUS.iterdir()}
    load_corpus(CORPUS)
    assert before == {p.name: p.stat().st_mtime_ns for p in CORPUS.iterdir()}


def test_tiny_corpus_chunkers(tiny_corpus):
    chunks = load_corpus(tiny_corpus)
    ids = [c.id for c in chunks]
    assert ids[:2] == ["poster:1", "poster:2"]
    foo = chunks[0]
    assert foo.text == "FooServe cuts latency by 30% and reaches 2.5× throughput on A100 GPUs."
    assert foo.metadata["authors"] == ["Ada Lovelace"] and foo.metadata["institutions"] == ["Amazon"]
    assert "preview:what:1" in ids and "preview:perspectives:1" in ids
    what = next(c for c in chunks if c.id == "preview:what:1")
    assert what.metadata["references"] == {"1": "FooConf home page", "2": "Award announcement"}
    assert {"notes:intro", "notes:fooserve", "notes:bartrain", "notes:theme:1"} <= set(ids)
    assert next(c for c in chunks if c.id == "notes:fooserve").text.endswith("- Uses a new cache.")
    assert {"tweets:1", "tweets:2", "tweets:accounts"} <= set(ids)


@hsettings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80), max_size=30))
def test_text_chunkers_never_crash_and_ids_unique(lines):
    raw = "\n".join(lines)
    for parser in (parse_preview, parse_notes, parse_tweets):
        chunks = parser(raw)
        assert len({c.id for c in chunks}) == len(chunks)
        assert all(c.text.strip() or c.id == "tweets:accounts" for c in chunks)


def test_poster_parser_accepts_a_bare_list():
    assert parse_posters(json.dumps([{"id": 5, "name": "X", "abstract": "Y", "authors": []}]))[0].id == "poster:5"
