"""The stored lexicon: BM25 equal to bm25s bit for bit, and a stored file used only while its key matches."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.corpus import load_corpus
from rag.index import CHUNKS_FILE, build_index, load_index
from rag.lexicon import LEXICON_FILE, build_lexicon, lexicon_key, load_lexicon, read_lexicon
from rag.retrieve import Retriever
from rag.text import content_tokens

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def real_chunks():
    return load_corpus(Settings().corpus_dir)


def _gold_questions() -> list[str]:
    return [json.loads(line)["user_input"] for line in (ROOT / "eval" / "gold.jsonl").read_text().splitlines() if line]


def test_bm25_scores_equal_bm25s_bit_for_bit(real_chunks):
    import bm25s

    from rag.lexicon import BM25_B, BM25_K1

    docs = [content_tokens(c.search_text) for c in real_chunks]
    reference = bm25s.BM25(k1=BM25_K1, b=BM25_B)
    reference.index(docs, show_progress=False)
    lex = build_lexicon(real_chunks)
    assert lex.df == dict(Counter(t for d in docs for t in set(d)))
    checked = 0
    for q in _gold_questions():
        tokens = [t for t in content_tokens(q) if t in lex.df]
        if tokens:
            ours, theirs = lex.bm25_scores(tokens), reference.get_scores(tokens)
            assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), q
            checked += 1
    assert checked > 200


def test_a_stored_lexicon_round_trips_and_a_stale_one_is_rebuilt(tiny_settings, hash_embedder, caplog):
    build_index(tiny_settings, hash_embedder, progress=False)
    index = load_index(tiny_settings)
    path = tiny_settings.index_dir / LEXICON_FILE
    key = lexicon_key(index.manifest["files"][CHUNKS_FILE])
    stored, derived = read_lexicon(path, key), build_lexicon(index.chunks)
    assert stored is not None
    for field in ("k1", "b", "n_docs", "df", "lowercase_stems", "names"):
        assert getattr(stored, field) == getattr(derived, field), field
    for field in ("data", "indices", "indptr"):
        assert np.array_equal(getattr(stored, field), getattr(derived, field)), field

    # Derived from other chunks (or other code): never used, rebuilt and written back.
    payload = json.loads(path.read_text())
    payload["key"], payload["names"] = "0" * 16, []
    path.write_text(json.dumps(payload))
    assert read_lexicon(path, key) is None
    assert load_lexicon(tiny_settings.index_dir, index.chunks, index.manifest["files"][CHUNKS_FILE]).names == derived.names
    assert json.loads(path.read_text())["key"] == key
    path.write_text("{not json")  # unreadable: rebuilt as well
    assert load_lexicon(tiny_settings.index_dir, index.chunks, index.manifest["files"][CHUNKS_FILE]).df == derived.df


def test_the_key_covers_the_chunks_and_the_parameters():
    assert lexicon_key("a") != lexicon_key("b")
    assert lexicon_key("a") != lexicon_key("a", b=0.75)


def test_a_retriever_over_the_stored_lexicon_ranks_as_one_that_derives_it(tiny_settings, hash_embedder):
    build_index(tiny_settings, hash_embedder, progress=False)
    index = load_index(tiny_settings)
    assert index.lexicon is not None
    stored = Retriever(index)
    index.lexicon = None
    derived = Retriever(index)
    for q in ("Which system caches keys?", "dogs results", "What does FooServe do?"):
        qvec = hash_embedder.encode([q])[0]
        assert [h.chunk.id for h in stored.search(q, qvec, 3)] == [h.chunk.id for h in derived.search(q, qvec, 3)]
        assert stored.named_chunks(q) == derived.named_chunks(q)
        assert np.array_equal(stored.bm25_scores(q), derived.bm25_scores(q))
