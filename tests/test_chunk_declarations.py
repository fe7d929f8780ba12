"""What differs per kind of document is data on the chunk, set by its source: the core reads the declaration,
never the kind name."""
from __future__ import annotations

from rag.answer import short_title
from rag.budget import brief_source
from rag.corpus import parse_notes, parse_posters, parse_tweets
from rag.prompts import format_source
from rag.sentences import chunk_sentences
from rag.types import Chunk, Hit

PAPER = Chunk("corl2024:c1", "paper", "Legged Robots Walk: Learning to Balance", "Robots walk. They balance.",
              {"authors": ["Fay Hu"], "institutions": ["Stanford University"], "table_row": "paper",
               "label": "paper abstract"})


def test_any_kind_that_declares_table_row_gets_the_row_treatment():
    block = format_source(1, Hit(PAPER, 1.0))
    assert block.splitlines()[0] == "[1] (paper abstract) Legged Robots Walk: Learning to Balance"
    assert "Authors: Fay Hu" in block and "Institutions: Stanford University" in block
    assert "Authors: Fay Hu" in brief_source(1, Hit(PAPER, 1.0), [], people=True)
    assert short_title(PAPER) == "Legged Robots Walk"
    undeclared = Chunk("x:1", "poster", PAPER.title, PAPER.text, {"authors": ["Fay Hu"]})
    assert "Authors:" not in format_source(1, Hit(undeclared, 1.0)) and short_title(undeclared) == ""


def test_line_sentences_is_a_declaration_not_a_kind():
    prose = Chunk("t:2", "tweet", "t", "We ship it today. Try it now, it is free.", {})
    assert chunk_sentences(prose) == ["We ship it today.", "Try it now, it is free."]
    lines = Chunk("t:3", "note", "t", "We ship it today. Try it now, it is free.", {"line_sentences": True})
    assert chunk_sentences(lines) == ["We ship it today. Try it now, it is free."]


def test_a_record_line_that_is_only_a_handle_or_a_count_joins_the_line_that_names_it():
    text = "Most popular users\nNews Network\n@newsnet\n61.9M followers\nSpace Agency\n@agency\n9M followers\n#Tags #Only"
    lines = Chunk("t:4", "tweet", "accounts", text, {"line_sentences": True})
    assert chunk_sentences(lines) == ["Most popular users", "News Network, @newsnet, 61.9M followers",
                                      "Space Agency, @agency, 9M followers"]
    prose = Chunk("t:5", "note", "accounts", "It ships to every user.\n61.9M followers", {})
    assert chunk_sentences(prose) == ["It ships to every user.", "61.9M followers"]  # only where each line is a sentence


def test_mlsys_sources_declare_rows_labels_and_line_sentences(tmp_path):
    import json

    from conftest import TINY_NOTES, TINY_POSTERS, TINY_TWEETS

    posters = parse_posters(json.dumps(TINY_POSTERS))
    assert all(c.metadata["table_row"] == "poster" and c.metadata["label"] == "poster abstract" for c in posters)
    notes = parse_notes(TINY_NOTES)
    entries = [c.id for c in notes if c.metadata.get("describes_row")]
    assert entries == [c.id for c in notes if not c.id.startswith(("notes:theme", "notes:intro"))] and entries
    assert all(c.metadata["label"] == "poster notes" and not c.metadata.get("table_row") for c in notes)
    tweets = parse_tweets(TINY_TWEETS)
    assert all(c.metadata["line_sentences"] and c.metadata["label"] == "tweet" for c in tweets)
