"""The LLM-judged Ragas metrics (eval/judge/): pure helpers, a scripted judge for faults, and a real llama.cpp run."""
from __future__ import annotations

import json
import math
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `eval/` is a top-level folder, not part of the installed `rag` package
    sys.path.insert(0, str(ROOT))

from eval import judge as J  # noqa: E402
from eval.run import parse_args  # noqa: E402


# ---------------------------------------------------------------- pure helpers
def test_importing_the_judge_turns_ragas_tracking_off():
    assert os.environ["RAGAS_DO_NOT_TRACK"] == "true"


def test_strip_markers_removes_citations_only():
    assert J.strip_markers("FooServe cuts latency by 30% [1]. It won [2][3].") == "FooServe cuts latency by 30%. It won."
    assert J.strip_markers("A list [a] and 2 [GPUs] stay.") == "A list [a] and 2 [GPUs] stay."
    assert J.strip_markers("") == "" and J.strip_markers(None) == ""


def test_judge_contexts_put_cited_passages_first_within_the_budget():
    ctx = [{"chunk_id": "a", "title": "A", "text": "alpha " * 10}, {"chunk_id": "b", "title": "B", "text": "beta"},
           {"chunk_id": "c", "title": "C", "text": "gamma"}]
    assert J.judge_contexts(ctx, [], None) == ["A\n" + ("alpha " * 10).strip(), "B\nbeta", "C\ngamma"]
    assert J.judge_contexts(ctx, ["c", "b", "c"], None)[:2] == ["C\ngamma", "B\nbeta"]
    cut = J.judge_contexts(ctx, ["c"], 12)
    assert cut == ["C\ngamma", "A\nalp"] and sum(map(len, cut)) == 12
    assert J.judge_contexts(ctx, [], 5) == ["A\nalp"]  # the first passage is kept, cut to the budget
    assert J.judge_contexts([{"chunk_id": "x", "title": "", "text": ""}], [], 100) == []


def test_judge_sample_from_gold_item_and_answer():
    item = {"id": "g1", "user_input": "Q?", "reference": "R."}
    answer = {"text": "It is fast [2].", "mode": "extractive", "citations": [{"chunk_id": "b"}],
              "contexts": [{"chunk_id": "a", "title": "A", "text": "x"}, {"chunk_id": "b", "title": "B", "text": "y"}]}
    s = J.judge_sample(item, answer)
    assert s == {"id": "g1", "user_input": "Q?", "response": "It is fast.", "reference": "R.",
                 "retrieved_contexts": ["B\ny", "A\nx"], "answer_mode": "extractive"}
    failed = J.judge_sample(item, {"text": "", "citations": [], "contexts": [], "error": "boom"})
    assert failed["answer_mode"] == "error"
    assert J.missing_inputs(failed, "faithfulness") == ["response", "retrieved_contexts"]
    assert J.missing_inputs(s, "factual_correctness") == []


def test_schema_hint_inlines_refs_and_bounds_lists_and_strings():
    from pydantic import BaseModel

    class Verdict(BaseModel):
        statement: str
        verdict: int

    class Out(BaseModel):
        statements: list[Verdict]
        kind: str = "x"

    hint = J.schema_hint(Out.model_json_schema(), max_items=4, max_string_chars=50)
    text = json.dumps(hint)
    assert "$ref" not in text and "$defs" not in text and "title" not in text
    arr = hint["properties"]["statements"]
    assert arr["minItems"] == 1 and arr["maxItems"] == 4
    pattern = arr["items"]["properties"]["statement"]["pattern"]
    assert re.fullmatch(pattern[1:-1], "Albert Einstein was a physicist.")
    for bad in ("", 'say "hi"', "line\nbreak", "back\\slash", "x" * 51):
        assert not re.fullmatch(pattern[1:-1], bad), bad
    assert arr["items"]["properties"]["verdict"] == {"type": "integer"}
    with pytest.raises(ValueError):
        J.schema_hint({"$ref": "#/$defs/Missing"})


def test_schema_hint_for_every_ragas_reply_compiles_to_a_llama_cpp_grammar():
    from ragas.metrics.collections.answer_relevancy.util import AnswerRelevanceOutput
    from ragas.metrics.collections.factual_correctness.util import ClaimDecompositionOutput
    from ragas.metrics.collections.faithfulness.util import NLIStatementOutput, StatementGeneratorOutput

    grammar = pytest.importorskip("llama_cpp.llama_grammar")
    for model in (StatementGeneratorOutput, NLIStatementOutput, ClaimDecompositionOutput, AnswerRelevanceOutput):
        gbnf = grammar.json_schema_to_gbnf(json.dumps(J.schema_hint(model.model_json_schema())))
        assert "root ::=" in gbnf, model.__name__
        assert "\\x00-\\x1F" in gbnf  # strings exclude raw control characters


def test_summarize_counts_only_real_numbers():
    rows = [{"faithfulness": 1.0, "factual_correctness": math.nan, "response_relevancy": 0.5},
            {"faithfulness": 0.0, "factual_correctness": None, "response_relevancy": float("inf")},
            {"faithfulness": math.nan}]
    s = J.summarize(rows)
    assert s["faithfulness"] == {"mean": 0.5, "n": 2, "of": 3}
    assert s["factual_correctness"]["n"] == 0 and math.isnan(s["factual_correctness"]["mean"])
    assert s["response_relevancy"] == {"mean": 0.5, "n": 1, "of": 3}
    assert J.summarize([])["faithfulness"]["n"] == 0


def test_affinity_gate_bounds_holders_and_prefers_the_last_key():
    import asyncio

    async def scenario():
        gate, order, inflight, peak = J.AffinityGate(2), [], [0], [0]

        async def call(key, name, hold=0.01):
            async with gate.slot(key):
                inflight[0] += 1
                peak[0] = max(peak[0], inflight[0])
                order.append(name)
                await asyncio.sleep(hold)
                inflight[0] -= 1

        first = [asyncio.create_task(call("a", "a1", 0.05)), asyncio.create_task(call("b", "b1", 0.05))]
        await asyncio.sleep(0)  # both hold a slot now; the rest queue up in this order
        rest = [asyncio.create_task(call(k, n)) for k, n in (("a", "a2"), ("c", "c1"), ("b", "b2"), ("b", "b3"))]
        cancelled = asyncio.create_task(call("b", "never"))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.gather(*first, *rest)
        return order, peak[0], gate.free

    order, peak, free = asyncio.run(scenario())
    assert peak == 2 and free == 2 and "never" not in order
    # b1 was admitted last, so a freed slot goes to b2, then b3 (same key), before the older a2 and c1.
    assert order[:2] == ["a1", "b1"] and order.index("b2") < order.index("a2") and order.index("b3") < order.index("a2")
    assert sorted(order) == ["a1", "a2", "b1", "b2", "b3", "c1"]


def test_is_loopback():
    assert J.is_loopback("http://127.0.0.1:8080/v1") and J.is_loopback("http://localhost/v1")
    assert J.is_loopback("http://[::1]:9/v1")
    assert not J.is_loopback("https://api.openai.com/v1") and not J.is_loopback("http://10.0.0.1/v1")


def test_flags_build_the_config_and_reject_half_a_judge():
    assert J.config_from_args(parse_args([])) is None
    cfg = J.config_from_args(parse_args(["--judge-base-url", "http://127.0.0.1:1/v1", "--judge-model", "m",
                                         "--judge-limit", "5", "--judge-json-schema", "--judge-context-chars", "0",
                                         "--judge-timeout", "7", "--judge-total-timeout", "9"]))
    assert (cfg.limit, cfg.json_schema, cfg.max_context_chars, cfg.call_timeout, cfg.total_timeout) == \
        (5, True, None, 7.0, 9.0)
    assert (cfg.concurrency, cfg.max_retries, cfg.strictness) == (2, 1, 1)
    for argv in (["--judge-model", "m"], ["--judge-base-url", "http://x/v1"], ["--judge-limit", "3"],
                 ["--judge-base-url", "127.0.0.1:8080", "--judge-model", "m"],
                 ["--judge-base-url", "http://x/v1", "--judge-model", "m", "--judge-concurrency", "0"]):
        with pytest.raises(J.JudgeArgumentError):
            J.config_from_args(parse_args(argv))
    assert parse_args(["--answer-mode", "llm"]).answer_mode == "llm" and parse_args([]).answer_mode is None
    with pytest.raises(SystemExit):
        parse_args(["--answer-mode", "guess"])


def test_answer_mode_llm_needs_a_configured_llm(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(J.JudgeArgumentError, match="OPENAI_BASE_URL"):
        J.check_answer_mode("llm")
    J.check_answer_mode("extractive")
    J.check_answer_mode(None)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    J.check_answer_mode("llm")


def test_report_section_and_summary_show_mean_and_n():
    from eval.report import markdown

    judged = {"metrics": {"faithfulness": {"mean": 0.5, "n": 2, "of": 3, "failed": 1, "skipped": 0,
                                           "ragas_class": "Faithfulness"},
                          "factual_correctness": {"mean": math.nan, "n": 0, "of": 3, "failed": 3, "skipped": 0},
                          "response_relevancy": {"mean": 0.25, "n": 3, "of": 3, "failed": 0, "skipped": 0}},
              "meta": {"model": "m", "base_url": "http://127.0.0.1:1/v1", "samples": 4, "judged": 3, "scored": 3,
                       "calls": 9, "ok_calls": 6, "failed_calls": 3, "http_responses": 9,
                       "call_errors": {"timeout": 3}, "finished": False, "seconds": 1.5,
                       "answer_modes": {"extractive": 3}, "config": {"total_timeout": 9.0}}}
    md = "\n".join(J.markdown_lines(judged))
    assert "| faithfulness | Faithfulness | 0.500 | 2 of 3 | 1 | 0 |" in md
    assert "| factual_correctness |  | n/a | 0 of 3 | 3 | 0 |" in md
    assert "timeout: 3" in md and "overall timeout" in md
    text = "\n".join(J.summary_lines(judged))
    assert "response_relevancy" in text and "0.250" in text and "3/3 samples scored" in text

    # The report puts the section between the no-LLM Ragas table and the own metrics.
    results = _minimal_results()
    assert "LLM-judged" not in markdown(results)
    results["judge"] = judged
    report = markdown(results)
    assert report.index("## Ragas (no LLM)") < report.index("## Ragas, LLM-judged (not gated)") < \
        report.index("## Own metrics")


def _minimal_results() -> dict:
    retr = {n: {"recall@1": 1.0, "recall@5": 1.0, "recall@10": 1.0, "mrr@10": 1.0} for n in ("bm25", "dense", "fused")}
    overall = {"questions": 1, "key_fact_recall": 1.0, "evidence_in_top5": 1.0, "evidence_id_in_top5": 1.0,
               "citation_validity": 1.0, "refusal_precision": 1.0, "refusal_recall": 1.0,
               "refusal_counts": {"tp": 0, "fp": 0, "fn": 0}}
    return {"overall": overall, "headline": {}, "thresholds": {}, "retrieval": retr, "ragas": {}, "by_kind": {},
            "questions": [], "settings": {},
            "meta": {"finished_at": "now", "gold": "g", "gold_sha256": "0" * 64, "k": 5, "seconds": 1.0,
                     "index_fingerprint": "f", "prompt_hash": None}}


# ---------------------------------------------------------------- a scripted judge on a loopback socket
def _instance(schema: dict, key: str = ""):
    """A minimal value that satisfies one of our schema hints."""
    kind = schema.get("type")
    if kind == "object":
        return {k: _instance(v, k) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [_instance(schema["items"], key) for _ in range(schema.get("minItems", 1))]
    if kind == "integer":
        return 0 if key == "noncommittal" else 1
    if kind == "number":
        return 0.5
    return "FooServe cuts latency by thirty percent"


class ScriptedJudge:
    """GET /v1/models and POST /v1/chat/completions. Replies that satisfy the request's schema, except:
    a prompt containing BROKEN gets invalid JSON, one containing SLOW waits `slow_seconds` first."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.inflight = self.max_inflight = 0
        self.slow_seconds = 5.0
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, payload: bytes, code: int = 200) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # noqa: N802
                self._send(json.dumps({"object": "list", "data": [{"id": "judge", "object": "model"}]}).encode())

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with owner.lock:
                    owner.requests.append(body)
                    owner.inflight += 1
                    owner.max_inflight = max(owner.max_inflight, owner.inflight)
                try:
                    prompt = body["messages"][-1]["content"]
                    time.sleep(0.05)  # long enough for concurrent requests to overlap
                    if "SLOW" in prompt:
                        time.sleep(owner.slow_seconds)
                    schema = (body.get("response_format") or {}).get("schema")
                    content = '{"statements": [' if "BROKEN" in prompt or not schema else \
                        json.dumps(_instance(schema))
                    reply = {"id": "x", "object": "chat.completion", "created": 0, "model": "judge",
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": content}}]}
                    self._send(json.dumps(reply).encode())
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass
                finally:
                    with owner.lock:
                        owner.inflight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted():
    server = ScriptedJudge()
    yield server
    server.close()


def _samples(*responses: str) -> list[dict]:
    return [{"id": f"s{i}", "user_input": f"How fast is FooServe, question {i}?", "response": r,
             "reference": "FooServe cuts latency by 30%.", "retrieved_contexts": ["FooServe\nFooServe cuts latency by 30%."],
             "answer_mode": "extractive"} for i, r in enumerate(responses)]


def test_judge_scores_every_sample_and_one_broken_reply_is_nan(scripted, hash_embedder):
    cfg = J.JudgeConfig(base_url=scripted.base_url, model="judge", json_schema=True, max_retries=0)
    samples = _samples("FooServe is fast.", "BROKEN reply wanted.", "FooServe cuts latency.", "")
    result = J.judge(samples, cfg, embedder=hash_embedder)
    from ragas._analytics import do_not_track

    assert do_not_track()
    ok = [r for i, r in enumerate(result.per_sample) if i in (0, 2)]
    assert all(r["faithfulness"] == 1.0 and r["factual_correctness"] == 1.0 for r in ok)
    assert all(0.0 <= r["response_relevancy"] <= 1.0 for r in ok)
    assert all(math.isnan(v) for v in result.per_sample[1].values())  # every call for it got invalid JSON
    assert all(math.isnan(v) for v in result.per_sample[3].values())  # no response: skipped, no call made
    for name in J.JUDGE_METRICS:
        assert result.metrics[name]["n"] == 2 and result.metrics[name]["of"] == 4
        assert result.metrics[name]["failed"] == 1 and result.metrics[name]["skipped"] == 1
    meta = result.meta
    assert meta["judged"] == meta["samples"] == 4 and meta["scored"] == 2 and meta["finished"]
    assert meta["call_errors"] == {"invalid JSON reply": 3}  # one failed call per metric, then that metric stops
    # faithfulness 2 calls, factual correctness 4, relevancy 1: 7 per good sample; 1 each for the broken one.
    assert meta["calls"] == len(scripted.requests) == meta["http_responses"] == 2 * 7 + 3
    assert 1 <= scripted.max_inflight <= cfg.concurrency
    # Every request named the model and carried the reply's schema, with instructor's JSON mode underneath.
    assert all(r["model"] == "judge" and r["response_format"]["type"] == "json_object" and
               "schema" in r["response_format"] for r in scripted.requests)


def test_judge_limit_and_plain_json_mode(scripted, hash_embedder):
    # Without --judge-json-schema the request is instructor's plain JSON mode; this server then replies invalid JSON.
    cfg = J.JudgeConfig(base_url=scripted.base_url, model="judge", limit=1, max_retries=0)
    result = J.judge(_samples("FooServe is fast.", "Another."), cfg, embedder=hash_embedder)
    assert result.meta["judged"] == 1 and result.meta["samples"] == 2 and len(result.per_sample) == 1
    assert result.meta["scored"] == 0
    assert all(r["response_format"] == {"type": "json_object"} for r in scripted.requests)


def test_a_slow_call_times_out_into_nan(scripted, hash_embedder):
    scripted.slow_seconds = 5.0
    cfg = J.JudgeConfig(base_url=scripted.base_url, model="judge", json_schema=True, max_retries=0,
                        call_timeout=0.5)
    t0 = time.perf_counter()
    result = J.judge(_samples("SLOW answer.", "FooServe is fast."), cfg, embedder=hash_embedder)
    assert time.perf_counter() - t0 < 10  # three timed-out calls of 0.5 s, two at a time, plus the good sample
    assert all(math.isnan(v) for v in result.per_sample[0].values())
    assert result.per_sample[1]["faithfulness"] == 1.0
    assert result.meta["call_errors"] == {"timeout": 3} and result.meta["finished"]


def test_the_overall_timeout_stops_the_run(scripted, hash_embedder):
    scripted.slow_seconds = 3.0
    cfg = J.JudgeConfig(base_url=scripted.base_url, model="judge", json_schema=True, total_timeout=0.5)
    t0 = time.perf_counter()
    result = J.judge(_samples("SLOW one.", "SLOW two.", "SLOW three."), cfg, embedder=hash_embedder)
    assert time.perf_counter() - t0 < 3
    assert not result.meta["finished"] and result.meta["scored"] == 0
    assert all(m["n"] == 0 for m in result.metrics.values())


def test_an_unreachable_judge_is_reported_clearly_before_any_answering(capsys, tmp_path):
    from fake_llm import refused_port

    from eval.run import main

    url = f"http://127.0.0.1:{refused_port()}/v1"
    with pytest.raises(J.JudgeUnavailable, match="unreachable.*rag serve-llm"):
        J.check_endpoint(url, "judge", timeout=2)
    t0 = time.perf_counter()
    code = main(["--judge-base-url", url, "--judge-model", "judge", "--out", str(tmp_path), "--no-progress"])
    assert code == 2 and time.perf_counter() - t0 < 10
    err = capsys.readouterr().err
    assert "judge endpoint" in err and "unreachable" in err
    assert not (tmp_path / "latest.json").exists()


def test_the_judge_runs_inside_a_running_event_loop(scripted, hash_embedder):
    import asyncio

    cfg = J.JudgeConfig(base_url=scripted.base_url, model="judge", json_schema=True)

    async def inside():
        return J.judge(_samples("FooServe is fast."), cfg, embedder=hash_embedder)

    assert asyncio.run(inside()).metrics["faithfulness"]["n"] == 1


# ---------------------------------------------------------------- end to end against llama.cpp + SmolLM2
@pytest.mark.slow
def test_judged_eval_on_five_gold_questions_against_the_real_llm_server(llm_server, real_settings, tmp_path, capsys):
    """`python -m eval ... --judge-*` on 5 gold questions, judged by SmolLM2 through llama.cpp.

    SmolLM2-135M is a weak judge, so the values are not checked: only that every metric was reported with a
    number or nan and its n, that the judge's requests reached the server, and that something was really scored.
    """
    from eval.run import main

    out = tmp_path / "reports"
    t0 = time.perf_counter()
    code = main(["--limit", "5", "--out", str(out), "--no-progress",
                 "--judge-base-url", llm_server.base_url, "--judge-model", llm_server.model, "--judge-limit", "5",
                 "--answer-mode", "extractive", "--judge-json-schema", "--judge-retries", "0",
                 "--judge-context-chars", "1200",
                 "--judge-total-timeout", "900"], settings=real_settings)
    seconds = time.perf_counter() - t0
    printed = capsys.readouterr().out
    assert code == 0

    report = json.loads((out / "latest.json").read_text())
    judged = report["judge"]
    assert set(judged["metrics"]) == set(J.JUDGE_METRICS)
    for name, m in judged["metrics"].items():
        assert m["mean"] is None or 0.0 <= m["mean"] <= 1.0, (name, m)  # JSON null = nan
        assert isinstance(m["n"], int) and 0 <= m["n"] <= 5 and m["of"] == 5
    meta = judged["meta"]
    assert meta["judged"] == 5 and meta["finished"], meta
    assert meta["model"] == llm_server.model and meta["answer_modes"] == {"extractive": 5}
    assert meta["http_responses"] >= meta["calls"] >= 5 and meta["ok_calls"] >= 1, meta
    assert sum(m["n"] for m in judged["metrics"].values()) >= 1, judged  # at least one real score
    scored = [q["judge"] for q in report["questions"] if q.get("judge")]
    assert len(scored) == 5 and all(set(s) == set(J.JUDGE_METRICS) for s in scored)

    posts = llm_server.log_path.read_text(errors="replace").count("POST /v1/chat/completions")
    assert posts >= meta["http_responses"]  # the requests really reached llama.cpp (other tests may add more)

    md = (out / "latest.md").read_text()
    section = md.split("## Ragas, LLM-judged (not gated)", 1)[1].split("\n## ", 1)[0]
    for name in J.JUDGE_METRICS:
        assert re.search(rf"\| {name} \| [^|]+ \| (\d\.\d{{3}}|n/a) \| \d of 5 \|", section), (name, section)
    assert "judged (not gated)" in printed
    print(f"\njudged 5 answers in {meta['seconds']:.1f} s (whole run {seconds:.1f} s): "
          + ", ".join(f"{k} {v['mean']} (n={v['n']})" for k, v in judged["metrics"].items()))
