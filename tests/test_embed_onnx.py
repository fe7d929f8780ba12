"""The ONNX Runtime embedder: same vectors as sentence-transformers, no torch on the query path, identity checks."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from rag.config import Settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- pure parts ------------------------------------------------------------------------------------------------


def test_mean_pooling_ignores_padding_and_normalises():
    from rag.onnx_embed import mean_pool_normalize

    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(2, 5, 4)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    padded = hidden.copy()
    padded[0, 3:] = 1e6  # whatever the model outputs under padding must not count
    out = mean_pool_normalize(padded, mask)
    expected = hidden[0, :3].mean(axis=0)
    np.testing.assert_allclose(out[0], expected / np.linalg.norm(expected), rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)


def test_model_hash_sidecar_is_trusted_only_while_size_and_mtime_match(tmp_path):
    from rag.config import file_sha256
    from rag.onnx_embed import model_sha256

    f = tmp_path / "model-fp32.onnx"
    f.write_bytes(b"first")
    assert model_sha256(f) == file_sha256(f)
    assert json.loads(f.with_suffix(".json").read_text())["sha256"] == file_sha256(f)
    f.write_bytes(b"second, longer")  # a replaced model file must not keep the old hash
    assert model_sha256(f) == file_sha256(f)


class _IdentityEmbedder:
    """The test embedder with an identity, as the real ones have."""

    def __init__(self, inner, sha: str) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        self.identity = {"name": inner.name, "runtime": "onnx", "precision": "fp32", "model_sha256": sha}

    def encode(self, texts, batch_size=32):
        return self.inner.encode(texts, batch_size)


def test_an_index_built_by_another_model_file_is_stale_and_rebuilt(tiny_settings, hash_embedder):
    from rag.api import build_index
    from rag.pipeline import Pipeline
    from rag.index import IndexStaleError, check_fresh, read_manifest

    build_index(tiny_settings, embedder=_IdentityEmbedder(hash_embedder, "aaa"), progress=False)
    manifest = read_manifest(tiny_settings.index_dir)
    assert manifest["embedder"]["model_sha256"] == "aaa" and manifest["embedder"]["runtime"] == "onnx"
    check_fresh(manifest, tiny_settings, _IdentityEmbedder(hash_embedder, "aaa"))
    with pytest.raises(IndexStaleError, match="model_sha256 'aaa' → now 'bbb'"):
        check_fresh(manifest, tiny_settings, _IdentityEmbedder(hash_embedder, "bbb"))
    Pipeline(tiny_settings, _IdentityEmbedder(hash_embedder, "aaa")).reload()  # cached in process
    Pipeline(tiny_settings, _IdentityEmbedder(hash_embedder, "bbb")).reload()  # not served from the cache: rebuilt
    assert read_manifest(tiny_settings.index_dir)["embedder"]["model_sha256"] == "bbb"


def test_runtime_and_precision_are_part_of_the_fingerprint(tiny_settings):
    from rag.config import index_fingerprint

    onnx = index_fingerprint(tiny_settings)
    assert index_fingerprint(tiny_settings.updated(embed_runtime="torch")) != onnx
    assert index_fingerprint(tiny_settings.updated(embed_precision="int8")) != onnx


def test_questions_are_encoded_on_the_callers_thread_unless_the_embedder_is_thread_bound(hash_embedder):
    from rag.embed import encode_query

    class Recording:
        name, dimension = "rec", 64

        def __init__(self, bound: bool) -> None:
            self.thread_bound, self.threads = bound, []

        def encode(self, texts, batch_size=32):
            self.threads.append(threading.current_thread().name)
            return hash_embedder.encode(texts)

    free, bound = Recording(False), Recording(True)
    encode_query(free, ["q"])
    encode_query(bound, ["q"])
    assert free.threads == [threading.current_thread().name]
    assert bound.threads[0].startswith("rag-encode")


# --- the real model -------------------------------------------------------------------------------------------


def _texts(settings: Settings, n_sentences: int = 400) -> list[str]:
    """Corpus sentences (spread over the corpus) and gold questions: 500 texts, long chunks included."""
    from eval.gold import load_gold
    from rag.corpus import load_corpus
    from rag.sentences import chunk_sentences

    chunks = load_corpus(settings.corpus_dir)
    sentences = [s for c in chunks for s in chunk_sentences(c)]
    step = max(1, len(sentences) // n_sentences)
    picked = sentences[::step][:n_sentences - 20]
    picked += sorted((c.embed_text for c in chunks), key=len)[-20:]  # past the 256-token truncation
    questions = [i["user_input"] for i in load_gold()]
    return picked + questions[: 500 - len(picked)]


@pytest.mark.slow
def test_onnx_vectors_match_sentence_transformers():
    from rag.embed import default_embedder

    settings = Settings()
    texts = _texts(settings)
    assert len(texts) == 500
    onnx = default_embedder(settings.cache_dir, settings.index.embed_model, "onnx", "fp32")
    torch = default_embedder(settings.cache_dir, settings.index.embed_model, "torch", "fp32")
    a, b = onnx.encode(texts), torch.encode(texts, 32)
    cos = (a * b).sum(axis=1)
    assert cos.min() >= 0.9999, (cos.min(), texts[int(cos.argmin())])
    one = onnx.encode([texts[-1]])[0]  # a question alone, as ask() embeds it, equals its row in a batch
    assert float(one @ a[-1]) >= 0.9999


@pytest.mark.slow
def test_the_external_data_copy_gives_bit_identical_vectors(tmp_path):
    import onnxruntime as ort

    from rag.embed import default_embedder
    from rag.onnx_embed import EXTERNAL_DATA, external_data_copy

    settings = Settings()
    embedder = default_embedder(settings.cache_dir, settings.index.embed_model, "onnx", "fp32")
    texts = _texts(settings)[:200]
    via_copy = embedder.encode(texts)  # the embedder's session loads the external-data copy
    source = tmp_path / "model.onnx"
    source.symlink_to(embedder.model_file)
    copy = external_data_copy(source, embedder.identity["model_sha256"])
    assert (copy.parent / EXTERNAL_DATA).stat().st_size > 80_000_000 and copy.stat().st_size < 1_000_000
    assert external_data_copy(source, embedder.identity["model_sha256"]) == copy  # made once
    loaded = embedder.session
    embedder._session_or_error = ort.InferenceSession(str(embedder.model_file), providers=["CPUExecutionProvider"])
    try:
        assert np.array_equal(embedder.encode(texts), via_copy)  # the source file itself
    finally:
        embedder._session_or_error = loaded


@pytest.mark.slow
def test_answering_in_a_fresh_interpreter_imports_no_torch(real_settings):
    code = """
import json, sys
import rag
a = rag.ask("What does OPKV do?", mode="extractive")
heavy = sorted(m for m in ("torch", "sentence_transformers", "transformers", "sklearn", "scipy", "bm25s", "faiss",
                           ) if m in sys.modules)
print(json.dumps({"heavy": heavy, "refused": a.refused, "cited": len(a.citations), "onnx": "onnxruntime" in sys.modules}))
"""
    env = {**os.environ, "RAG_INDEX_DIR": str(real_settings.index_dir), "RAG_EMBED_RUNTIME": "onnx",
           "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    env.pop("OPENAI_BASE_URL", None)
    env.pop("OPENAI_API_KEY", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["heavy"] == [], out
    assert out["onnx"] and not out["refused"] and out["cited"] >= 1, out


@pytest.mark.slow
def test_a_process_that_exits_while_the_session_loads_exits_cleanly(real_settings):
    """The session is created on a thread; exiting right after creating the embedder must not abort."""
    code = "from rag.config import Settings; from rag.embed import embedder_for; embedder_for(Settings())"
    env = {**os.environ, "RAG_EMBED_RUNTIME": "onnx",
           "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
