"""Integration tests against a real llama.cpp server running SmolLM2 (fixtures in tests/llm_server.py)."""
from __future__ import annotations

import socket
import sys
import time

import httpx
import openai
import pytest
from openai import OpenAI

from rag.serve import MODEL_ALIAS, find_gguf, free_port, server_command, start_server

HELLO = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture
def client(llm_server) -> OpenAI:
    """An OpenAI client on the local server: no retries (a failure shows at once) and no proxy for loopback."""
    return OpenAI(base_url=llm_server.base_url, api_key="local", max_retries=0, timeout=120,
                  http_client=httpx.Client(trust_env=False))


def test_find_gguf_returns_the_packaged_model(smollm2_gguf):
    path = find_gguf()
    assert path == smollm2_gguf
    assert path.is_file() and path.suffix == ".gguf"
    assert path.open("rb").read(4) == b"GGUF"  # the magic number, not a Git LFS pointer or an HTML error page
    assert path.stat().st_size > 50_000_000


def test_server_command_is_accepted_by_llama_cpp_server(smollm2_gguf):
    cmd = server_command(smollm2_gguf, "127.0.0.1", 45678, n_ctx=2048)
    assert cmd[:3] == [sys.executable, "-m", "llama_cpp.server"]
    assert cmd[cmd.index("--model") + 1] == str(smollm2_gguf)
    assert cmd[cmd.index("--port") + 1] == "45678"
    assert cmd[cmd.index("--n_ctx") + 1] == "2048"
    assert cmd[cmd.index("--model_alias") + 1] == MODEL_ALIAS
    # Every flag must exist in the installed server's own parser (argparse exits on an unknown flag).
    import argparse

    from llama_cpp.server.cli import add_args_from_model, parse_model_from_args
    from llama_cpp.server.settings import ModelSettings, ServerSettings, Settings

    parser = argparse.ArgumentParser()
    add_args_from_model(parser, Settings)
    args = parser.parse_args(cmd[3:])
    model, server = parse_model_from_args(ModelSettings, args), parse_model_from_args(ServerSettings, args)
    assert (model.model, model.model_alias, model.n_ctx) == (str(smollm2_gguf), MODEL_ALIAS, 2048)
    assert (server.host, server.port, server.interrupt_requests, model.logits_all) == ("127.0.0.1", 45678, False, False)


def test_server_lists_the_alias(client, llm_server):
    assert llm_server.base_url.endswith("/v1") and llm_server.model == MODEL_ALIAS
    assert [m.id for m in client.models.list()] == [MODEL_ALIAS]


def test_chat_completion_returns_text(client, llm_server):
    r = client.chat.completions.create(model=llm_server.model, messages=HELLO, max_tokens=32, temperature=0)
    choice = r.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert 0 < r.usage.completion_tokens <= 32
    assert r.usage.prompt_tokens > 5  # the chat template wrapped the message


def test_streaming_chat_completion_yields_several_deltas(client, llm_server):
    stream = client.chat.completions.create(model=llm_server.model, messages=HELLO, max_tokens=32,
                                            temperature=0, stream=True)
    chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(deltas) >= 3
    assert "".join(deltas).strip()
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_any_model_name_is_served_by_the_one_model(client):
    r = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=8)
    assert r.choices[0].message.content
    assert r.model == "gpt-4o-mini"  # echoed back, although SmolLM2 answered


def test_prompt_over_context_is_a_400_context_length_exceeded(client, llm_server):
    long = [{"role": "user", "content": "word " * 6000}]  # ~6,000 tokens against n_ctx=4096
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=llm_server.model, messages=long, max_tokens=8)
    assert e.value.status_code == 400
    assert e.value.code == "context_length_exceeded"
    assert "maximum context length is 4096" in str(e.value)
    # Streamed, the same request is a 200 whose stream ends with no chunk and no error: callers must check.
    stream = client.chat.completions.create(model=llm_server.model, messages=long, max_tokens=8, stream=True)
    assert list(stream) == []


def test_start_server_reports_a_model_that_fails_to_load(tmp_path, smollm2_gguf):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="exited with code") as e:
        start_server(model_path=bad, ready_timeout=60)
    assert "server.log" in str(e.value) and time.monotonic() - started < 60


def test_start_server_refuses_a_port_in_use(smollm2_gguf):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with pytest.raises(OSError, match="already in use"):
            start_server(port=holder.getsockname()[1])
