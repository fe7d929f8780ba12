"""The `rag` command line, run as a real subprocess against the session's real index."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT


def run(args, settings=None, timeout=120):
    env = dict(os.environ)
    if settings is not None:
        env["RAG_INDEX_DIR"] = str(settings.index_dir)
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout)


def test_ask_prints_a_cited_answer_and_json(real_settings):
    r = run(["ask", "How much does NexSpec speed up RL training?", "--json", "-k", "4"], real_settings)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert "4.5x" in d["text"] and d["citations"][0]["chunk_id"] == "poster:3613"
    assert len(d["contexts"]) == 4 and d["mode"] == "extractive" and d["refused"] is False
    r = run(["ask", "Which paper won the MLSys 2026 Best Paper award?"], real_settings)
    assert r.returncode == 0 and "BLASST" in r.stdout and "Sources:" in r.stdout and "[1]" in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["ask", ""], "question is empty"),
    (["ask", "   "], "question is empty"),
    (["ask", "hi", "--bogus"], "unrecognized arguments"),
    (["ask", "hi", "-k", "0"], "-k must be between"),
    (["ask"], "required"),
    ([], "required"),
])
def test_bad_input_gives_one_line_error_and_nonzero_exit(real_settings, args, needle):
    r = run(args, real_settings)
    assert r.returncode != 0
    assert needle in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("sub", ["build", "ask", "config"])
def test_help(sub):
    r = run([sub, "--help"])
    assert r.returncode == 0 and "usage: rag" in r.stdout


def test_build_is_a_no_op_when_fresh_and_config_reports_state(real_settings):
    r = run(["build"], real_settings)
    assert r.returncode == 0 and "up to date" in r.stdout
    r = run(["config"], real_settings)
    assert r.returncode == 0 and "extractive" in r.stdout and "up to date" in r.stdout


def test_corrupt_index_is_reported_not_answered(real_settings, tmp_path):
    import shutil

    broken = tmp_path / "index"
    shutil.copytree(real_settings.index_dir, broken)
    (broken / "vectors.faiss").write_bytes(b"garbage")
    env = dict(os.environ, RAG_INDEX_DIR=str(broken))
    r = subprocess.run([sys.executable, "-m", "rag", "ask", "What does OPKV do?"], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 1 and "rag build --force" in r.stderr and "Traceback" not in r.stderr


def test_import_rag_stays_light():
    code = ("import sys, rag; heavy = [m for m in ('torch', 'faiss', 'sentence_transformers', 'openai', 'gradio', "
            "'ragas', 'llama_index') if m in sys.modules]; print(heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "[]"


def test_help_describes_the_collection_of_the_corpus_folder(tmp_path, monkeypatch):
    from rag.cli import build_parser

    assert "Cited answers about the MLSys 2026 conference" in build_parser().format_help()
    (tmp_path / "collection.toml").write_text('name = "Reading"\ndescription = "my reading notes"\n')
    monkeypatch.setenv("RAG_CORPUS_DIR", str(tmp_path))
    assert "Cited answers about my reading notes." in build_parser().format_help()
