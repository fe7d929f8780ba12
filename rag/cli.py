"""The `rag` command: build, ask, config. Each subcommand imports what it needs when it runs."""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line instead of a usage dump."""

    def error(self, message: str) -> None:  # noqa: D102
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Redact(logging.Filter):
    """Scrubs the API key and any user:password@ part of a URL from log records (httpx logs full URLs with -v)."""

    _USERINFO = re.compile(r"(?<=://)[^/@\s]+@")

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def _clean(self, text: str) -> str:
        text = self._USERINFO.sub("***@", text)
        return text.replace(self.key, "***") if len(self.key) >= 4 else text

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        msg = record.getMessage()
        clean = self._clean(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
        return True


def _settings(args: argparse.Namespace):
    """Settings with the command's --corpus and --index folders, when given."""
    from .config import Settings

    overrides = {k: v for k, v in (("corpus_dir", getattr(args, "corpus", None)),
                                   ("index_dir", getattr(args, "index", None))) if v is not None}
    return Settings(**overrides)


def _cmd_build(args: argparse.Namespace) -> int:
    from .api import build_index
    from .collection import load_collection
    from .index import IndexError_, check_fresh, read_manifest
    from .sources.registry import assign

    settings = _settings(args)
    for name, why in assign(settings.corpus_dir)[1].items():
        print(f"Skipped {name}: {why}", file=sys.stderr)
    if not args.force:
        try:
            check_fresh(read_manifest(settings.index_dir), settings)
            print(f"Index at {settings.index_dir} is up to date; use --force to rebuild.")
            return 0
        except IndexError_:
            pass
    path = build_index(settings, progress=not args.quiet)
    manifest = json.loads((path / "manifest.json").read_text())
    print(f"Built index {manifest['fingerprint']} of {load_collection(settings.corpus_dir).name} at {path}: "
          f"{manifest['chunk_count']} chunks, "
          f"{manifest['sentence_count']} sentences, {manifest['build_seconds']} s.")
    return 0


def _format_answer(answer) -> str:
    lines = [f"(understood as: {answer.rewritten_question})", ""] if answer.rewritten_question else []
    lines += [answer.text, ""]
    if answer.citations:
        lines.append("Sources:")
        for c in answer.citations:
            url = f" <{c.url}>" if c.url else ""
            lines.append(f"  [{c.marker}] {c.title} ({c.chunk_id}){url}")
    elif answer.refused and answer.contexts:
        lines.append("Closest passages:")
        for h in answer.contexts[:3]:
            lines.append(f"  - {h.chunk.title} ({h.chunk.id})")
    for note in answer.notes:
        lines.append(f"Note: {note}")
    if answer.unsupported:
        lines.append(f"Dropped as unsupported: {len(answer.unsupported)} sentence(s) (see --json)")
    lines.append(f"[mode: {answer.mode}, {answer.timings_ms.get('total', 0):.0f} ms]")
    return "\n".join(lines)


def _cmd_ask(args: argparse.Namespace) -> int:
    from .embed import preload

    settings = _settings(args)
    preload(settings)  # the ONNX session loads while the rest of the pipeline is imported and the index read
    from .api import ask
    from .question import validate_question
    from .llm import llm_status

    validate_question(args.question, settings.answer.max_question_chars)  # a bad question is one line on stderr, before anything else
    status = llm_status(settings, args.mode)
    if not args.json:
        print(f"[{_mode_line(status)}]", file=sys.stderr)
    if args.stream and not args.json:
        return _stream_answer(args, settings)
    answer = ask(args.question, k=args.k, mode=args.mode, settings=settings)
    print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False) if args.json else _format_answer(answer))
    return 0


def _stream_answer(args: argparse.Namespace, settings) -> int:
    """Print the answer as it is generated, then the checked answer, the time to first token and the total."""
    import time

    from .api import ask_stream
    from .types import Answer

    t0, first, answer = time.perf_counter(), None, None
    for item in ask_stream(args.question, k=args.k, mode=args.mode, settings=settings):
        if isinstance(item, Answer):
            answer = item
        elif item:
            first = first if first is not None else time.perf_counter() - t0
            print(item, end="", flush=True)
    total = time.perf_counter() - t0
    print("\n\nChecked answer:\n" + _format_answer(answer))
    print(f"[time to first token {first or 0:.1f} s, total {total:.1f} s]")
    return 0


def _mode_line(status) -> str:
    what = f"LLM ({status.model} at {status.base_url})" if status.mode == "llm" else "offline extractive"
    return f"mode: {what}. {status.reason}"


def _cmd_config(args: argparse.Namespace) -> int:
    from .config import Settings
    from .index import IndexError_, check_fresh, read_manifest
    from .llm import llm_status
    from .prompts import PromptError, load_prompts

    settings = Settings()
    line = _mode_line(llm_status(settings))
    print(line[0].upper() + line[1:])
    try:
        print(f"Prompts: {load_prompts().hash} (prompts/ validated)")
    except PromptError as e:
        print(f"Prompts: invalid: {e}")
    try:
        manifest = read_manifest(settings.index_dir)
        check_fresh(manifest, settings)
        print(f"Index: {settings.index_dir} (fingerprint {manifest['fingerprint']}, {manifest['chunk_count']} chunks, up to date)")
    except IndexError_ as e:
        print(f"Index: {e}")
    from .config import env_name

    for group, values in settings.by_group().items():
        print(f"Settings: {group}")
        for name, value in values.items():
            print(f"  {env_name(name)} = {value}")
    return 0


def _cmd_link_notes(args: argparse.Namespace) -> int:
    from .aliases import LINKS_FILE, link_notes, write_links
    from .config import Settings
    from .corpus import load_corpus
    from .embed import embedder_for

    settings = Settings()
    chunks = load_corpus(settings.corpus_dir)
    notes = [c for c in chunks if c.metadata.get("describes_row")]
    posters = [c for c in chunks if c.metadata.get("table_row")]
    emb = embedder_for(settings)
    links = link_notes(notes, posters, emb.encode([c.embed_text for c in notes]), emb.encode([c.embed_text for c in posters]))
    out = settings.corpus_dir / LINKS_FILE
    write_links(links, out)
    renamed = [ln for ln in links if ln.notes_name.split(":")[0].lower() not in ln.poster_title.lower()]
    print(f"Linked {len(links)} of {len(notes)} notes entries to posters -> {out}. Review it; names that differ:")
    for ln in renamed:
        print(f"  {ln.confidence:.2f}  {ln.notes_name}  ->  {ln.poster_title}")
    return 0


def _cmd_ui(args: argparse.Namespace) -> int:
    import threading

    settings = _settings(args)
    # Importing Gradio takes seconds; the ONNX session and the index load meanwhile (the session outside the GIL).
    from .pipeline import warm_up

    threading.Thread(target=warm_up, args=(settings,), name="rag-early-warm-up", daemon=True).start()
    from ui.app import launch

    launch(host=args.host, port=args.port, share=args.share, settings=settings)
    return 0


def _cmd_serve_llm(args: argparse.Namespace) -> int:
    from .local_model import LocalModelError
    from .serve import serve_forever

    try:
        return serve_forever(args.host, args.port, args.model, cache_dir=_settings(args).cache_dir)
    except LocalModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _description() -> str:
    """What `rag --help` says the assistant answers about: the default corpus folder's collection.toml.

    The folder is RAG_CORPUS_DIR, else corpus/ next to the package (Settings.corpus_dir's default, read here
    without importing the settings: `rag --help` stays fast).
    """
    import os

    from .collection import load_collection

    folder = os.environ.get("RAG_CORPUS_DIR") or Path(__file__).resolve().parent.parent / "corpus"
    return f"Cited answers about {load_collection(Path(folder)).description}."


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for `rag`."""
    p = _Parser(prog="rag", description=_description())
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    b = sub.add_parser("build", help="build the search index under index/")
    b.add_argument("--force", action="store_true", help="rebuild even if the index is up to date")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=_cmd_build)
    a = sub.add_parser("ask", help="answer a question with citations")
    a.add_argument("question", help="the question, in quotes")
    a.add_argument("-k", type=int, default=None, metavar="N", help="passages to retrieve (default 5)")
    a.add_argument("--json", action="store_true", help="print the full Answer as JSON")
    a.add_argument("--stream", action="store_true",
                   help="print the answer as it is generated, then the checked answer and the timings")
    a.add_argument("--mode", choices=["auto", "llm", "extractive"], default=None,
                   help="answer with the LLM or offline (default: RAG_MODE, auto = LLM if configured)")
    a.set_defaults(func=_cmd_ask)
    for sp in (b, a):
        sp.add_argument("--corpus", type=Path, default=None, metavar="DIR",
                        help="corpus folder: any files the sources accept (default RAG_CORPUS_DIR or corpus/)")
        sp.add_argument("--index", type=Path, default=None, metavar="DIR",
                        help="index folder for that corpus (default RAG_INDEX_DIR or index/)")
    ln = sub.add_parser("link-notes", help="regenerate corpus/notes_poster_links.tsv (notes entry -> program poster)")
    ln.set_defaults(func=_cmd_link_notes)
    sub.add_parser("eval", help="run the offline evaluation suite (flags: rag eval --help)", add_help=False)
    sub.add_parser("bench", help="run the performance benchmark (flags: rag bench --help; rag bench scale --help)",
                   add_help=False)
    u = sub.add_parser("ui", help="start the chat page (Gradio)")
    u.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    u.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    u.add_argument("--share", action=argparse.BooleanOptionalAction, default=False,
                   help="ask Gradio for a public share link (needs internet; default off)")
    u.set_defaults(func=_cmd_ui)
    s = sub.add_parser("serve-llm", help="serve the local model (Qwen2.5-Coder-1.5B-Instruct) as an OpenAI-compatible endpoint")
    s.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    s.add_argument("--model", default=None,
                   help="path to a GGUF file (default: the embedded Qwen model, joined from its PyPI parts)")
    s.set_defaults(func=_cmd_serve_llm)
    c = sub.add_parser("config", help="show the active settings, mode and index state")
    c.set_defaults(func=_cmd_config)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `rag` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["eval"]:  # flags belong to the evaluation suite's own parser
        from eval.run import main as eval_main

        return eval_main(argv[1:])
    if argv[:1] == ["bench"]:  # flags belong to the benchmark's own parser
        from bench.__main__ import main as bench_main

        return bench_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from .config import LLMSettings

    key = LLMSettings().endpoint()[1]  # the configured key (OPENAI_API_KEY): never shown in a log line
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _Redact) for f in handler.filters):
            handler.addFilter(_Redact(key))
    if getattr(args, "k", None) is not None and not 1 <= args.k <= 50:
        parser.error("-k must be between 1 and 50")
    from .api import QuestionError
    from .index import IndexError_
    from .prompts import PromptError

    try:
        return args.func(args)
    except QuestionError as e:
        print(f"rag: error: {e}", file=sys.stderr)
        return 2
    except IndexError_ as e:
        print(f"rag: index error: {e}", file=sys.stderr)
        return 1
    except PromptError as e:
        print(f"rag: prompt error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
