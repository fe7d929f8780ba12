"""Retrieval: score fusion, system-name matching, the fused-vs-single-retriever gate on the gold set, and
single-threaded query encoding."""
import json
import shutil

import numpy as np
import pytest

from rag.config import Settings
from rag.lexicon import is_ordinary_word as _is_ordinary_word
from rag.retrieve import Retriever, rrf_fuse, top_positions, zscore_fuse, zscores

# --- pure fusion functions ----------------------------------------------------------------------------------


def test_zscores_are_standard_scores_and_constant_input_gives_zeros():
    np.testing.assert_allclose(zscores(np.array([1.0, 2.0, 3.0])), [-1.224744871, 0.0, 1.224744871], atol=1e-9)
    assert zscores(np.array([4.0, 4.0, 4.0])).tolist() == [0.0, 0.0, 0.0]
    assert zscores(np.array([])).tolist() == []


def test_zscores_treat_missing_scores_as_the_lowest():
    z = zscores(np.array([0.2, -np.inf, 0.6]))
    np.testing.assert_allclose(z, zscores(np.array([0.2, 0.2, 0.6])))
    assert np.isfinite(z).all()


def test_zscore_fuse_lets_a_sharp_lexical_peak_win_where_rank_fusion_does_not():
    # 20 chunks; BM25 finds one rare term in chunk 0 (and a weak match in chunk 1); dense barely separates them
    # and puts chunk 0 only 15th. Rank fusion counts that 15th place as much as BM25's decisive first place.
    bm25 = np.zeros(20)
    bm25[0], bm25[1] = 10.0, 1.0
    dense = np.linspace(0.2, 0.4, 20)[::-1].copy()
    dense[0], dense[1] = 0.25, 0.6
    fused = zscore_fuse([bm25, dense], [1.0, 1.0])
    assert np.argsort(-fused, kind="stable")[:4].tolist() == [0, 1, 2, 3]
    dense_ranking = np.argsort(-dense, kind="stable").tolist()
    assert dense_ranking.index(0) == 14
    rrf = rrf_fuse([[0, 1], dense_ranking], [1.0, 1.0], k=60)
    assert sorted(rrf, key=lambda d: (-rrf[d], d))[:2] == [1, 0]


def test_zscore_fuse_lets_dense_decide_when_bm25_is_flat():
    bm25 = np.array([3.0, 2.9, 2.8, 0.0, 0.0])
    dense = np.array([0.30, 0.50, 0.45, 0.20, 0.25])
    assert np.argsort(-zscore_fuse([bm25, dense], [1.0, 1.0]), kind="stable").tolist() == [1, 2, 0, 4, 3]


def test_zscore_fuse_is_a_weighted_mean_and_skips_zero_weights():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 2.0])
    np.testing.assert_allclose(zscore_fuse([a, b], [3.0, 1.0]), 0.75 * zscores(a) + 0.25 * zscores(b))
    np.testing.assert_allclose(zscore_fuse([a, b], [2.0, 0.0]), zscores(a))
    assert zscore_fuse([a, b], [0.0, 0.0]).tolist() == [0.0, 0.0, 0.0]
    assert zscore_fuse([], []).tolist() == []


def test_top_positions_orders_by_score_then_position():
    s = np.array([0.5, 0.9, 0.5, 0.0, -np.inf])
    assert top_positions(s, 10) == [1, 0, 2, 3]
    assert top_positions(s, 2) == [1, 0]
    assert top_positions(s, 10, positive_only=True) == [1, 0, 2]
    assert top_positions(s, 0) == []


def test_ordinary_word_names_need_their_own_capitalisation():
    assert _is_ordinary_word("SHIP", {"ship", "cach"})
    assert _is_ordinary_word("BEAM", {"beam"})
    assert not _is_ordinary_word("SHIP", {"cach"})  # the corpus never says "ship": any case counts
    assert not _is_ordinary_word("NodeSweep", {"node", "sweep"})
    assert not _is_ordinary_word("FP8-Flow-MoE", {"fp8-flow-mo"})
    assert not _is_ordinary_word("fabric-lib", {"fabric"})


# --- a tiny real index (hash embedder, no model) ------------------------------------------------------------

POSTERS = {
    "count": 3,
    "results": [
        {"id": 1, "name": "SHIP: Moving KV Caches Between Nodes", "abstract": "SHIP moves KV caches between GPU nodes "
         "for disaggregated serving and cuts transfer time by 40\\%.", "authors": [{"fullname": "Ann Bee",
         "institution": "Acme"}], "paper_url": "https://openreview.net/forum?id=ship"},
        {"id": 2, "name": "FooServe: Fast Serving of Foo Models", "abstract": "We ship FooServe, a serving system that "
         "reaches 2.5$\\times$ throughput on A100 GPUs.", "authors": [{"fullname": "Cy Dee", "institution": "Bigco"}],
         "paper_url": "https://openreview.net/forum?id=foo"},
        {"id": 3, "name": "BarTrain: Training Bars at Scale", "abstract": "BarTrain trains bar models on 1024 TPUs and "
         "improves goodput by 12\\%.", "authors": [{"fullname": "Ed Eff", "institution": "Uni"}],
         "paper_url": "https://openreview.net/forum?id=bar"},
    ],
}


@pytest.fixture
def tiny_retriever(tiny_corpus, tmp_path, hash_embedder):
    from rag.index import build_index, load_index

    (tiny_corpus / "posters.json").write_text(json.dumps(POSTERS))
    settings = Settings(corpus_dir=tiny_corpus, index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    build_index(settings, hash_embedder, progress=False)
    return Retriever(load_index(settings)), hash_embedder


def _ids(retriever, positions):
    return [retriever.chunks[i].id for i in positions]


def test_a_name_that_is_also_a_word_matches_only_in_its_own_case(tiny_retriever):
    r, _ = tiny_retriever
    assert "poster:1" in _ids(r, r.named_chunks("What does SHIP move between nodes?"))
    assert "poster:1" not in _ids(r, r.named_chunks("When did they ship FooServe?"))
    assert "poster:2" in _ids(r, r.named_chunks("when did they ship fooserve?"))  # coined names: any case


def test_search_puts_the_named_chunk_first_and_scores_descend(tiny_retriever):
    r, emb = tiny_retriever
    for fusion in ("zscore", "rrf"):
        q = "How much throughput does BarTrain reach?"
        hits = r.tuned(fusion=fusion).search(q, emb.encode([q])[0], 3)
        assert len(hits) == 3 and hits[0].chunk.id == "poster:3", fusion
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    with pytest.raises(ValueError, match="unknown fusion"):
        r.tuned(fusion="combmnz")


def test_search_takes_its_tuning_from_the_retriever(tiny_retriever):
    r, emb = tiny_retriever
    q = "Which posters use TPUs?"
    hits = r.search(q, emb.encode([q])[0], 2)
    assert [h.chunk.id for h in hits][0] == "poster:3"
    assert hits[0].bm25_rank == 1
    assert r.tuned() is r and r.tuned(name_boost=1.0) is r  # same parameters: the same retriever
    other = r.tuned(bm25_weight=0.0)
    assert other.params.bm25_weight == 0.0 and r.params.bm25_weight == 1.0 and other.chunks is r.chunks


def test_sentence_scores_match_a_direct_maximum(tiny_retriever):
    r, emb = tiny_retriever
    qvec = emb.encode(["serving throughput on GPUs"])[0]
    ix = r.index
    sims = ix.sentence_vectors.astype(np.float32) @ qvec
    expected = np.array([sims[ix.sentence_owner == i].max() for i in range(len(r.chunks))])
    np.testing.assert_allclose(r.sentence_scores(qvec), expected, rtol=1e-5, atol=1e-6)


# --- the gold set on the real index ---------------------------------------------------------------------------


def test_fused_retrieval_beats_every_single_retriever_on_the_gold_set(real_settings):
    """The hybrid must be at least as good as the best single retriever (R@5 and MRR@10) on eval/gold.jsonl."""
    from eval.gold import load_gold
    from eval.retrieval import rankings, summarize
    from eval.run import CachedEmbedder, _normalized
    from rag.pipeline import Pipeline
    from rag.embed import default_embedder

    items = load_gold()
    questions = [_normalized(i["user_input"], real_settings) for i in items]
    embedder = CachedEmbedder(default_embedder(real_settings.cache_dir, real_settings.index.embed_model),
                              [q for q in questions if q])
    retriever = Pipeline(real_settings, embedder).corpus.retriever
    ranked = [rankings(retriever, q, embedder.encode([q])[0], real_settings) for q in questions if q]
    relevant = [i["reference_context_ids"] for i, q in zip(items, questions) if q]
    s = summarize(ranked, relevant)
    best_single_r5 = max(s["bm25"]["recall@5"], s["dense"]["recall@5"])
    best_single_mrr = max(s["bm25"]["mrr@10"], s["dense"]["mrr@10"])
    assert s["fused"]["recall@5"] >= best_single_r5, s
    assert s["fused"]["mrr@10"] >= best_single_mrr, s


# --- query-time encoding on one torch thread -----------------------------------------------------------------


class _RecordingModel:
    def __init__(self):
        self.threads = []

    def encode(self, texts, **kw):
        import torch

        self.threads.append(torch.get_num_threads())
        return np.ones((len(texts), 4), dtype=np.float32)


@pytest.fixture
def two_torch_threads():
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield torch
    torch.set_num_threads(old)


def test_small_encodes_run_on_one_thread_and_batches_on_all(two_torch_threads):
    from rag.embed import SMALL_BATCH, SentenceTransformerEmbedder

    emb = object.__new__(SentenceTransformerEmbedder)
    emb._model = _RecordingModel()
    emb.encode(["one question"])
    emb.encode(["text"] * (SMALL_BATCH + 1), batch_size=64)
    assert emb._model.threads == [1, 2]
    assert two_torch_threads.get_num_threads() == 2


def test_overlapping_single_thread_sections_restore_the_count_once(two_torch_threads):
    from rag.embed import single_torch_thread

    torch = two_torch_threads
    a, b = single_torch_thread(), single_torch_thread()  # two threads' encodes, interleaved: A in, B in, A out, B out
    a.__enter__()
    b.__enter__()
    assert torch.get_num_threads() == 1
    a.__exit__(None, None, None)
    assert torch.get_num_threads() == 1  # B is still running
    b.__exit__(None, None, None)
    assert torch.get_num_threads() == 2  # a naive save/restore per call would leave 1 here
    with pytest.raises(RuntimeError), single_torch_thread():
        raise RuntimeError("encode failed")
    assert torch.get_num_threads() == 2
