"""Settings read `RAG_<FIELD>` from the environment as pydantic-settings did: kwargs > environment > defaults,
converted and bounded as pydantic's lax mode did."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rag.config import Settings
from rag.settings_model import SettingsError

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


def test_values_are_converted_as_pydantic_did(monkeypatch):
    for name, value in {"RAG_LOCAL_LLM": "yes", "RAG_K": " 12 ", "RAG_LLM_TIMEOUT": "1e2", "RAG_DENSE_WEIGHT": "1"}.items():
        monkeypatch.setenv(name, value)
    s = Settings(min_support=1, llm_max_tokens=64.0)
    assert (s.local_llm, s.k, s.llm_timeout, s.dense_weight, s.min_support, s.llm_max_tokens) == (True, 12, 100.0, 1.0,
                                                                                                 1.0, 64)
    assert type(s.dense_weight) is float and type(s.llm_max_tokens) is int
    assert s.model_dump(mode="json")["index_dir"] == str(s.index_dir)


@pytest.mark.parametrize("name, value", [("RAG_K", "x"), ("RAG_K", "0"), ("RAG_K", "51"), ("RAG_K", "4.5"),
                                         ("RAG_MODE", "bogus"), ("RAG_LOCAL_LLM", "maybe"), ("RAG_LOCAL_LLM", ""),
                                         ("RAG_LLM_TIMEOUT", "0"), ("RAG_MIN_SUPPORT", "1.5")])
def test_an_invalid_environment_value_is_an_error(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name.lower().removeprefix("rag_")):
        Settings()


@pytest.mark.parametrize("values", [{"llm_model": 5}, {"index_dir": 5}, {"dense_weight": "abc"}])
def test_an_invalid_argument_is_an_error(values):
    with pytest.raises(SettingsError):
        Settings(**values)


def test_settings_import_neither_pydantic_nor_pydantic_settings():
    code = "import sys, rag.config; rag.config.Settings(); print(sorted(m for m in sys.modules if 'pydantic' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
