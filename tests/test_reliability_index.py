"""Reliability 3: index builds that race or die, with real `rag build --force` processes over the tiny corpus.

tests/test_index.py covers a missing, corrupt or stale index, a manifest that disagrees, and a failed build that
keeps the old index. Here: two builds at once (the FileLock in rag/index.py serialises them), and a build
SIGKILLed while it writes its temporary folder (the old index still loads and answers; the leftover folder does
not break the next build).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT
from rag.api import ask
from rag.index import MANIFEST_FILE, load_index, read_manifest

pytestmark = pytest.mark.slow


def _env(settings) -> dict:
    env = dict(os.environ, RAG_CORPUS_DIR=str(settings.corpus_dir), RAG_INDEX_DIR=str(settings.index_dir),
               RAG_CACHE_DIR=str(settings.cache_dir), RAG_MODE="extractive")
    env.pop("OPENAI_BASE_URL", None), env.pop("OPENAI_API_KEY", None)
    return env


def _build(settings, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rag", "-v", "build", "--force", "--quiet"], env=_env(settings),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _leftovers(settings) -> list[str]:
    parent, name = settings.index_dir.parent, settings.index_dir.name
    return sorted(p.name for p in parent.iterdir() if p.name.startswith((f".{name}.tmp-", f".{name}.old-")))


def _answers(settings) -> None:
    a = ask("How much does FooServe cut latency?", settings=settings)
    assert not a.refused and a.citations[0].chunk_id == "poster:1", a.text


class _Watcher(threading.Thread):
    """Polls the index's parent folder: the most temporary build folders that existed at one moment."""

    def __init__(self, settings) -> None:
        super().__init__(daemon=True)
        self.settings, self.peak, self.stop = settings, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, sum(1 for n in _leftovers(self.settings) if ".tmp-" in n))
            except OSError:
                pass
            time.sleep(0.002)


def test_two_builds_at_once_are_serialised_and_both_succeed(tiny_settings):
    watcher = _Watcher(tiny_settings)
    watcher.start()
    procs = [_build(tiny_settings) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    watcher.stop.set()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
        assert out.startswith("Built index ") and "Traceback" not in err
    assert watcher.peak == 1, "two builds wrote their temporary folders at the same time"
    index = load_index(tiny_settings)  # valid afterwards: every file matches the manifest
    assert len(index.chunks) == read_manifest(tiny_settings.index_dir)["chunk_count"] > 0
    assert _leftovers(tiny_settings) == []
    _answers(tiny_settings)


def _kill_while_writing(settings, attempts: int = 4) -> str:
    """Start a build and SIGKILL it the moment its temporary folder appears; returns the folder's name."""
    for _ in range(attempts):
        before = set(_leftovers(settings))
        proc = _build(settings)
        tmp_name = f".{settings.index_dir.name}.tmp-{proc.pid}"
        deadline = time.monotonic() + 240
        while proc.poll() is None and time.monotonic() < deadline:
            if (settings.index_dir.parent / tmp_name).exists():
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.001)
        proc.communicate(timeout=60)
        if proc.returncode == -signal.SIGKILL and tmp_name in set(_leftovers(settings)) - before:
            return tmp_name
    pytest.skip("the build finished before it could be killed mid-write")


def test_build_killed_mid_write_keeps_the_old_index_and_the_next_build_works(tiny_settings):
    first = _build(tiny_settings)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    manifest_before = (tiny_settings.index_dir / MANIFEST_FILE).read_text()

    leftover = _kill_while_writing(tiny_settings)
    # The half-written folder is left behind, but the published index is untouched and answers.
    assert (tiny_settings.index_dir / MANIFEST_FILE).read_text() == manifest_before
    assert load_index(tiny_settings).chunks
    _answers(tiny_settings)

    # The killed process held the build lock: the kernel released it, so the next build neither waits nor fails.
    t = time.monotonic()
    nxt = _build(tiny_settings)
    out, err = nxt.communicate(timeout=300)
    assert nxt.returncode == 0 and out.startswith("Built index "), err[-2000:]
    assert time.monotonic() - t < 120
    assert load_index(tiny_settings).chunks
    assert leftover not in _leftovers(tiny_settings)  # the next build, holding the lock, removed it
    _answers(tiny_settings)


def test_build_killed_before_writing_changes_nothing(tiny_settings):
    first = _build(tiny_settings)
    assert first.wait(timeout=300) == 0
    manifest_before = (tiny_settings.index_dir / MANIFEST_FILE).read_text()
    proc = _build(tiny_settings)
    time.sleep(0.1)  # still importing: a forced build of the tiny corpus takes well under a second in all
    if proc.poll() is not None:
        pytest.skip("the build finished before it could be killed")
    proc.kill()
    proc.communicate(timeout=60)
    assert (tiny_settings.index_dir / MANIFEST_FILE).read_text() == manifest_before
    assert _leftovers(tiny_settings) == []
    _answers(tiny_settings)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_chat_page_names_the_fix_for_a_corrupt_index(tiny_settings):
    from rag.api import build_index
    from rag.embed import embedder_for
    from rag.index import FAISS_FILE
    from ui.app import make_handlers

    # Built by the page's own embedder: an index from another embedder is stale and rebuilt, never "corrupt".
    build_index(tiny_settings, embedder=embedder_for(tiny_settings), progress=False)
    faiss_file = tiny_settings.index_dir / FAISS_FILE
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])  # truncated
    respond, _, _ = make_handlers(tiny_settings)
    out = list(respond("What does FooServe do?", 5, "extractive", None))[-1][0][-1]["content"]
    assert "The search index can’t be used." in out and "rag build --force" in out
    assert "Something went wrong" not in out
