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

One module per job: `config` (JudgeConfig, whose defaults the `--judge-*` flags read, and the flags), `samples`
(what the judge sees of an answer; summaries of scores), `client` (the endpoint check and JudgeLLM over the
OpenAI-compatible API), `ragas_adapter` (embeddings, metrics and `judge()`) and `report` (terminal and markdown).
This package re-exports their public names, so `from eval import judge as J; J.judge(...)` keeps working.
"""
from __future__ import annotations

from .client import AffinityGate, JudgeUnavailable, check_endpoint, is_loopback, make_judge_llm, schema_hint
from .config import (API_KEY_ENV, DEFAULTS, JUDGE_METRICS, RAGAS_CLASSES, JudgeArgumentError, JudgeConfig,
                     add_arguments, check_answer_mode, config_from_args)
from .ragas_adapter import JudgeResult, judge, make_embeddings
from .report import markdown_lines, summary_lines
from .samples import finite, judge_contexts, judge_sample, missing_inputs, strip_markers, summarize

__all__ = ["API_KEY_ENV", "DEFAULTS", "JUDGE_METRICS", "RAGAS_CLASSES", "AffinityGate", "JudgeArgumentError",
           "JudgeConfig", "JudgeResult", "JudgeUnavailable", "add_arguments", "check_answer_mode", "check_endpoint",
           "config_from_args", "finite", "is_loopback", "judge", "judge_contexts", "judge_sample", "make_embeddings",
           "make_judge_llm", "markdown_lines", "missing_inputs", "schema_hint", "strip_markers", "summarize",
           "summary_lines"]
