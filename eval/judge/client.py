"""The OpenAI-compatible side of the judge: the endpoint check, HTTP clients, and JudgeLLM, ragas' InstructorLLM
with a bound on calls in flight (AffinityGate), a per-call timeout, counters and optional JSON-schema grammars."""
from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import ipaddress
import logging
import os
from collections import Counter
from urllib.parse import urlsplit

from .config import API_KEY_ENV, JudgeConfig

log = logging.getLogger(__name__)

STRING_PATTERN = r'^[^"\\\x00-\x1F]{{{},{}}}$'  # (min, max) characters, none of them a quote, backslash or control


class JudgeUnavailable(RuntimeError):
    """The judge endpoint cannot be used: unreachable, refusing the key, or not an OpenAI-compatible API."""


def is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine."""
    host = (urlsplit(url).hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _redact(url: str) -> str:
    from rag.llm import redact_url

    return redact_url(url)


def _describe(exc: BaseException) -> str:
    """A short reason for a failed judge call, without the key."""
    import openai

    if type(exc).__name__ == "InstructorRetryException" and isinstance(exc.__cause__, Exception):
        exc = exc.__cause__  # instructor wraps transport errors as well as replies that do not validate
    if isinstance(exc, (asyncio.TimeoutError, openai.APITimeoutError)):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection error"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    name = type(exc).__name__
    return "invalid JSON reply" if name in ("InstructorRetryException", "ValidationError", "JSONDecodeError") else name


def _http_client(base_url: str, timeout: float, sync: bool = False, hooks: dict | None = None):
    """An httpx client for the judge; loopback traffic never goes through a proxy from the environment."""
    import openai

    cls = openai.DefaultHttpxClient if sync else openai.DefaultAsyncHttpxClient
    kwargs = {"timeout": timeout}
    if is_loopback(base_url):
        kwargs["trust_env"] = False
    if hooks:
        kwargs["event_hooks"] = hooks
    return cls(**kwargs)


def _api_key() -> str:
    return os.environ.get(API_KEY_ENV, "").strip() or "not-needed"  # local servers accept any key


def check_endpoint(base_url: str, model: str, timeout: float = 10.0) -> list[str]:
    """Raise JudgeUnavailable unless GET {base_url}/models answers; return the model ids it lists."""
    import openai

    where = _redact(base_url)
    client = openai.OpenAI(base_url=base_url, api_key=_api_key(), timeout=timeout, max_retries=0,
                           http_client=_http_client(base_url, timeout, sync=True))
    try:
        ids = [m.id for m in client.models.list().data]
    except openai.APIConnectionError as e:  # refused, DNS, timeout (APITimeoutError is a subclass)
        hint = " (is it running? `rag serve-llm` starts a local one)" if is_loopback(base_url) else ""
        raise JudgeUnavailable(f"judge endpoint {where} is unreachable: {_describe(e)}{hint}") from None
    except openai.APIStatusError as e:
        raise JudgeUnavailable(f"judge endpoint {where} answered HTTP {e.status_code} to GET /models") from None
    except Exception as e:  # noqa: BLE001 - e.g. HTML instead of JSON: not an OpenAI-compatible API
        raise JudgeUnavailable(f"judge endpoint {where} is not an OpenAI-compatible API "
                               f"({type(e).__name__})") from None
    finally:
        client.close()
    if ids and model not in ids:
        log.warning("judge model %r is not among the models %s lists (%s); trying it anyway",
                    model, where, ", ".join(ids[:5]))
    return ids


def schema_hint(schema: dict, max_items: int = 5, max_string_chars: int = 200) -> dict:
    """A JSON schema for grammar-constrained decoding: $refs inlined, titles and descriptions dropped, arrays of
    1..max_items items, free strings of 1..max_string_chars characters with no quote, backslash or control
    character.

    llama.cpp turns `response_format: {"type": "json_object", "schema": ...}` into a grammar; the bounds keep a
    small model from emitting an empty list or looping until max_tokens cuts the JSON short.
    """
    defs = {**schema.get("$defs", {}), **schema.get("definitions", {})}

    def walk(node, seen: tuple[str, ...]):
        if isinstance(node, list):
            return [walk(n, seen) for n in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name in seen or name not in defs:
                raise ValueError(f"cannot inline schema reference {ref!r}")
            return walk(copy.deepcopy(defs[name]), seen + (name,))
        out = {k: walk(v, seen) for k, v in node.items() if k not in ("$defs", "definitions", "title", "description")}
        if out.get("type") == "array":
            out.setdefault("minItems", 1)
            out["maxItems"] = min(out.get("maxItems", max_items), max_items)
        elif out.get("type") == "string" and not {"enum", "const", "pattern", "format"} & set(out):
            # A pattern, not maxLength: llama-cpp-python's grammar for plain strings admits raw control characters
            # (a newline inside a string), which no JSON parser accepts. No escapes, no empty strings either.
            longest = min(out.pop("maxLength", max_string_chars), max_string_chars)
            shortest = max(1, out.pop("minLength", 1))
            out["pattern"] = STRING_PATTERN.format(shortest, max(shortest, longest))
        return out

    return walk(schema, ())


class AffinityGate:
    """At most `slots` holders at once; a freed slot goes to the oldest waiter with the same key as the last one
    admitted, else to the oldest waiter.

    A llama.cpp server keeps the KV cache of the previous prompt only, so sending calls of one prompt type one
    after another (same instructions, examples and schema up front) skips re-reading that shared prefix.
    """

    def __init__(self, slots: int) -> None:
        self.free = slots
        self.last_key = None
        self._waiters: list[tuple[int, object, asyncio.Future]] = []
        self._seq = 0

    async def acquire(self, key) -> None:
        if self.free > 0 and not self._waiters:
            self.free -= 1
            self.last_key = key
            return
        self._seq += 1
        entry = (self._seq, key, asyncio.get_running_loop().create_future())
        self._waiters.append(entry)
        try:
            await entry[2]
        except asyncio.CancelledError:
            if entry in self._waiters:
                self._waiters.remove(entry)
            elif entry[2].done() and not entry[2].cancelled():
                self.release()  # the slot was handed over just as this waiter was cancelled
            raise

    def release(self) -> None:
        while self._waiters:
            pick = next((w for w in self._waiters if w[1] == self.last_key), self._waiters[0])
            self._waiters.remove(pick)
            if not pick[2].done():
                self.last_key = pick[1]
                pick[2].set_result(None)
                return
        self.free += 1

    @contextlib.asynccontextmanager
    async def slot(self, key):
        await self.acquire(key)
        try:
            yield
        finally:
            self.release()


def _judge_llm_base():
    from ragas.llms.base import InstructorBaseRagasLLM

    return InstructorBaseRagasLLM


def make_judge_llm(config: JudgeConfig, counters: Counter | None = None):
    """The ragas judge: `llm_factory(model, provider="openai", client=AsyncOpenAI(...))` inside a JudgeLLM."""
    from openai import AsyncOpenAI
    from ragas.llms import llm_factory

    from .. import ragas_tracking_off

    ragas_tracking_off()  # again: something may have unset it since `eval` was imported
    counters = counters if counters is not None else Counter()

    async def on_response(response) -> None:
        counters["http_responses"] += 1
        counters[f"http_{response.status_code}"] += 1

    client = AsyncOpenAI(base_url=config.base_url, api_key=_api_key(), timeout=config.call_timeout, max_retries=0,
                         http_client=_http_client(config.base_url, config.call_timeout,
                                                  hooks={"response": [on_response]}))
    inner = llm_factory(config.model, provider="openai", client=client, max_tokens=config.max_tokens,
                        max_retries=config.max_retries)
    llm = _make_wrapper()(inner, config, counters)
    llm.openai_client = client
    return llm


_WRAPPER = None


def _make_wrapper():
    """The JudgeLLM class (built lazily: its base class lives in ragas, which is slow to import)."""
    global _WRAPPER
    if _WRAPPER is not None:
        return _WRAPPER

    class JudgeLLM(_judge_llm_base()):
        """Delegates to ragas' InstructorLLM with a bound on calls in flight (AffinityGate), a per-call timeout
        and counters.

        With `json_schema`, the reply's JSON schema goes in `response_format` (through `extra_body`, which the
        openai client merges over instructor's plain `{"type": "json_object"}`); llama.cpp compiles it to a
        grammar, so even SmolLM2-135M replies with the keys the metric needs.
        """

        def __init__(self, inner, config: JudgeConfig, counters: Counter) -> None:
            self.inner, self.config, self.counters = inner, config, counters
            self.model, self.provider = inner.model, inner.provider
            self._gate: AffinityGate | None = None
            self.openai_client = None

        async def aclose(self) -> None:
            """Close the HTTP connections (inside the loop that used them)."""
            if self.openai_client is not None:
                await self.openai_client.close()

        def generate(self, prompt: str, response_model):  # pragma: no cover - metrics here only call agenerate
            raise NotImplementedError("the judge is async only; use agenerate()")

        async def agenerate(self, prompt: str, response_model):
            if self._gate is None:  # created inside the running loop
                self._gate = AffinityGate(self.config.concurrency)
            key = (response_model.__name__, hashlib.sha1(prompt[:400].encode()).hexdigest())
            async with self._gate.slot(key):
                self.counters["calls"] += 1
                try:
                    result = await asyncio.wait_for(self._call(prompt, response_model), self.config.call_timeout)
                except BaseException as e:
                    self.counters["failed_calls"] += 1
                    if isinstance(e, Exception):
                        self.counters[f"call_error:{_describe(e)}"] += 1
                    raise
                self.counters["ok_calls"] += 1
                return result

        async def _call(self, prompt: str, response_model):
            if not self.config.json_schema:
                return await self.inner.agenerate(prompt, response_model)
            kwargs = self.inner._map_provider_params()
            hint = schema_hint(response_model.model_json_schema(), self.config.max_items,
                               self.config.max_string_chars)
            extra = dict(kwargs.pop("extra_body", None) or {})
            extra["response_format"] = {"type": "json_object", "schema": hint}
            messages = [{"role": "system", "content": self.inner.system_prompt}] if self.inner.system_prompt else []
            messages.append({"role": "user", "content": prompt})
            return await self.inner.client.chat.completions.create(
                model=self.inner.model, messages=messages, response_model=response_model, extra_body=extra, **kwargs)

    _WRAPPER = JudgeLLM
    return JudgeLLM
