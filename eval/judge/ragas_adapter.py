"""The ragas side of the judge: MiniLM embeddings behind ragas' interface, the three collections-API metrics
awaited one sample at a time, and `judge()`, which scores a run's samples and says what happened."""
from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from .client import _describe, _redact, check_endpoint, make_judge_llm
from .config import JUDGE_METRICS, RAGAS_CLASSES, JudgeConfig
from .samples import finite, missing_inputs, summarize

log = logging.getLogger(__name__)


def make_embeddings(embedder=None, settings=None):
    """ragas (collections API) embeddings over the packaged MiniLM; loads nothing from the network."""
    from ragas.embeddings.base import BaseRagasEmbedding

    if embedder is None:
        from rag.config import Settings
        from rag.embed import default_embedder

        settings = settings or Settings()
        embedder = default_embedder(settings.cache_dir, settings.index.embed_model)

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
