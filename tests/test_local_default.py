"""Which answerer `auto` picks with no endpoint configured, and how a local server that cannot start is handled."""
from __future__ import annotations

import pytest

from rag import llm
from rag.config import Settings
from rag.local_model import MODEL_NAME


@pytest.fixture(autouse=True)
def no_endpoint(monkeypatch):
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize("installed, enabled, mode, expected", [
    (True, True, "auto", "llm"),
    (True, True, "llm", "llm"),
    (True, True, "extractive", "extractive"),
    (True, False, "auto", "extractive"),
    (False, True, "auto", "extractive"),
    (False, True, "llm", "extractive"),
])
def test_auto_picks_the_local_model_only_when_installed_and_enabled(monkeypatch, installed, enabled, mode, expected):
    monkeypatch.setattr(llm, "local_model_available", lambda: installed)
    st = llm.llm_status(Settings(local_llm=enabled), mode)
    assert st.mode == expected and st.local == (expected == "llm")
    if st.local:
        assert st.model == MODEL_NAME and "local model is installed" in st.reason
    elif mode != "extractive":
        assert ("turned off (RAG_LOCAL_LLM=0)" if not enabled else "not installed") in st.reason


def test_a_configured_endpoint_wins_over_the_local_model(monkeypatch):
    monkeypatch.setattr(llm, "local_model_available", lambda: True)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    st = llm.llm_status(Settings(local_llm=True, llm_model="m"))
    assert (st.mode, st.model, st.local) == ("llm", "m", False)
    assert llm.endpoint(Settings(llm_model="m")) == llm.Endpoint("http://127.0.0.1:9/v1", "not-needed", "m")


def test_a_local_server_that_cannot_start_is_an_llm_error(monkeypatch):
    from rag import serve

    def broken(cache_dir, threads=0):
        raise RuntimeError("LLM server exited with code 1 before it was ready; last lines of x:\nboom")

    monkeypatch.setattr(serve, "managed_server", broken)
    with pytest.raises(llm.LLMError, match="could not start .*exited with code 1"):
        llm.stream([{"role": "user", "content": "hi"}], Settings())
