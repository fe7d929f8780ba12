"""A scripted OpenAI-compatible endpoint on a real loopback socket, for fault and grounding tests.

Behaviours (set `server.behaviour`):
  quote        answers with the first sentence of source [1], cited [1]  (a grounded answer)
  hallucinate  cites [1] for a claim with a number and a name no source has
  nocite       a plausible answer with no markers and no support
  badmarker    cites only [9], a source that does not exist
  refuse       the fixed refusal sentence
  inject       obeys nothing; returns the quoted answer (used to inspect the prompt)
  http500 / http429 / garbage / empty / cut / hang   faults
"""
from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _chunk(content: str | None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    body = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def first_source_sentence(prompt: str) -> str:
    """The first sentence of source [1]'s text in a rendered answer prompt."""
    block = prompt.split("[1] ", 1)[1].split("\n\n[2]", 1)[0]
    lines = [ln for ln in block.splitlines()[1:] if not ln.startswith(("Authors:", "Institutions:"))]
    text = " ".join(lines)
    return re.split(r"(?<=[.!?])\s+", text.strip())[0].rstrip(".")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:  # noqa: N802
        srv = self.server.owner
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        srv.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        b = srv.behaviour
        if b in ("http500", "http429"):
            payload = json.dumps({"error": {"message": "scripted failure"}}).encode()
            self.send_response(500 if b == "http500" else 429)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if b == "hang":
            time.sleep(srv.hang_seconds)
            self.close_connection = True
            return
        prompt = body["messages"][-1]["content"]
        text = srv.reply_for(prompt)
        if not body.get("stream"):
            payload = {"id": "x", "object": "chat.completion", "created": 0, "model": "fake",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
            if b == "garbage":
                raw = b"<html>not json"
            else:
                raw = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        if b == "garbage":
            self.wfile.write(b"data: {not json\n\n")
            return
        words = text.split(" ") if text else []
        for i, w in enumerate(words):
            if b == "cut" and i == len(words) // 2:
                self.wfile.flush()
                self.close_connection = True
                return  # connection closes mid-answer, with no finish_reason and no [DONE]
            self.wfile.write(_chunk(w + (" " if i < len(words) - 1 else "")))
            self.wfile.flush()
        self.wfile.write(_chunk(None, "stop") + b"data: [DONE]\n\n")
        self.close_connection = True


class FakeLLM:
    """The scripted server; `base_url` is what OPENAI_BASE_URL should be set to."""

    def __init__(self) -> None:
        self.behaviour = "quote"
        self.hang_seconds = 10.0
        self.requests: list[dict] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def reply_for(self, prompt: str) -> str:
        """The completion text for the current behaviour."""
        b = self.behaviour
        if b in ("quote", "inject", "cut"):
            return f"{first_source_sentence(prompt)} [1]." if "[1] " in prompt else "Plain reply."
        if b == "hallucinate":
            return "The Zorblax-9 system reaches a 97.3× speedup on TPUv9 pods [1]. It was built by Initech [1]."
        if b == "nocite":
            return "Zorblax-9 reaches a 97.3× speedup on TPUv9 pods, according to Initech engineers."
        if b == "badmarker":
            return f"{first_source_sentence(prompt)} [9]."
        if b == "refuse":
            return "The documents don't answer this question."
        if b in ("yes", "no"):  # a deciding model's one-word verdict
            return b
        return ""  # empty

    def close(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()


def refused_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(server, monkeypatch, key: str) -> Iterator:
    """Point OPENAI_BASE_URL and OPENAI_API_KEY at a loopback server for one test; close it afterwards."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    try:
        yield server
    finally:
        server.close()
