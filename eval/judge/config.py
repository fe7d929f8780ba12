"""The judge's settings: the JudgeConfig dataclass (its defaults are the only ones; the `--judge-*` flags read
them), the reported metric names, and the command-line flags of `python -m eval` that build it."""
from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from urllib.parse import urlsplit

# Reported names, in report order, with the ragas class that computes each.
JUDGE_METRICS = ("faithfulness", "factual_correctness", "response_relevancy")
RAGAS_CLASSES = {"faithfulness": "Faithfulness", "factual_correctness": "FactualCorrectness",
                 "response_relevancy": "AnswerRelevancy (ResponseRelevancy)"}
API_KEY_ENV = "JUDGE_API_KEY"  # the judge's key, if it needs one; never taken from OPENAI_API_KEY


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


DEFAULTS = {f.name: f.default for f in fields(JudgeConfig) if f.default is not MISSING}


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
    d = DEFAULTS
    g.add_argument("--judge-concurrency", type=int, default=d["concurrency"], metavar="N",
                   help=f"judge calls in flight ({d['concurrency']})")
    g.add_argument("--judge-timeout", type=float, default=d["call_timeout"], metavar="S",
                   help=f"seconds per judge call ({d['call_timeout']:g})")
    g.add_argument("--judge-total-timeout", type=float, default=d["total_timeout"], metavar="S",
                   help=f"seconds for all judging; unfinished samples stay nan ({d['total_timeout']:g})")
    g.add_argument("--judge-retries", type=int, default=d["max_retries"], metavar="N",
                   help=f"re-asks after a reply that is not the expected JSON ({d['max_retries']})")
    g.add_argument("--judge-strictness", type=int, default=d["strictness"], metavar="N",
                   help=f"questions generated per answer for response relevancy ({d['strictness']}; "
                        "see eval/judge/config.py)")
    g.add_argument("--judge-context-chars", type=int, default=d["max_context_chars"], metavar="N",
                   help=f"characters of context shown for faithfulness, cited passages first "
                        f"({d['max_context_chars']}; 0 = all)")
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
