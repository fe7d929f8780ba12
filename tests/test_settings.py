"""Settings: four groups, the flat names users know (keywords and RAG_ variables), the endpoint from OPENAI_*."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from rag.config import FLAT, GROUPS, Settings, env_name
from rag.retrieve import SearchParams

KEY = "sk-test-0123456789abcdef"


def test_every_group_field_has_one_flat_name_and_the_groups_are_the_four_asked_for():
    assert set(GROUPS) == {"retrieval", "answer", "llm", "index"}
    assert sum(len(m.model_fields) for m in GROUPS.values()) == len(FLAT)


def test_flat_environment_variables_still_set_grouped_fields(monkeypatch):
    monkeypatch.setenv("RAG_K", "7")
    monkeypatch.setenv("RAG_LLM_TIMEOUT", "9.5")
    monkeypatch.setenv("RAG_FUSION", "rrf")
    monkeypatch.setenv("RAG_EMBED_PRECISION", "int8")
    s = Settings()
    assert (s.retrieval.k, s.llm.llm_timeout, s.retrieval.fusion, s.index.embed_precision) == (7, 9.5, "rrf", "int8")
    assert Settings(k=3).retrieval.k == 3  # a keyword beats the environment


def test_a_bad_value_from_the_environment_is_a_validation_error(monkeypatch):
    monkeypatch.setenv("RAG_K", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_flat_and_grouped_keywords_and_updated_copies():
    s = Settings(k=4, llm={"llm_timeout": 2.0}, index_dir="/tmp/somewhere")
    assert (s.retrieval.k, s.llm.llm_timeout, str(s.index_dir)) == (4, 2.0, "/tmp/somewhere")
    t = s.updated(candidates=80, llm_max_retries=0)
    assert (t.retrieval.candidates, t.llm.llm_max_retries, t.retrieval.k) == (80, 0, 4)
    assert s.retrieval.candidates == 40  # the original is unchanged
    with pytest.raises(ValidationError):
        s.updated(k=0)


def test_search_params_come_from_the_retrieval_group():
    p = SearchParams.from_settings(Settings(fusion="rrf", rrf_k=30, name_boost=0.5))
    assert (p.fusion, p.rrf_k, p.name_boost) == ("rrf", 30, 0.5)


def test_the_key_is_read_from_the_providers_variable_at_call_time_and_never_shown(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("RAG_API_KEY", KEY)  # not a name the key is read from
    s = Settings()
    assert s.llm.endpoint() == ("", "") and not s.llm.configured()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    assert s.llm.endpoint() == ("http://127.0.0.1:9/v1", KEY) and s.llm.configured()
    explicit = Settings(api_key="sk-given-by-code", base_url="http://host/v1")
    assert explicit.llm.endpoint() == ("http://host/v1", "sk-given-by-code")
    shown = repr(explicit) + str(explicit.model_dump(mode="json")) + str(explicit.by_group())
    assert "sk-given-by-code" not in shown and KEY not in shown
    assert env_name("api_key") == "OPENAI_API_KEY" and env_name("k") == "RAG_K"
