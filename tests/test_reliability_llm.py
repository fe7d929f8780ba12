"""Reliability 2: LLM endpoint faults not covered by tests/test_llm_mode.py.

test_llm_mode.py already runs ask() against tests/fake_llm.py for: connection refused, a request that hangs past
the timeout, HTTP 500 and 429 (retried), a stream cut mid-answer, an empty completion, a non-JSON first stream
event, and answers with no valid citations. Here a raw-socket server adds what an HTTP server library cannot
script: a server that accepts and never answers, one that closes every connection at once, a stream that stalls
just before the deadline (the HTTP client's timeout is per read, so this once ran to nearly twice the timeout),
malformed SSE JSON mid-stream, non-JSON 200 bodies for a non-stream call, and a reader abandoned mid-stream.
Every case must end in a grounded extractive answer with a note, within timeout + 1 s, and the next question
must be answered by the LLM again.
"""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from fake_llm import first_source_sentence, serving

from rag.api import ask, ask_stream

KEY = "sk-reliability-llm-0123456789"
QUESTION = "How much does NexSpec speed up RL training?"
TIMEOUT = 3.0
pytestmark = pytest.mark.slow


def _sse(content: str | None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    body = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "raw",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class RawLLM:
    """An OpenAI-compatible endpoint written on a bare socket, so that it can misbehave at any byte.

    Modes: quote (a grounded answer), silent (accepts, never reads or answers), close (accepts and closes at
    once), stall (streams, then stops sending shortly before the client's deadline and keeps the socket open),
    badsse (a malformed SSE event mid-stream), slow (one word every 0.2 s), and for non-stream calls
    nonjson / nochoices (a 200 whose body is not a completion).
    """

    def __init__(self) -> None:
        self.mode = "quote"
        self.connections = 0
        self.requests: list[dict] = []
        self.stall_at = TIMEOUT - 0.5  # seconds after the request arrives
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._srv = socket.socket()
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(16)
        self._srv.settimeout(0.2)
        self.base_url = f"http://127.0.0.1:{self._srv.getsockname()[1]}/v1"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._srv.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._socks.append(conn)
            threading.Thread(target=self._handle, args=(conn, self.mode), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> dict:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        while len(body) < length:
            body += conn.recv(65536)
        request = json.loads(body)
        self.requests.append(request)
        return request

    def _wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _handle(self, conn: socket.socket, mode: str) -> None:
        try:
            if mode == "silent":
                self._wait(60)
                return
            if mode == "close":
                conn.close()
                return
            request = self._read_request(conn)
            t0 = time.monotonic()
            if not request.get("stream"):
                body = {"quote": json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "raw",
                                             "choices": [{"index": 0, "finish_reason": "stop",
                                                          "message": {"role": "assistant", "content": "Plain reply."}}]}),
                        "nochoices": json.dumps({"id": "x", "object": "chat.completion", "choices": []}),
                        }.get(mode, "<html><body>502 Bad Gateway</body></html>").encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                return
            text = f"{first_source_sentence(request['messages'][-1]['content'])} [1]."
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
            words = text.split(" ")
            for i, w in enumerate(words):
                if mode == "stall" and time.monotonic() - t0 >= self.stall_at:
                    self._wait(60)  # headers and part of the answer sent; now silence, socket open
                    return
                if mode == "badsse" and i == len(words) // 2:
                    conn.sendall(b'data: {"id": "x", "choices": [{"delta": {"content": "oops"\n\n')
                conn.sendall(_sse(w + (" " if i < len(words) - 1 else "")))
                if mode in ("stall", "slow"):
                    self._wait(0.2)
            if mode == "stall":  # a short answer must still stall: repeat its last word until the deadline
                while time.monotonic() - t0 < self.stall_at:
                    conn.sendall(_sse(" and"))
                    self._wait(0.2)
                self._wait(60)
                return
            conn.sendall(_sse(None, "stop") + b"data: [DONE]\n\n")
        except (OSError, ConnectionError, ValueError, StopIteration):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        for s in self._socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self._srv.close()


@pytest.fixture
def raw(monkeypatch):
    with serving(RawLLM(), monkeypatch, KEY) as server:
        yield server


@pytest.fixture
def llm_settings(real_settings):
    return real_settings.updated(llm_timeout=TIMEOUT, llm_max_retries=2)


def _readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "llm-reader" and t.is_alive()]


def _wait_for_no_readers(seconds: float = 8.0) -> None:
    end = time.monotonic() + seconds
    while _readers() and time.monotonic() < end:
        time.sleep(0.05)
    assert not _readers(), "an abandoned LLM reader thread is still running"


def _assert_grounded_fallback(a, note: str) -> None:
    assert a.mode == "extractive" and not a.refused and a.citations and "4.5x" in a.text, a.notes
    assert any(note in n for n in a.notes), a.notes
    assert KEY not in json.dumps(a.to_dict())


def _next_question_uses_the_llm(raw: RawLLM, settings) -> None:
    raw.mode = "quote"
    a = ask(QUESTION, settings=settings)
    assert a.mode == "llm" and a.citations, a.notes


@pytest.mark.parametrize("mode,note,max_connections", [
    ("silent", "the LLM request timed out", 1),            # accepts, never reads, never answers
    ("close", "the LLM endpoint could not be reached", 3),  # accepts and hangs up at once: retried twice
])
def test_server_that_never_answers(raw, llm_settings, mode, note, max_connections):
    raw.mode = mode
    t = time.monotonic()
    a = ask(QUESTION, settings=llm_settings)
    assert time.monotonic() - t < TIMEOUT + 1.0
    _assert_grounded_fallback(a, note)
    assert 1 <= raw.connections <= max_connections
    _next_question_uses_the_llm(raw, llm_settings)


def test_stream_that_stalls_just_before_the_deadline_ends_within_the_timeout(raw, llm_settings):
    raw.mode = "stall"
    t = time.monotonic()
    a = ask(QUESTION, settings=llm_settings)
    elapsed = time.monotonic() - t
    assert elapsed < TIMEOUT + 1.0, elapsed
    _assert_grounded_fallback(a, "the LLM stream ran past the timeout")
    assert any("the LLM stopped before finishing" in u for u in a.unsupported)  # the partial text, kept aside
    raw.close()  # the server goes away: the abandoned reader notices and ends
    _wait_for_no_readers()


def test_malformed_sse_json_mid_stream(raw, llm_settings):
    raw.mode = "badsse"
    items = list(ask_stream(QUESTION, settings=llm_settings))
    a = items[-1]
    assert any(isinstance(i, str) for i in items[:-1])  # part of the answer had streamed before the bad event
    _assert_grounded_fallback(a, "The LLM failed (the LLM stream broke off")
    assert any("the LLM stopped before finishing" in u for u in a.unsupported)
    _next_question_uses_the_llm(raw, llm_settings)


@pytest.mark.parametrize("mode", ["nonjson", "nochoices"])
def test_non_stream_call_answered_with_a_200_that_is_not_a_completion(raw, llm_settings, mode):
    """Follow-ups are rewritten by a non-stream call; a 200 with an HTML or choice-less body must not break it."""
    raw.mode = mode
    history = [(QUESTION, "NexSpec reaches a 4.5x speedup [1].")]
    t = time.monotonic()
    a = ask("and how much faster is it?", history=history, settings=llm_settings)
    assert time.monotonic() - t < 2 * (TIMEOUT + 1.0)  # two calls: rewrite, then answer
    assert a.rewritten_question and "NexSpec" in a.rewritten_question
    assert any(n.startswith("Follow-up rewritten offline: the LLM") for n in a.notes), a.notes
    assert len(raw.requests) == 2 and raw.requests[0]["stream"] is False
    assert a.citations and KEY not in json.dumps(a.to_dict())
    _next_question_uses_the_llm(raw, llm_settings)


def test_abandoned_stream_releases_its_reader(raw, llm_settings):
    """A client that stops reading (the chat page's 'New conversation' cancels a streaming answer)."""
    raw.mode = "slow"
    stream = ask_stream(QUESTION, settings=llm_settings)
    first = next(stream)
    assert isinstance(first, str) and _readers()
    stream.close()
    _wait_for_no_readers(3.0)  # the reader stops at the next piece instead of draining the answer
    _next_question_uses_the_llm(raw, llm_settings)


def test_many_faults_in_a_row_leave_nothing_behind(raw, llm_settings):
    before = threading.active_count()
    for mode in ("close", "badsse", "close", "badsse"):
        raw.mode = mode
        assert ask(QUESTION, settings=llm_settings).mode == "extractive"
    _wait_for_no_readers()
    _next_question_uses_the_llm(raw, llm_settings)
    assert threading.active_count() <= before + 2  # server handler threads may still be closing
