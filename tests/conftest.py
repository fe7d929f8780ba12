"""Shared fixtures: a network guard, a fake embedder, a tiny corpus, and the real index built once per session."""
from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent
# Tests choose their LLM explicitly: "auto" with no endpoint means offline extractive here, not the embedded model
# (tests of that default build Settings(local_llm=True)). Inherited by the subprocesses tests start.
os.environ["RAG_LOCAL_LLM"] = "0"
pytest_plugins = ["llm_server"]  # tests/ is not a package: pytest puts tests/ itself on sys.path

_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    """Allow loopback and Unix sockets only: the suite must never need the network."""
    if self.family == socket.AF_UNIX:
        return _real_connect(self, address)
    host = address[0] if isinstance(address, tuple) else address
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host in ("localhost",)
    if not ok:
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail any outbound connection other than loopback."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


class HashEmbedder:
    """Deterministic bag-of-words embedder for fast unit tests (no model)."""

    name = "hash-test"
    dimension = 64

    def encode(self, texts, batch_size=32):
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


@pytest.fixture
def hash_embedder():
    return HashEmbedder()


TINY_POSTERS = {
    "count": 2,
    "results": [
        {"id": 1, "name": "FooServe: Fast Serving of Foo Models", "abstract": "FooServe cuts latency by 30\\% and reaches 2.5$\\times$ throughput on A100 GPUs.",
         "authors": [{"fullname": "Ada Lovelace", "institution": "Amazon"}, {"fullname": "", "institution": None}],
         "paper_url": "https://openreview.net/forum?id=foo"},
        {"id": 2, "name": "BarTrain: Training Bars at Scale", "abstract": "BarTrain trains bar models on 1024 TPUs. It improves goodput by 12\\%.",
         "authors": [{"fullname": "Alan Turing", "institution": "University of Manchester"}],
         "paper_url": "https://openreview.net/forum?id=bar"},
    ],
}
TINY_PREVIEW = """Tiny Preview · history
What
FooConf 2026 was held in Springfield[1]. FooServe won the best poster award[2].
Perspectives
Alice Analyst
FooServe is a stopgap.
Evolution: New voice.
Sources
- [1] FooConf home page — web (2026-01-01)
- [2] Award announcement — web
"""
TINY_NOTES = """Tiny Notes
Summary notes on the FooConf posters.
1. Serving
FooServe: Fast Serving of Foo Models (Amazon). Cuts latency.
- Uses a new cache.
2. Training
BarTrain: Training Bars at Scale. Trains bars.
Cross-Cutting Themes
Serving is hot. FooServe leads.
"""
TINY_TWEETS = """Top Tweets
Excited to present FooServe at #FooConf!
#FooConf

BarTrain is out: https://t.co/abc
Most Popular Users

Someone
@someone
1M followers
"""


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    import json

    d = tmp_path / "corpus"
    d.mkdir()
    (d / "posters.json").write_text(json.dumps(TINY_POSTERS))
    (d / "research_preview.txt").write_text(TINY_PREVIEW)
    (d / "poster_notes.txt").write_text(TINY_NOTES)
    (d / "tweets.txt").write_text(TINY_TWEETS)
    return d


@pytest.fixture
def tiny_settings(tiny_corpus, tmp_path) -> Settings:
    return Settings(corpus_dir=tiny_corpus, index_dir=tmp_path / "index", cache_dir=ROOT / ".cache")


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory) -> Settings:
    """Settings over the real corpus with a session-private index folder, built once with the real MiniLM."""
    from rag.api import build_index

    settings = Settings(index_dir=tmp_path_factory.mktemp("real") / "index")
    build_index(settings, progress=False)
    return settings
