"""Settings read `RAG_<FIELD>` from the environment as pydantic-settings did: kwargs > environment > defaults."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_environment_overrides_defaults_and_keywords_override_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_K", "7")
    monkeypatch.setenv("RAG_LOCAL_LLM", "0")
    monkeypatch.setenv("rag_index_dir", str(tmp_path))  # any case, as pydantic-settings matched it
    monkeypatch.setenv("RAG_NOT_A_FIELD", "x")
    s = Settings()
    assert (s.k, s.local_llm, s.index_dir) == (7, False, tmp_path)
    assert Settings(k=3).k == 3
    assert s.model_copy(update={"k": 4}).k == 4


@pytest.mark.parametrize("name, value", [("RAG_K", "x"), ("RAG_K", "0"), ("RAG_MODE", "bogus")])
def test_an_invalid_environment_value_is_an_error(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(pydantic.ValidationError):
        Settings()


def test_settings_do_not_import_pydantic_settings():
    code = "import sys, rag.config; rag.config.Settings(); print('pydantic_settings' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
