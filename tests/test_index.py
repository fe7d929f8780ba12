"""Index build, validation, staleness and corruption, on a tiny corpus with a deterministic embedder."""
import json
import logging

import pytest

from rag.api import ask
from rag.pipeline import Pipeline
from rag.index import (CHUNKS_FILE, FAISS_FILE, MANIFEST_FILE, IndexCorruptError, IndexMissingError, IndexStaleError,
                       build_index, check_fresh, load_index, read_manifest)


def test_build_writes_index_chunks_and_manifest(tiny_settings, hash_embedder):
    path = build_index(tiny_settings, hash_embedder, progress=False)
    names = {p.name for p in path.iterdir()}
    assert {FAISS_FILE, CHUNKS_FILE, MANIFEST_FILE} <= names
    m = json.loads((path / MANIFEST_FILE).read_text())
    assert m["model"] == "hash-test" and m["dimension"] == 64
    assert set(m["corpus_files"]) == {"posters.json", "research_preview.txt", "poster_notes.txt", "tweets.txt"}
    assert m["chunk_count"] == len(load_index(tiny_settings).chunks)
    assert not list(path.parent.glob(".index.tmp-*"))  # temp dir renamed into place


def test_rebuild_is_reproducible(tiny_settings, hash_embedder):
    build_index(tiny_settings, hash_embedder, progress=False)
    first = (tiny_settings.index_dir / CHUNKS_FILE).read_bytes(), read_manifest(tiny_settings.index_dir)["fingerprint"]
    build_index(tiny_settings, hash_embedder, progress=False)
    assert first == ((tiny_settings.index_dir / CHUNKS_FILE).read_bytes(), read_manifest(tiny_settings.index_dir)["fingerprint"])


def test_missing_index_is_reported(tiny_settings):
    with pytest.raises(IndexMissingError, match="rag build"):
        load_index(tiny_settings)


def test_changed_corpus_makes_index_stale(tiny_settings, hash_embedder):
    build_index(tiny_settings, hash_embedder, progress=False)
    (tiny_settings.corpus_dir / "tweets.txt").write_text("Top Tweets\nA brand new tweet about FooServe.\n")
    with pytest.raises(IndexStaleError, match="tweets.txt"):
        check_fresh(read_manifest(tiny_settings.index_dir), tiny_settings)


def test_ask_builds_on_first_use_and_rebuilds_when_stale(tiny_settings, hash_embedder, caplog):
    caplog.set_level(logging.WARNING)
    a = ask("How much does FooServe cut latency?", settings=tiny_settings, embedder=hash_embedder)
    assert "no index" in caplog.text and a.citations and a.citations[0].chunk_id == "poster:1"
    old = read_manifest(tiny_settings.index_dir)["fingerprint"]
    (tiny_settings.corpus_dir / "tweets.txt").write_text("Top Tweets\nBarTrain now trains on 4096 TPUs.\n")
    caplog.clear()
    a = ask("How many TPUs does BarTrain train on?", settings=tiny_settings, embedder=hash_embedder)
    assert "stale" in caplog.text
    assert a.index_fingerprint != old
    assert any(h.chunk.id == "tweets:1" for h in a.contexts)


@pytest.mark.parametrize("damage", ["truncate_faiss", "garble_faiss", "drop_chunk", "bad_manifest", "delete_faiss"])
def test_corrupt_index_raises_with_the_fix(tiny_settings, hash_embedder, damage):
    build_index(tiny_settings, hash_embedder, progress=False)
    d = tiny_settings.index_dir
    if damage == "truncate_faiss":
        data = (d / FAISS_FILE).read_bytes()
        (d / FAISS_FILE).write_bytes(data[: len(data) // 2])
    elif damage == "garble_faiss":
        data = bytearray((d / FAISS_FILE).read_bytes())
        data[100:110] = b"xxxxxxxxxx"
        (d / FAISS_FILE).write_bytes(bytes(data))
    elif damage == "drop_chunk":
        lines = (d / CHUNKS_FILE).read_text().splitlines(keepends=True)
        (d / CHUNKS_FILE).write_text("".join(lines[1:]))
    elif damage == "bad_manifest":
        (d / MANIFEST_FILE).write_text("{not json")
    else:
        (d / FAISS_FILE).unlink()
    with pytest.raises(IndexCorruptError, match="rag build --force"):
        load_index(tiny_settings)
    with pytest.raises(IndexCorruptError):  # ask() never answers from a corrupt index
        Pipeline(tiny_settings, hash_embedder).corpus


def test_manifest_that_disagrees_with_chunks_is_corrupt(tiny_settings, hash_embedder):
    build_index(tiny_settings, hash_embedder, progress=False)
    d = tiny_settings.index_dir
    m = json.loads((d / MANIFEST_FILE).read_text())
    m["chunk_count"] += 1
    (d / MANIFEST_FILE).write_text(json.dumps(m))
    with pytest.raises(IndexCorruptError, match="inconsistent"):
        load_index(tiny_settings)


def test_failed_build_leaves_old_index_usable(tiny_settings, hash_embedder, monkeypatch):
    build_index(tiny_settings, hash_embedder, progress=False)
    before = (tiny_settings.index_dir / MANIFEST_FILE).read_text()

    class Boom(type(hash_embedder)):
        def encode(self, texts, batch_size=32):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        build_index(tiny_settings, Boom(), progress=False)
    assert (tiny_settings.index_dir / MANIFEST_FILE).read_text() == before
    assert load_index(tiny_settings).chunks


def test_chunk_text_with_unicode_line_separators_survives_the_index(tiny_settings, hash_embedder):
    posters = json.loads((tiny_settings.corpus_dir / "posters.json").read_text())
    posters["results"][0]["abstract"] += " Line\u2028separator and next\u0085line."
    (tiny_settings.corpus_dir / "posters.json").write_text(json.dumps(posters, ensure_ascii=False))
    build_index(tiny_settings, hash_embedder, progress=False)
    chunk = next(c for c in load_index(tiny_settings).chunks if c.id == "poster:1")
    assert "Line\u2028separator and next\u0085line." in chunk.text
