"""Smoke runs of the external retrieval benchmarks on a 50-document slice made here, and their metric helpers."""
from __future__ import annotations

import json
import math
import random

import pytest

from bench import beir, known_item
from bench.ir import RETRIEVERS, LuceneBM25, ndcg_at_k
from rag.config import Settings

WORDS = ("alpha beta gamma delta epsilon zeta theta kappa lambda sigma omega photon kernel tensor graph robot "
         "vision speech policy reward cache sparse dense quantum protein enzyme neuron cortex galaxy").split()


def _doc(i: int, rng: random.Random) -> tuple[str, str]:
    title = f"Study {i} of {WORDS[i % len(WORDS)]} {WORDS[(i * 7) % len(WORDS)]}"
    text = " ".join(rng.choice(WORDS) for _ in range(30)) + f" unique{i}token appears here."
    return title, text


def test_ndcg_matches_hand_computation():
    assert ndcg_at_k(["a", "b"], {"a": 1}, 10) == 1.0
    assert ndcg_at_k(["x", "a"], {"a": 1}, 10) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(["x", "a", "b"], {"a": 1, "b": 1}, 10) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(["x"], {"a": 1}, 10) == 0.0 and math.isnan(ndcg_at_k(["x"], {}, 10))


def test_lucene_bm25_ranks_the_term_holder_first():
    bm = LuceneBM25(["cats purr softly", "dogs bark loudly", "birds sing"])
    assert bm.ranking("why do dogs bark", 3)[0] == 1 and bm.ranking("zebra", 3) == []


def test_beir_smoke_on_fifty_documents(tmp_path, hash_embedder):
    rng = random.Random(0)
    (tmp_path / "qrels").mkdir()
    docs = [_doc(i, rng) for i in range(50)]
    with open(tmp_path / "corpus.jsonl", "w") as f:
        for i, (title, text) in enumerate(docs):
            f.write(json.dumps({"_id": f"d{i}", "title": title, "text": text, "metadata": {}}) + "\n")
    queries = [{"_id": f"q{i}", "text": f"what about unique{i}token"} for i in range(0, 50, 5)]
    queries.append({"_id": "no-qrels", "text": "a query without judgements"})
    (tmp_path / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (tmp_path / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(0, 50, 5)))
    result = beir.run(tmp_path, "train", Settings(cache_dir=tmp_path / "cache"), embedder=hash_embedder)
    assert result["documents"] == 50 and result["queries"] == 10  # the query without qrels is skipped
    for name in RETRIEVERS:
        assert set(result[name]) == {"ndcg@10", "recall@10", "recall@100"}
        assert all(0.0 <= v <= 1.0 for v in result[name].values())
    assert result["bm25_lucene"]["recall@10"] == 1.0  # each query names its document's unique token
    assert result["fused"]["ndcg@10"] > 0.5
    json.dumps(result)


def test_known_item_smoke_on_fifty_papers(tmp_path, hash_embedder):
    rng = random.Random(1)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    papers = [{"id": f"p{i}", "title": t, "abstract": a, "author": "A B;C D", "aff": "X;Y", "status": "Poster",
               "site": f"https://x/{i}", "tldr": f"secret unique{i}token"} for i, (t, a) in
              enumerate(_doc(i, rng) for i in range(50))]
    (corpus / "conf2020.json").write_text(json.dumps(papers))
    (corpus / "skip.bin").write_bytes(b"\x00\x01")
    lines = [{"_id": f"k{i}", "text": f"we study unique{i}token", "target": {"file": "conf2020.json", "id": f"p{i}",
                                                                            "title": papers[i]["title"]}}
             for i in range(0, 50, 7)]
    lines.append({"_id": "gone", "text": "x", "target": {"file": "other.json", "id": "z", "title": "Nope"}})
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = known_item.run(corpus, qfile, Settings(cache_dir=tmp_path / "cache"), embedder=hash_embedder)
    assert result["documents"] == 50 and result["queries"] == 8 and result["queries_without_target"] == 1
    assert "skip.bin" in result["files_skipped"]
    for name in ("bm25", "dense", "fused"):
        assert set(result[name]) == {"mrr@10", "recall@1", "recall@10"}
        assert 0.0 <= result[name]["recall@1"] <= result[name]["recall@10"] <= 1.0
    assert result["bm25"]["mrr@10"] == 1.0  # the abstract holds the query's unique token
