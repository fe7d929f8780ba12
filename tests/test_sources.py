"""Sources on tiny fixture files, the registry's choices and skip reasons, and the MLSys corpus unchanged."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.corpus import parse_notes, parse_posters, parse_preview, parse_tweets
from rag.aliases import apply_links, read_links
from rag.sources import FileView, load_folder
from rag.sources.paperlists import PaperlistsSource
from rag.sources.registry import assign
from rag.sources.tables import TableSource, detect_fields
from rag.sources.text import TextSource

ROOT = Path(__file__).resolve().parent.parent

PAPERLIST = [
    {"id": "abc1", "title": "Deep Nets Learn Things", "track": "main", "status": "Poster",
     "abstract": "We show that nets learn. It works well.", "keywords": "deep learning; reinforcement learning",
     "author": "Ann Lee;Bo Chen;Cy Dee", "aff": "Stanford University;;MIT", "site": "https://x.org/abc1",
     "tldr": "SECRET TLDR TEXT"},
    {"id": "abc2", "title": "Rejected Idea", "status": "Reject", "abstract": "Nobody liked it.",
     "author": "Dee Fox", "aff": "", "site": "https://x.org/abc2"},
]


def write(path: Path, content) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def test_paperlists_source_splits_authors_and_never_reads_tldr(tmp_path):
    f = FileView(write(tmp_path / "iclr2018.json", PAPERLIST))
    src = PaperlistsSource()
    assert src.check(f) is None
    a, b = src.load(f)
    assert a.id == "iclr2018:abc1" and a.kind == "paper"
    assert a.metadata["authors"] == ["Ann Lee", "Bo Chen", "Cy Dee"]
    assert a.metadata["institutions"] == ["Stanford University", "MIT"]
    assert a.metadata["keywords"] == ["deep learning", "reinforcement learning"]
    assert (a.metadata["venue"], a.metadata["year"], a.metadata["accepted"]) == ("ICLR", 2018, True)
    assert b.metadata["accepted"] is False and b.metadata["institutions"] == []
    assert "SECRET" not in a.search_text + a.embed_text + json.dumps(a.metadata)
    assert "Stanford" in a.search_text and "reinforcement" in a.search_text


def test_paperlists_source_refuses_other_json(tmp_path):
    assert PaperlistsSource().check(FileView(write(tmp_path / "x.json", {"results": []}))) is not None
    assert PaperlistsSource().check(FileView(write(tmp_path / "y.json", [{"name": "n", "authors": []}]))) is not None


def test_table_source_detects_columns_in_csv_and_jsonl(tmp_path):
    csv_file = write(tmp_path / "corl2024.csv", "Title,Abstract,Authors,Year\nA Robot,It grasps.,\"X Y; Z W\",2024\n")
    rows = [{"_id": "7", "title": "", "text": "Only an abstract here."}, {"_id": "8", "title": "T", "text": "B"}]
    jsonl = write(tmp_path / "corpus.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    src = TableSource()
    assert src.check(FileView(csv_file)) is None and src.check(FileView(jsonl)) is None
    (c,) = src.load(FileView(csv_file))
    assert c.title == "A Robot" and c.text == "It grasps." and c.metadata["authors"] == ["X Y", "Z W"]
    assert c.metadata["year"] == 2024 and c.metadata["venue"] == "CoRL"
    ids = [c.id for c in src.load(FileView(jsonl))]
    assert ids == ["corpus:7", "corpus:8"]  # a row without a title is kept when it has an abstract
    assert detect_fields(["ID", "paper_title", "summary"]) == {"id": "ID", "title": "paper_title", "abstract": "summary"}
    given = TableSource({"title": "headline", "abstract": "blurb"})
    other = write(tmp_path / "t.csv", "headline,blurb\nH,B\n")
    assert src.check(FileView(other)) is not None and given.load(FileView(other))[0].title == "H"


def test_markdown_source_keeps_heading_path(tmp_path):
    md = write(tmp_path / "notes.md", "# ICLR notes\n\nWhy I went.\n\n## Diffusion\n### Guidance\nCFG trades diversity.\n\n"
                                      "## Scaling\nTokens matter.\n")
    chunks = TextSource().load(FileView(md))
    assert [c.metadata["section"] for c in chunks] == ["ICLR notes", "ICLR notes > Diffusion > Guidance",
                                                       "ICLR notes > Scaling"]
    assert chunks[1].title == "ICLR notes — Guidance" and chunks[1].text == "CFG trades diversity."
    assert "Diffusion" in chunks[1].search_text and chunks[0].id == "notes:1"


def test_hard_wrapped_lines_join_into_one_paragraph_but_list_items_stay_apart(tmp_path):
    md = write(tmp_path / "w.md", "# W\n\nThe trick was a greedy search\nscored by BIC, which took 40 minutes.\n\n"
                                  "Steps:\n- load the data\n- fit it\n")
    wrapped, listed = TextSource().load(FileView(md))
    assert wrapped.text == "The trick was a greedy search scored by BIC, which took 40 minutes."
    assert listed.text == "Steps:\n- load the data\n- fit it"


def test_plain_text_source_uses_short_lines_as_headings(tmp_path):
    chunks = TextSource().load(FileView(write(tmp_path / "r.txt", "Reading list\n\nFirst para.\n\nMethods\n\nSecond.")))
    assert [(c.title, c.text) for c in chunks] == [("Reading list", "First para."), ("Reading list — Methods", "Second.")]


def test_registry_skips_with_reason_and_fingerprints_only_loaded_files(tmp_path):
    write(tmp_path / "iclr2018.json", PAPERLIST)
    write(tmp_path / "notes.md", "# N\n\nA note.\n")
    write(tmp_path / "data.bin", "\x00\x01")
    write(tmp_path / "odd.json", {"hello": "world"})
    write(tmp_path / "README.md", "# about this folder\n")
    out = load_folder(tmp_path)
    assert out.loaded == {"iclr2018.json": "paperlists", "notes.md": "text"}
    assert set(out.skipped) == {"data.bin", "odd.json"}
    assert "no source accepts" in out.skipped["odd.json"] and "paperlists:" in out.skipped["odd.json"]
    assert [p.name for p in out.files] == ["iclr2018.json", "notes.md"]
    assert len(out.chunks) == 3

    from rag.config import Settings, index_fingerprint

    settings = Settings(corpus_dir=tmp_path)
    before = index_fingerprint(settings)
    write(tmp_path / "other.bin", "\x00junk")  # unsupported: not part of the fingerprint
    assert index_fingerprint(settings) == before
    write(tmp_path / "more.md", "# M\n\nAnother.\n")
    assert index_fingerprint(settings) != before


def test_registry_qualifies_clashing_ids(tmp_path):
    write(tmp_path / "a.md", "# A\n\nx.\n")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "a.txt", "A\n\ny.")  # same stem, same id scheme: a:1
    ids = [c.id for c in load_folder(tmp_path).chunks]
    assert len(ids) == len(set(ids)) == 2 and any(i.startswith("a/") for i in ids)


def old_loader(corpus: Path):
    """The loader before sources: four known file names in a fixed order, then the link table."""
    chunks = parse_posters((corpus / "posters.json").read_text(encoding="utf-8"))
    chunks += parse_preview((corpus / "research_preview.txt").read_text(encoding="utf-8"))
    chunks += parse_notes((corpus / "poster_notes.txt").read_text(encoding="utf-8"))
    chunks += parse_tweets((corpus / "tweets.txt").read_text(encoding="utf-8"))
    return apply_links(chunks, read_links(corpus / "notes_poster_links.tsv"))


def test_mlsys_corpus_gives_the_same_chunks_as_before():
    corpus = ROOT / "corpus"
    new = load_folder(corpus)
    assert new.loaded == {"posters.json": "miniconf", "research_preview.txt": "research-preview",
                          "poster_notes.txt": "poster-notes", "tweets.txt": "tweets",
                          "notes_poster_links.tsv": "notes-links"}
    assert new.skipped == {}
    old = old_loader(corpus)
    assert [(c.id, c.text) for c in new.chunks] == [(c.id, c.text) for c in old]
    assert new.chunks == old


@pytest.mark.parametrize("name,shape", [("posters.json", "miniconf"), ("research_preview.txt", "research-preview"),
                                        ("poster_notes.txt", "poster-notes"), ("tweets.txt", "tweets")])
def test_mlsys_shapes_are_recognised_under_any_name(tmp_path, name, shape):
    (tmp_path / f"renamed{Path(name).suffix}").write_bytes((ROOT / "corpus" / name).read_bytes())
    order, skipped = assign(tmp_path)
    assert [s.name for _, s in order] == [shape] and not skipped


def test_collection_name_from_toml_or_folder(tmp_path):
    from rag.collection import load_collection

    assert load_collection(ROOT / "corpus").name == "MLSys 2026"
    assert load_collection(tmp_path).name == tmp_path.name
    (tmp_path / "collection.toml").write_text('name = "ICLR 2018"\ndescription = "ICLR 2018 submissions"\n')
    c = load_collection(tmp_path)
    assert (c.name, c.description) == ("ICLR 2018", "ICLR 2018 submissions")
    (tmp_path / "collection.toml").write_text("name = [broken")
    assert load_collection(tmp_path).name == tmp_path.name
