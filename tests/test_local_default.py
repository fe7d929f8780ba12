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


class _ModelsHandler:
    """A loopback server that only answers GET /v1/models, like a ready llama.cpp server."""

    def __init__(self, model: str) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        body = json.dumps({"data": [{"id": model}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200 if self.path == "/v1/models" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_running_serve_llm_is_found_and_used_without_starting_a_server(monkeypatch, tmp_path):
    import os

    from rag import serve

    fake = _ModelsHandler(MODEL_NAME)
    try:
        server = serve.LocalServer(None, fake.base_url, MODEL_NAME, tmp_path / "log")
        announced = serve._announce(tmp_path, server)
        monkeypatch.setattr(serve, "start_server", lambda **kw: pytest.fail("a server was started"))
        found = serve.managed_server(tmp_path)
        assert isinstance(found, serve.SharedServer) and found.base_url == fake.base_url and found.pid == os.getpid()
        monkeypatch.setattr(llm, "local_model_available", lambda: True)
        st = llm.llm_status(Settings(cache_dir=tmp_path, local_llm=True))
        assert st.local and st.base_url == fake.base_url and "rag serve-llm" in st.reason
        assert llm.endpoint(Settings(cache_dir=tmp_path)) == llm.Endpoint(fake.base_url, "local", MODEL_NAME)
        assert serve.shared_server(tmp_path, "another-model") is None  # a server of another model is not ours
        serve._withdraw(announced)
        assert not announced.exists() and serve.shared_server(tmp_path, MODEL_NAME) is None
    finally:
        fake.close()


def test_a_stale_announcement_is_ignored(tmp_path):
    import json

    from rag import serve

    (tmp_path / serve.SHARED_FILE).write_text(json.dumps({"pid": 2 ** 22 + 7, "base_url": "http://127.0.0.1:9/v1",
                                                          "model": MODEL_NAME}))  # no such process
    assert serve.shared_server(tmp_path, MODEL_NAME) is None
    (tmp_path / serve.SHARED_FILE).write_text("{not json")
    assert serve.shared_server(tmp_path, MODEL_NAME) is None
