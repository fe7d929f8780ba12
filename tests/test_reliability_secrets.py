"""Reliability 5: the API key never appears in logs, exceptions, answers, CLI output or the chat page.

OPENAI_API_KEY is set to a distinctive value; ask() runs in LLM mode against working and failing loopback
endpoints (including one that echoes the Authorization header back in its error body, as real providers do),
the CLI runs with -v (and openai's own OPENAI_LOG=debug), and the chat page is queried with gradio_client.
Everything captured is searched for the key.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fake_llm import FakeLLM, refused_port

from conftest import ROOT
from rag import llm
from rag.api import ask, ask_stream

KEY = "sk-proj-SECRET-7f3a9c2e1b4d-do-not-log"
QUESTION = "How much does FooServe cut latency?"
LOGGERS = ["", "rag", "openai", "openai._base_client", "httpx", "httpcore", "httpx2", "httpcore2", "urllib3", "gradio",
           "uvicorn", "uvicorn.access"]


class EchoAuth401(BaseHTTPRequestHandler):
    """Rejects every call with 401 and quotes the Authorization header it got in the error message."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        msg = f"Incorrect API key provided: {self.headers.get('Authorization', '')}"
        body = json.dumps({"error": {"message": msg, "type": "invalid_request_error", "code": "invalid_api_key"}})
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())


@pytest.fixture
def echo401():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), EchoAuth401)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def fake():
    server = FakeLLM()
    yield server
    server.close()


@pytest.fixture
def debug_logs(caplog):
    """Every logger that could see a request, at DEBUG, captured."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _captured(caplog) -> str:
    """Log messages and any formatted exceptions."""
    out = []
    for r in caplog.records:
        out.append(r.getMessage())
        if r.exc_info:
            out.append("".join(traceback.format_exception(*r.exc_info)))
    return "\n".join(out)


def _endpoints(fake, echo401):
    """(label, base URL, FakeLLM behaviour or None): working and failing endpoints."""
    return [("working", fake.base_url, "quote"), ("http500", fake.base_url, "http500"),
            ("http429", fake.base_url, "http429"), ("garbage", fake.base_url, "garbage"),
            ("nocite", fake.base_url, "nocite"), ("echo401", echo401, None),
            ("refused", f"http://127.0.0.1:{refused_port()}/v1", None)]


def test_key_never_in_logs_answers_or_exceptions(tiny_settings, hash_embedder, fake, echo401, debug_logs,
                                                 monkeypatch):
    settings = tiny_settings.updated(llm_timeout=3.0, llm_max_retries=1)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    seen = []
    for label, url, behaviour in _endpoints(fake, echo401):
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        fake.behaviour = behaviour or "quote"
        a = ask(QUESTION, settings=settings, embedder=hash_embedder)
        seen.append((label, a.mode))
        blob = json.dumps(a.to_dict()) + repr(a)
        assert KEY not in blob, label
        streamed = list(ask_stream("and how much latency does it cut?", history=[("What is FooServe?", "A server [1].")],
                                   settings=settings,
                                   embedder=hash_embedder))  # follow-up: the non-stream rewrite call too
        assert KEY not in json.dumps(streamed[-1].to_dict()) + "".join(p for p in streamed if isinstance(p, str))
        for call in (lambda: llm.complete([{"role": "user", "content": "hi"}], settings),
                     lambda: list(llm.stream([{"role": "user", "content": "hi"}], settings))):
            try:
                call()
            except llm.LLMError as e:
                shown = str(e) + repr(e) + "".join(traceback.format_exception(e))
                assert KEY not in shown, label
    assert ("working", "llm") in seen and ("echo401", "extractive") in seen
    assert fake.requests and fake.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"  # the key was used
    logs = _captured(debug_logs)
    assert "HTTP Request" in logs or "Request options" in logs  # the HTTP client's debug logging was captured
    assert KEY not in logs


@pytest.mark.xfail(strict=True, reason="rag/llm.py passes OPENAI_BASE_URL to the openai client as given: a URL with "
                                       "user:password@ is logged in full by openai (DEBUG) and httpx (INFO). The CLI "
                                       "scrubs its own log output (rag/cli.py _Redact); library callers are not covered")
def test_credentials_inside_the_base_url_are_not_logged_by_the_library(tiny_settings, hash_embedder, echo401,
                                                                       debug_logs, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", echo401.replace("://", f"://user:{KEY}@"))
    ask(QUESTION, settings=tiny_settings, embedder=hash_embedder)
    assert KEY not in _captured(debug_logs)


# ------------------------------------------------------------------------------------------------------ the CLI

def _rag(args, settings, base_url, extra_env=None):
    env = dict(os.environ, RAG_INDEX_DIR=str(settings.index_dir), OPENAI_API_KEY=KEY, OPENAI_BASE_URL=base_url,
               RAG_LLM_TIMEOUT="5", **(extra_env or {}))
    r = subprocess.run([sys.executable, "-m", "rag", "-v", *args], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=240)
    return r


@pytest.mark.slow
def test_cli_output_and_verbose_logs_never_show_the_key(real_settings, fake, echo401):
    runs = [
        (["ask", "How much does NexSpec speed up RL training?"], echo401, {"OPENAI_LOG": "debug"}),
        (["ask", "--json", "How much does NexSpec speed up RL training?"], fake.base_url, {"OPENAI_LOG": "debug"}),
        (["config"], fake.base_url, None),
        # The key also inside the URL: httpx logs full URLs at INFO, which `-v` shows; the CLI scrubs them.
        (["ask", "What does OPKV do?"], echo401.replace("://", f"://user:{KEY}@"), None),
    ]
    for args, url, extra in runs:
        r = _rag(args, real_settings, url, extra)
        assert r.returncode == 0, r.stderr[-2000:]
        assert KEY not in r.stdout and KEY not in r.stderr, (args, url)
    assert fake.requests and fake.requests[-1]["headers"]["authorization"] == f"Bearer {KEY}"
    assert "HTTP Request: POST" in r.stderr  # -v really logged the requests that were scrubbed


# ------------------------------------------------------------------------------------------------ the chat page

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _content(result) -> str:
    content = result[0][-1]["content"]
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_chat_page_never_shows_the_key(real_settings, fake, echo401, debug_logs, monkeypatch):
    from gradio_client import Client

    from ui.app import CONCURRENCY, build_app

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    settings = real_settings.updated(llm_timeout=5.0)
    demo = build_app(settings=settings).queue(default_concurrency_limit=CONCURRENCY)
    demo.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True)
    try:
        page = Client(demo.local_url, verbose=False)
        shown = [_content(page.predict("How much does NexSpec speed up RL training?", 5, "llm", api_name="/ask"))]
        fake.behaviour = "http500"
        shown.append(_content(page.predict("What does OPKV do?", 5, "auto", api_name="/ask")))
        monkeypatch.setenv("OPENAI_BASE_URL", echo401)
        shown.append(_content(page.predict("and who wrote it?", 5, "llm", api_name="/ask")))
        import urllib.request

        with urllib.request.urlopen(demo.local_url) as r:  # noqa: S310 - loopback
            shown.append(r.read().decode())
    finally:
        demo.close()
    assert "rag-fn" in shown[0] and "HTTP 500" in shown[1] and "HTTP 401" in shown[2]
    assert all(KEY not in s for s in shown)
    assert KEY not in _captured(debug_logs)
