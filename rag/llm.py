"""The LLM client: which mode is active and why, and chat completions through the `openai` client.

Every call has one overall deadline (`Settings.llm_timeout`): retries on 429, 5xx and dropped connections back
off within it, and a stream that stalls or trickles past it is abandoned. Errors never carry the API key.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from .config import Settings

log = logging.getLogger(__name__)
DEFAULT_BASE_URL = "https://api.openai.com/v1"


class LLMError(RuntimeError):
    """The LLM endpoint failed: unreachable, timed out, an HTTP error, or a malformed or empty reply."""


@dataclass(frozen=True)
class LLMStatus:
    """Which answering mode is active, with the model and endpoint (never the key) and a one-line reason."""

    mode: str
    model: str | None
    base_url: str | None
    reason: str
    requested: str = "auto"
    local: bool = False  # the embedded local model, served by this process's own llama.cpp server


LOCAL_ENDPOINT = "local llama.cpp server (loopback, started on first use)"


def redact_url(url: str) -> str:
    """The URL without any user:password part or query string."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def local_model_available() -> bool:
    """True when llama.cpp's server and the embedded model's part packages are installed (no hashing)."""
    import importlib.util

    from .local_model import parts_installed

    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "uvicorn", "sse_starlette")) \
        and parts_installed()


def llm_status(settings: Settings | None = None, mode: str | None = None) -> LLMStatus:
    """The mode `ask()` will use: an endpoint when OPENAI_BASE_URL or OPENAI_API_KEY is set, else the local model
    when it is installed, else offline extraction; `mode` or RAG_MODE can force either way."""
    settings = settings or Settings()
    requested = mode or settings.llm.mode
    if requested not in ("auto", "llm", "extractive"):
        raise ValueError(f"mode must be 'auto', 'llm' or 'extractive', not {requested!r}")
    base, key = settings.llm.endpoint()
    if requested == "extractive":
        return LLMStatus("extractive", None, None, "Offline extractive mode was requested.", requested)
    if not (base or key):
        from .local_model import MODEL_LABEL, MODEL_NAME

        if settings.llm.local_llm and local_model_available():
            from .serve import shared_server

            shared = shared_server(settings.cache_dir, MODEL_NAME)
            where = (f"served by the running `rag serve-llm` (pid {shared.pid})" if shared else
                     "loaded by this process (tip: a `rag serve-llm` left running keeps it loaded for every command)")
            return LLMStatus("llm", MODEL_NAME, shared.base_url if shared else LOCAL_ENDPOINT,
                             f"No endpoint is configured (OPENAI_BASE_URL and OPENAI_API_KEY are unset) and the "
                             f"local model is installed, so answers come from {MODEL_LABEL} on this machine, "
                             f"{where}.", requested, local=True)
        missing = ("the local model is turned off (RAG_LOCAL_LLM=0)" if not settings.llm.local_llm else
                   "the local model is not installed (pip install 'mlsys-rag[local-llm]')")
        why = (f"LLM mode was requested but no LLM is configured (set OPENAI_BASE_URL and/or OPENAI_API_KEY) and "
               f"{missing}." if requested == "llm" else
               f"No LLM is configured (OPENAI_BASE_URL and OPENAI_API_KEY are unset) and {missing}, "
               "so answers are extracted offline.")
        return LLMStatus("extractive", None, None, why, requested)
    url = redact_url(base) if base else DEFAULT_BASE_URL
    source = "OPENAI_BASE_URL" if base else "OPENAI_API_KEY"
    return LLMStatus("llm", settings.llm.llm_model, url, f"{source} is set, so answers come from {settings.llm.llm_model} at {url}.",
                     requested)


def _scrub(text: str, key: str) -> str:
    return text.replace(key, "***") if key and len(key) >= 4 else text


@dataclass(frozen=True)
class Endpoint:
    """Where one call goes: base URL (None = OpenAI), key and model name."""

    base_url: str | None
    key: str
    model: str


def uses_local_model(settings: Settings) -> bool:
    """True when LLM calls go to the embedded local model (no endpoint configured)."""
    return not settings.llm.configured()


def endpoint(settings: Settings) -> Endpoint:
    """The configured endpoint, or this process's local server (started now if needed); LLMError if it can't start."""
    base, key = settings.llm.endpoint()
    if base or key:
        return Endpoint(base or None, key or "not-needed", settings.llm.llm_model)  # local servers accept any key
    from .local_model import LocalModelError
    from .serve import managed_server

    try:
        server = managed_server(settings.cache_dir, settings.llm.local_llm_threads)
    except LocalModelError as e:
        raise LLMError(f"the local model is not usable: {e}") from None
    except (OSError, RuntimeError) as e:  # no llama.cpp, the server died or never became ready
        raise LLMError(f"the local LLM server could not start ({str(e).splitlines()[0][:200]})") from None
    return Endpoint(server.base_url, "local", server.model)


def _client(ep: Endpoint, timeout: float):
    """The client for this endpoint with this call's timeout; one connection pool per endpoint and key."""
    return _pooled_client(ep.base_url, ep.key).with_options(timeout=timeout)


@lru_cache(maxsize=4)
def _pooled_client(base: str | None, key: str):
    from openai import OpenAI

    return OpenAI(base_url=base, api_key=key, max_retries=0)


def _retryable(exc: Exception) -> bool:
    import openai

    if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code == 429 or exc.status_code >= 500)


def _describe(exc: Exception, key: str) -> str:
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "the LLM request timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "the LLM endpoint could not be reached"
    if isinstance(exc, openai.APIStatusError):
        return f"the LLM endpoint answered HTTP {exc.status_code}"
    return _scrub(f"the LLM call failed ({exc.__class__.__name__}: {exc})"[:300], key)


def _open(messages: list[dict], settings: Settings, stream: bool, max_tokens: int, deadline: float, ep: Endpoint):
    """Send the request, retrying 429/5xx/connection errors with jittered backoff until the deadline."""
    attempt = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            raise LLMError("the LLM request timed out")
        try:
            return _client(ep, remaining).chat.completions.create(
                model=ep.model, messages=messages, temperature=settings.llm.llm_temperature,
                max_tokens=max_tokens, stream=stream)
        except Exception as e:  # noqa: BLE001 - every failure becomes an LLMError or a retry
            why = _describe(e, ep.key)
            pause = min(2.0, 0.25 * 2 ** attempt) * (0.5 + random.random() / 2)
            if attempt >= settings.llm.llm_max_retries or not _retryable(e) or time.monotonic() + pause >= deadline:
                raise LLMError(why) from None
            log.info("%s; retrying in %.2f s", why, pause)
            time.sleep(pause)
            attempt += 1


def complete(messages: list[dict], settings: Settings, max_tokens: int | None = None) -> str:
    """The full text of one chat completion, within the settings' timeout however the endpoint stalls."""
    ep = endpoint(settings)  # starting the local server is a one-off, not part of this call's deadline

    def one() -> Iterator[str]:
        yield _complete(messages, settings, max_tokens, ep)

    return "".join(within_timeout(one(), settings.llm.llm_timeout))


def _complete(messages: list[dict], settings: Settings, max_tokens: int | None, ep: Endpoint) -> str:
    deadline = time.monotonic() + settings.llm.llm_timeout
    resp = _open(messages, settings, False, max_tokens or settings.llm.llm_max_tokens, deadline, ep)
    try:
        text = resp.choices[0].message.content
    except (AttributeError, IndexError, TypeError):
        raise LLMError("the LLM endpoint sent a malformed reply") from None
    if not isinstance(text, str) or not text.strip():
        raise LLMError("the LLM sent an empty completion")
    return text


def prompt_tokens(messages: list[dict], settings: Settings) -> int:
    """The messages' prompt length in tokens as the server counts it (a one-token completion)."""
    ep = endpoint(settings)
    r = _pooled_client(ep.base_url, ep.key).chat.completions.create(
        model=ep.model, messages=messages, max_tokens=1, temperature=0)
    return r.usage.prompt_tokens


def stream(messages: list[dict], settings: Settings, max_tokens: int | None = None) -> Iterator[str]:
    """Yield text pieces of a streamed chat completion; raise LLMError on failure, stall or deadline."""
    ep = endpoint(settings)  # raises LLMError now, before any piece, when the local server cannot start
    return within_timeout(_stream(messages, settings, max_tokens, ep), settings.llm.llm_timeout)


def _stream(messages: list[dict], settings: Settings, max_tokens: int | None, ep: Endpoint) -> Iterator[str]:
    deadline = time.monotonic() + settings.llm.llm_timeout
    resp = _open(messages, settings, True, max_tokens or settings.llm.llm_max_tokens, deadline, ep)
    got_any, finished = False, False
    try:
        for chunk in resp:
            if time.monotonic() > deadline:
                raise LLMError("the LLM stream ran past the timeout")
            choices = getattr(chunk, "choices", None) or []
            if not choices:
                continue
            piece = getattr(choices[0].delta, "content", None) if choices[0].delta else None
            if choices[0].finish_reason:
                finished = True
            if piece:
                got_any = True
                yield piece
    except LLMError:
        raise
    except Exception as e:  # noqa: BLE001 - a dropped or garbled stream
        raise LLMError(_describe(e, ep.key).replace("call failed", "stream broke off")) from None
    finally:
        close = getattr(resp, "close", None)
        if close:
            close()
    if not got_any:
        raise LLMError("the LLM sent an empty completion")
    if not finished:
        raise LLMError("the LLM stream ended without finishing")


_GRACE = 0.5  # seconds past the LLM timeout before a blocked read is abandoned (the client's own check comes first)


def within_timeout(pieces: Iterator[str], seconds: float) -> Iterator[str]:
    """`pieces`, read in a worker thread and abandoned once `seconds` have passed, however the endpoint stalls.

    The HTTP client's timeout bounds each socket read, not the call: a stream that stalls just before the deadline,
    or a body that trickles in a byte at a time, would otherwise run on past it. The abandoned reader ends on its
    own when its read times out; nothing it holds is shared with the next call.
    """
    import openai  # noqa: F401 - a first, slow import is not the endpoint's time

    from .pump import pumped

    reader = pumped(pieces, deadline=time.monotonic() + seconds + _GRACE, name="llm-reader")
    got_any = False
    try:
        for piece in reader:
            got_any = True
            yield piece
    except TimeoutError:
        raise LLMError("the LLM stream ran past the timeout" if got_any else "the LLM request timed out") from None
    finally:
        reader.close()
