"""Exact answers over any paper list: counts, lists, rankings and authorship within a venue and year, with the
collection's name in the answer; and a folder of paper lists plus notes, built and asked end to end."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.api import ask
from rag.config import Settings
from rag.sources import load_folder
from rag.structured import answer, paper_table, route

ROOT = Path(__file__).resolve().parent.parent


def _paper(pid, title, *, author="", aff="", keywords="", status="Poster", abstract="An abstract."):
    return {"id": pid, "title": title, "track": "main", "status": status, "abstract": abstract,
            "keywords": keywords, "author": author, "aff": aff, "site": f"https://x.org/{pid}"}


ICLR2018 = [
    _paper("i1", "Deep Agents Play Games", author="Ann Lee;Bo Chen", aff="Stanford University;MIT",
           keywords="reinforcement learning;games"),
    _paper("i2", "Curious Exploration", author="Cy Dee", aff="Google", keywords="Reinforcement Learning",
           status="Reject"),
    _paper("i3", "Sparse Nets", author="Dee Fox;Ann Lee", aff="MIT;Stanford University",
           keywords="deep reinforcement learning;sparsity"),
    _paper("i4", "Graph Kernels Revisited", author="Eve Gray", aff="Google", keywords="graphs", status="Withdraw"),
]
CORL2024 = [
    _paper("c1", "Legged Robots Walk", author="Fay Hu;Ann Lee", aff="Stanford University;Stanford University",
           keywords="reinforcement learning;locomotion"),
    _paper("c2", "Grasping Anything", author="Gil Ito", aff="Carnegie Mellon University", keywords="grasping"),
    _paper("c3", "Drones in the Wild", author="Hal Jo", aff="Stanford", keywords="drones"),
]
NOTES = """# Reading notes

## Robot learning

The walking robot from the legged session recovers from pushes within 0.4 seconds, using a learned balance policy.

## Logistics

The reading group meets every Thursday in room 42 to discuss two papers.
"""


@pytest.fixture
def lists_folder(tmp_path) -> Path:
    d = tmp_path / "lists"
    d.mkdir()
    (d / "iclr2018.json").write_text(json.dumps(ICLR2018))
    (d / "corl2024.json").write_text(json.dumps(CORL2024))
    return d


@pytest.fixture
def table(lists_folder):
    return paper_table(load_folder(lists_folder).chunks)


def _ask(question, table, collection="Robot papers"):
    r = route(question, table, [], collection)
    assert r is not None, question
    return r, answer(r, table)


def _cited(text):
    return sorted(set(part.split("}")[0] for part in text.split("{cite:")[1:]))


def test_table_rows_come_from_the_row_flag_not_the_kind(table):
    assert [p.chunk_id for p in table] == [f"corl2024:{p['id']}" for p in CORL2024] + \
        [f"iclr2018:{p['id']}" for p in ICLR2018]
    assert {p.noun for p in table} == {"paper"} and table.venues == ["CoRL", "ICLR"] and table.years == {2018, 2024}


def test_keyword_count_within_a_venue_and_year_is_exact_and_states_its_rule(table):
    r, text = _ask("How many ICLR 2018 papers list 'reinforcement learning' as a keyword?", table)
    assert (r.field, r.venue, r.year) == ("keyword", "ICLR", 2018)
    # whole keyword, case-insensitive: "deep reinforcement learning" is another keyword; CoRL's i1-alike is out of scope
    assert text.startswith("2 papers match") and _cited(text) == ["iclr2018:i1", "iclr2018:i2"]
    assert "keywords is 'reinforcement learning'" in text and "whatever its status" in text


def test_institution_list_within_a_venue(table):
    r, text = _ask("Which CoRL 2024 papers are from Stanford?", table)
    assert (r.op, r.field, r.venue) == ("list", "institution", "CoRL")
    assert _cited(text) == ["corl2024:c1", "corl2024:c3"]  # not the ICLR papers from Stanford University
    assert "institution field contains 'Stanford' as a word" in text


def test_count_all_names_the_scope_or_the_collection(table):
    assert _ask("How many papers are there?", table)[1] == \
        "The Robot papers program (corl2024.json, iclr2018.json) lists 7 papers."
    assert _ask("How many ICLR 2018 papers are there?", table)[1] == \
        "The ICLR 2018 program (iclr2018.json) lists 4 papers."
    accepted = _ask("How many ICLR 2018 papers were accepted?", table)[1]
    assert accepted.startswith("The ICLR 2018 program (iclr2018.json) lists 2 accepted papers (rule: ")


def test_a_year_the_table_lacks_counts_nothing(table):
    r, text = _ask("How many CoRL 2019 papers are from Stanford?", table)
    assert r.year == 2019 and text.startswith("No paper in the CoRL 2019 program matches")


def test_ranking_within_a_venue_counts_each_paper_once(table):
    _, text = _ask("Which institutions have the most ICLR 2018 papers?", table)
    lines = text.splitlines()
    assert lines[0].startswith("Top 3 institutions by number of ICLR 2018 papers")
    assert lines[1].startswith("1. Google — 2 papers") and lines[2].startswith("2. MIT — 2 papers")


def test_who_wrote_a_paper_named_by_its_full_title(table):
    r, text = _ask("Who wrote Grasping Anything?", table)
    assert r.op == "authors_of" and r.value == "corl2024:c2"
    assert "Gil Ito" in text and "Carnegie Mellon University" in text


def test_mlsys_table_has_no_scope_and_keeps_its_wording():
    from rag.corpus import load_corpus

    table = paper_table(load_corpus(Settings().corpus_dir))
    r, text = _ask("How many posters are there at MLSys 2026?", table, "MLSys 2026")
    assert (r.venue, r.year) == (None, None)
    assert text == f"The MLSys 2026 program (posters.json) lists {len(table)} posters."


def test_folder_of_paper_lists_and_notes_builds_and_answers(lists_folder, hash_embedder, tmp_path):
    (lists_folder / "notes.md").write_text(NOTES)
    (lists_folder / "collection.toml").write_text('name = "Robot reading"\ndescription = "robot papers and notes"\n')
    settings = Settings(corpus_dir=lists_folder, index_dir=tmp_path / "index", cache_dir=ROOT / ".cache")
    a = ask("How many CoRL 2024 papers list 'reinforcement learning' as a keyword?", settings=settings,
            embedder=hash_embedder, mode="extractive")
    assert a.route == "structured" and a.text.startswith("1 paper matches (rule: one of the paper's keywords is")
    assert [c.chunk_id for c in a.citations] == ["corl2024:c1"]
    whole = ask("How many papers are there?", settings=settings, embedder=hash_embedder, mode="extractive")
    assert whole.text == "The Robot reading program (corl2024.json, iclr2018.json) lists 7 papers."
    notes = ask("How fast does the walking robot recover from pushes?", settings=settings, embedder=hash_embedder,
                mode="extractive")
    assert not notes.refused and "0.4 seconds" in notes.text
    assert notes.citations and all(c.chunk_id.startswith("notes:") for c in notes.citations)


def test_topic_rule_names_what_a_lean_index_embeds(lists_folder, hash_embedder, tmp_path, monkeypatch):
    import rag.memindex

    monkeypatch.setattr(rag.memindex, "FULL_PLAN_MAX_CHUNKS", 1)  # the lean plan: one title vector per chunk
    settings = Settings(corpus_dir=lists_folder, index_dir=tmp_path / "index", cache_dir=ROOT / ".cache")
    a = ask("How many papers are about robots?", settings=settings, embedder=hash_embedder, mode="extractive")
    assert a.route == "structured" and "or the title's embedding has cosine similarity" in a.text
