"""LLM-judged Ragas metrics over the answers of one evaluation run: faithfulness, factual correctness, relevancy.

`python -m eval --judge-base-url URL --judge-model NAME` scores the run's answers with an OpenAI-compatible judge:

- the judge LLM is ragas 0.4.3's `llm_factory(model, provider="openai", client=AsyncOpenAI(...))`, an
  `InstructorLLM` (instructor in JSON mode), wrapped by `JudgeLLM` for at most `concurrency` calls in flight
  (handed out by `AffinityGate` so that llama.cpp can reuse the previous prompt's prefix), a per-call timeout,
  request counting and (with `json_schema=True`) a JSON schema that llama.cpp servers turn into a grammar;
- the metrics are the collections API's `Faithfulness`, `FactualCorrectness` and `AnswerRelevancy` (ragas'
  `ResponseRelevancy`, reported as `response_relevancy`), awaited one sample at a time with `.ascore()`:
  unlike `ragas.evaluate`, this needs no legacy LLM wrapper, cannot fall back to a default OpenAI model or OpenAI
  embeddings, and lets one failed sample become nan instead of failing or stalling the batch;
- ResponseRelevancy's embeddings are the packaged MiniLM (`rag.embed`), behind ragas' `BaseRagasEmbedding`.

Nothing but the judge endpoint is contacted: `eval` turns ragas tracking off before ragas is imported.
"""
from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import ipaddress
import logging
import math
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from .tables import format_table, markdown_table, metric_cell

log = logging.getLogger(__name__)

# Reported names, in report order, with the ragas class that computes each.
JUDGE_METRICS = ("faithfulness", "factual_correctness", "response_relevancy")
RAGAS_CLASSES = {"faithfulness": "Faithfulness", "factual_correctness": "FactualCorrectness",
                 "response_relevancy": "AnswerRelevancy (ResponseRelevancy)"}
API_KEY_ENV = "JUDGE_API_KEY"  # the judge's key, if it needs one; never taken from OPENAI_API_KEY
_MARKER = re.compile(r"\s*\[\d+\]")
STRING_PATTERN = r'^[^"\\\x00-\x1F]{{{},{}}}$'  # (min, max) characters, none of them a quote, backslash or control


class JudgeUnavailable(RuntimeError):
    """The judge endpoint cannot be used: unreachable, refusing the key, or not an OpenAI-compatible API."""


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge is and how hard to push it."""

    base_url: str
    model: str
    limit: int | None = None  # judge only the first N answers of the run
    concurrency: int = 2  # judge calls in flight at once
    call_timeout: float = 120.0  # seconds per judge call (instructor's re-asks included)
    total_timeout: float = 3600.0  # seconds for the whole judged run; unfinished samples stay nan
    max_retries: int = 1  # instructor re-asks after a reply that does not validate
    max_tokens: int = 1024  # per judge reply
    # Questions generated per sample for response relevancy. ragas' default is 3, but InstructorLLM cannot ask for
    # n completions and samples at temperature 0.01, so the 3 calls return the same question: 1 costs a third.
    strictness: int = 1
    json_schema: bool = False  # send each reply's JSON schema in response_format (llama.cpp grammar)
    max_context_chars: int | None = 8000  # judge_sample(): faithfulness contexts, cited first; None = all
    max_items: int = 5  # with json_schema: at most this many statements/claims per reply
    max_string_chars: int = 200  # with json_schema: at most this many characters per statement

    def __post_init__(self) -> None:
        if not self.base_url or not self.model:
            raise ValueError("the judge needs both a base URL and a model name")
        if self.concurrency < 1 or self.call_timeout <= 0 or self.total_timeout <= 0 or self.strictness < 1:
            raise ValueError("judge concurrency and strictness must be >= 1 and timeouts > 0")
        if self.max_retries < 0 or (self.limit is not None and self.limit < 0):
            raise ValueError("judge retries and limit must not be negative")


# ---------------------------------------------------------------- pure helpers
def strip_markers(text: str) -> str:
    """The answer without its [n] citation markers, which are not claims."""
    return _MARKER.sub("", text or "").strip()


def judge_contexts(contexts: Sequence[dict], cited_ids: Sequence[str], max_chars: int | None) -> list[str]:
    """Context texts ("title\\ntext") for faithfulness: cited chunks first, then rank order, within max_chars.

    A passage that would cross the budget is cut at it (the first one is always kept, cut if need be), so a
    small-context judge sees the passages the answer was drawn from.
    """
    cited = {cid: i for i, cid in enumerate(dict.fromkeys(cited_ids))}
    ordered = sorted(enumerate(contexts), key=lambda p: (cited.get(p[1].get("chunk_id"), len(cited)), p[0]))
    out, used = [], 0
    for _, c in ordered:
        text = "\n".join(part for part in (c.get("title") or "", c.get("text") or "") if part).strip()
        if not text:
            continue
        if max_chars is not None:
            room = max_chars - used
            if room <= 0:
                break
            text = text[:room]
        out.append(text)
        used += len(text)
    return out


def judge_sample(item: dict, answer: dict, max_context_chars: int | None = 8000) -> dict:
    """What the judge sees of one gold item and the pipeline's answer to it."""
    return {
        "id": item.get("id"),
        "user_input": item["user_input"],
        "response": strip_markers(answer.get("text") or ""),
        "reference": item.get("reference") or "",
        "retrieved_contexts": judge_contexts(answer.get("contexts") or [],
                                             [c.get("chunk_id") for c in answer.get("citations") or []],
                                             max_context_chars),
        "answer_mode": answer.get("mode") or ("error" if answer.get("error") else None),
    }


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


def finite(value) -> float:
    """The value as a float, nan if it is missing or not a finite number."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def summarize(per_sample: Sequence[dict[str, float]], metrics: Sequence[str] = JUDGE_METRICS) -> dict[str, dict]:
    """Mean and n (samples with a real score) of each metric; mean is nan when nothing was scored."""
    out = {}
    for name in metrics:
        vals = [v for v in (finite(s.get(name)) for s in per_sample) if not math.isnan(v)]
        out[name] = {"mean": sum(vals) / len(vals) if vals else math.nan, "n": len(vals),
                     "of": len(per_sample)}
    return out


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


# ---------------------------------------------------------------- clients
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


def _judge_llm_base():
    from ragas.llms.base import InstructorBaseRagasLLM

    return InstructorBaseRagasLLM


def make_judge_llm(config: JudgeConfig, counters: Counter | None = None):
    """The ragas judge: `llm_factory(model, provider="openai", client=AsyncOpenAI(...))` inside a JudgeLLM."""
    from openai import AsyncOpenAI
    from ragas.llms import llm_factory

    from eval import ragas_tracking_off

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


def make_embeddings(embedder=None, settings=None):
    """ragas (collections API) embeddings over the packaged MiniLM; loads nothing from the network."""
    from ragas.embeddings.base import BaseRagasEmbedding

    if embedder is None:
        from rag.config import Settings
        from rag.embed import default_embedder

        settings = settings or Settings()
        embedder = default_embedder(settings.cache_dir, settings.embed_model)

    class MiniLMEmbeddings(BaseRagasEmbedding):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def embed_text(self, text: str, **kwargs) -> list[float]:
            return self.embed_texts([text])[0]

        def embed_texts(self, texts: list[str], **kwargs) -> list[list[float]]:
            return self.inner.encode(list(texts)).astype(float).tolist()

        async def aembed_text(self, text: str, **kwargs) -> list[float]:
            return (await self.aembed_texts([text]))[0]

        async def aembed_texts(self, texts: list[str], **kwargs) -> list[list[float]]:
            return await asyncio.to_thread(self.embed_texts, texts)

    return MiniLMEmbeddings(embedder)


# ---------------------------------------------------------------- scoring
def _metric_jobs(config: JudgeConfig, llm, embeddings) -> dict[str, Callable]:
    """One coroutine factory per reported metric: sample -> awaitable score."""
    from ragas.metrics.collections import AnswerRelevancy, FactualCorrectness, Faithfulness

    faithfulness = Faithfulness(llm=llm)
    factual = FactualCorrectness(llm=llm)  # mode="f1": claims of the answer vs. the reference and back
    relevancy = AnswerRelevancy(llm=llm, embeddings=embeddings, name="response_relevancy",
                                strictness=config.strictness)
    return {
        "faithfulness": lambda s: faithfulness.ascore(user_input=s["user_input"], response=s["response"],
                                                      retrieved_contexts=s["retrieved_contexts"]),
        "factual_correctness": lambda s: factual.ascore(response=s["response"], reference=s["reference"]),
        "response_relevancy": lambda s: relevancy.ascore(user_input=s["user_input"], response=s["response"]),
    }


REQUIRED = {"faithfulness": ("user_input", "response", "retrieved_contexts"),
            "factual_correctness": ("response", "reference"),
            "response_relevancy": ("user_input", "response")}


def missing_inputs(sample: dict, metric: str) -> list[str]:
    """The inputs a metric needs that the sample lacks (ragas raises on empty ones)."""
    return [k for k in REQUIRED[metric] if not sample.get(k)]


async def _score_all(samples: list[dict], config: JudgeConfig, llm, embeddings, counters: Counter,
                     per_sample: list[dict[str, float]]) -> bool:
    """Fill per_sample in place; return False if the overall timeout cut the run short."""
    jobs_for = _metric_jobs(config, llm, embeddings)
    # Metric-major order: calls in progress together mostly share their long prompt prefix (see AffinityGate).
    queue: asyncio.Queue = asyncio.Queue()
    for name in JUDGE_METRICS:
        for i, s in enumerate(samples):
            if missing_inputs(s, name):
                counters[f"skipped:{name}"] += 1
            else:
                queue.put_nowait((name, i))

    async def worker() -> None:
        while True:
            try:
                name, i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                result = await jobs_for[name](samples[i])
                per_sample[i][name] = finite(getattr(result, "value", result))
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - a failed sample is nan, never a crash
                counters[f"failed:{name}"] += 1
                counters[f"sample_error:{_describe(e)}"] += 1
                log.debug("judge %s failed on sample %s: %s", name, samples[i].get("id", i), e)

    # More samples in progress than calls in flight, so that the gate has same-prompt calls to choose from.
    tasks = [asyncio.create_task(worker()) for _ in range(max(1, min(queue.qsize(), 4 * config.concurrency)))]
    try:
        done, pending = await asyncio.wait(tasks, timeout=config.total_timeout)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    finally:
        if hasattr(llm, "aclose"):
            await llm.aclose()
    for t in done:
        if t.exception() is not None:  # pragma: no cover - worker() catches everything but cancellation
            raise t.exception()
    return not pending


def _run_coroutine(coro):
    """asyncio.run, or the same in a helper thread when the caller already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    thread = threading.Thread(target=target, name="ragas-judge")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


@dataclass
class JudgeResult:
    """Per-sample scores (nan where not scored), the summary per metric, and what happened."""

    per_sample: list[dict[str, float]]
    metrics: dict[str, dict]
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def judge(samples: list[dict], config: JudgeConfig, embedder=None, settings=None, check: bool = True) -> JudgeResult:
    """Score the samples (judge_sample dicts) with the three LLM-judged metrics; the first config.limit only.

    Raises JudgeUnavailable when the endpoint does not answer at all (with check=True); any later failure
    leaves the affected sample's metric nan and is counted in meta.
    """
    t0 = time.perf_counter()
    chosen = samples[: config.limit] if config.limit is not None else list(samples)
    if check:
        check_endpoint(config.base_url, config.model, timeout=min(10.0, config.call_timeout))
    counters: Counter = Counter()
    per_sample = [{name: math.nan for name in JUDGE_METRICS} for _ in chosen]
    loggers = {name: logging.getLogger(name) for name in ("instructor", "ragas", "httpx", "httpx2")}
    levels = {name: lg.level for name, lg in loggers.items()}
    for lg in loggers.values():  # instructor logs every unparsable reply at ERROR; we count them instead
        lg.setLevel(logging.CRITICAL)
    try:
        finished = True
        if chosen:
            llm = make_judge_llm(config, counters)
            embeddings = make_embeddings(embedder, settings)
            finished = _run_coroutine(_score_all(chosen, config, llm, embeddings, counters, per_sample))
    finally:
        for name, lg in loggers.items():
            lg.setLevel(levels[name])
    metrics = summarize(per_sample)
    for name in JUDGE_METRICS:
        metrics[name]["failed"] = counters[f"failed:{name}"]
        metrics[name]["skipped"] = counters[f"skipped:{name}"]
        metrics[name]["ragas_class"] = RAGAS_CLASSES[name]
    errors = {k.split(":", 1)[1]: v for k, v in sorted(counters.items()) if k.startswith("call_error:")}
    meta = {
        "model": config.model,
        "base_url": _redact(config.base_url),
        "samples": len(samples),
        "judged": len(chosen),
        "scored": sum(any(not math.isnan(v) for v in row.values()) for row in per_sample),
        "ids": [s.get("id") for s in chosen],
        "answer_modes": dict(Counter(s.get("answer_mode") or "unknown" for s in chosen)),
        "calls": counters["calls"], "ok_calls": counters["ok_calls"], "failed_calls": counters["failed_calls"],
        "http_responses": counters["http_responses"], "call_errors": errors,
        "finished": finished,
        "seconds": time.perf_counter() - t0,
        "config": {k: v for k, v in asdict(config).items() if k not in ("base_url",)},
    }
    if not finished:
        log.warning("the judge stopped after its overall timeout of %g s; unfinished samples are nan",
                    config.total_timeout)
    return JudgeResult(per_sample, metrics, meta)


# ---------------------------------------------------------------- command line and report
class JudgeArgumentError(ValueError):
    """The judge or answer-mode flags do not make sense together."""


def add_arguments(parser) -> None:
    """The judge and answer-mode flags of `python -m eval`."""
    g = parser.add_argument_group(
        "LLM judge", "Score the run's answers with Ragas Faithfulness, FactualCorrectness and ResponseRelevancy, "
        f"judged by an OpenAI-compatible endpoint (key, if any, from ${API_KEY_ENV}). Reported, not gated.")
    g.add_argument("--judge-base-url", help="judge endpoint, e.g. http://127.0.0.1:8080/v1 (`rag serve-llm`)")
    g.add_argument("--judge-model", help="model name the judge endpoint serves, e.g. smollm2")
    g.add_argument("--judge-limit", type=int, default=None, metavar="N", help="judge only the first N answers")
    g.add_argument("--judge-concurrency", type=int, default=2, metavar="N", help="judge calls in flight (2)")
    g.add_argument("--judge-timeout", type=float, default=120.0, metavar="S", help="seconds per judge call (120)")
    g.add_argument("--judge-total-timeout", type=float, default=3600.0, metavar="S",
                   help="seconds for all judging; unfinished samples stay nan (3600)")
    g.add_argument("--judge-retries", type=int, default=1, metavar="N",
                   help="re-asks after a reply that is not the expected JSON (1)")
    g.add_argument("--judge-strictness", type=int, default=1, metavar="N",
                   help="questions generated per answer for response relevancy (1; see eval/judge.py)")
    g.add_argument("--judge-context-chars", type=int, default=8000, metavar="N",
                   help="characters of context shown for faithfulness, cited passages first (8000; 0 = all)")
    g.add_argument("--judge-json-schema", action="store_true",
                   help="send each reply's JSON schema in response_format (llama.cpp servers: grammar-constrained "
                        "output, which small local judges need)")
    parser.add_argument("--answer-mode", choices=("auto", "llm", "extractive"), default=None,
                        help="how answers are produced (default: RAG_MODE, normally auto); llm needs "
                             "OPENAI_BASE_URL (and RAG_LLM_MODEL), e.g. the same server as the judge")


def config_from_args(args) -> JudgeConfig | None:
    """The JudgeConfig the flags ask for, None without --judge-base-url/--judge-model."""
    if not args.judge_base_url and not args.judge_model:
        if args.judge_limit is not None or args.judge_json_schema:
            raise JudgeArgumentError("--judge-limit/--judge-json-schema need --judge-base-url and --judge-model")
        return None
    if not (args.judge_base_url and args.judge_model):
        raise JudgeArgumentError("the judge needs both --judge-base-url and --judge-model")
    if urlsplit(args.judge_base_url).scheme not in ("http", "https"):
        raise JudgeArgumentError(f"--judge-base-url must be an http(s) URL, not {args.judge_base_url!r}")
    try:
        return JudgeConfig(base_url=args.judge_base_url, model=args.judge_model, limit=args.judge_limit,
                           concurrency=args.judge_concurrency, call_timeout=args.judge_timeout,
                           total_timeout=args.judge_total_timeout, max_retries=args.judge_retries,
                           strictness=args.judge_strictness, json_schema=args.judge_json_schema,
                           max_context_chars=args.judge_context_chars or None)
    except ValueError as e:
        raise JudgeArgumentError(str(e)) from None


def check_answer_mode(mode: str | None, settings=None) -> None:
    """Refuse --answer-mode llm when no LLM is configured (ask() would quietly answer offline)."""
    if mode != "llm":
        return
    from rag.config import Settings
    from rag.llm import llm_status

    status = llm_status(settings or Settings(), "llm")
    if status.mode != "llm":
        raise JudgeArgumentError(f"--answer-mode llm: {status.reason}")


def summary_lines(judged: dict) -> list[str]:
    """Terminal lines: one per judged metric, then what the judge did."""
    meta = judged["meta"]
    table = format_table(["judged (not gated)", "mean", "n"],
                         [[name, finite(m["mean"]), m["n"]] for name, m in judged["metrics"].items()], cell=metric_cell)
    return [*table.splitlines(),
            f"judge {meta['model']} at {meta['base_url']}: {meta['scored']}/{meta['judged']} samples scored, "
            f"{meta['ok_calls']}/{meta['calls']} calls ok, {meta['seconds']:.1f} s"
            + ("" if meta["finished"] else " (overall timeout hit)")]


def markdown_lines(judged: dict) -> list[str]:
    """The report section: mean and n per metric, and how the judge ran."""
    meta = judged["meta"]
    lines = markdown_table(["metric", "ragas class", "mean", "n scored", "failed", "skipped"],
                           [[name, m.get("ragas_class", ""), finite(m["mean"]), f"{m['n']} of {m['of']}",
                             m.get("failed", 0), m.get("skipped", 0)] for name, m in judged["metrics"].items()],
                           cell=metric_cell).splitlines()
    modes = ", ".join(f"{k}: {v}" for k, v in sorted(meta.get("answer_modes", {}).items())) or "none"
    errors = ", ".join(f"{k}: {v}" for k, v in meta.get("call_errors", {}).items()) or "none"
    cfg = meta.get("config", {})
    lines += [
        "",
        f"Judge `{meta['model']}` at `{meta['base_url']}`: {meta['judged']} of {meta['samples']} answers judged, "
        f"{meta['scored']} got at least one score; {meta['ok_calls']} of {meta['calls']} judge calls succeeded "
        f"({meta['http_responses']} HTTP responses; errors: {errors}) in {meta['seconds']:.1f} s"
        + ("." if meta["finished"] else f", stopped by the overall timeout ({cfg.get('total_timeout')} s)."),
        f"Answer modes judged: {modes}. Concurrency {cfg.get('concurrency')}, {cfg.get('call_timeout')} s per call, "
        f"{cfg.get('max_retries')} re-ask(s), relevancy strictness {cfg.get('strictness')}, "
        f"JSON schema {'on' if cfg.get('json_schema') else 'off'}, "
        f"context budget {cfg.get('max_context_chars') or 'unlimited'} characters.",
        "",
        "- faithfulness: share of the answer's statements (extracted by the judge) that the judge finds supported by "
        "the contexts, cited passages first.",
        "- factual_correctness: F1 of claims, answer vs. the gold reference and back (rounded to 0.01).",
        "- response_relevancy: cosine (MiniLM) between the question and questions the judge writes from the "
        "answer; 0 when the judge calls the answer noncommittal.",
        "- n scored counts samples with a real number; a failed call (timeout, invalid JSON) leaves nan.",
    ]
    return lines
