"""The public entry points: `ask` and `build_index`. The only place where the pipeline pieces are wired together."""
from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from . import structured
from .answer import REFUSAL_TEXT, resolve_placeholders, supported
from .answerable import CorpusText
from .extractive import WEIGHTS, compose_answer
from .intents import asked
from .config import Settings, corpus_files
from .embed import Embedder, embedder_for
from .followup import is_follow_up, rewrite as rewrite_offline
from .subjects import find_subjects, passages
from .index import (IndexMissingError, IndexStaleError, LoadedIndex, build_index as _build, check_fresh, embedder_changes,
                    load_index, read_manifest)
from .text import fold, normalize_question
from .types import Answer, Hit, Retrieved

log = logging.getLogger(__name__)


class QuestionError(ValueError):
    """The question cannot be answered as given (empty, whitespace only, or not a string)."""


@dataclass
class _Loaded:
    index: LoadedIndex
    retriever: object
    corpus_stat: tuple
    posters: list = None
    poster_vectors: np.ndarray | None = None
    positions: dict | None = None

    def __post_init__(self) -> None:
        self.positions = {c.id: i for i, c in enumerate(self.index.chunks)}
        self.by_id = {c.id: c for c in self.index.chunks}
        # Everything the documents say, folded once: a name the question uses that is not in here is unknown.
        self.corpus_text = CorpusText(list(self.retriever.folded), self.retriever.vocabulary)
        self.posters = structured.poster_table(self.index.chunks)
        rows = [self.positions[p.chunk_id] for p in self.posters]
        self.poster_vectors = np.vstack([self.index.faiss_index.reconstruct(i) for i in rows]) if rows else None


_CACHE: dict[str, _Loaded] = {}
_CACHE_LOCK = threading.Lock()
_ENCODER: ThreadPoolExecutor | None = None


def _encode_query(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Encode question text; a torch embedder (`thread_bound`) runs on one long-lived thread.

    torch keeps buffers per thread that runs it (a few MB each, never returned), and a web server answers on
    whichever of its many worker threads is free: encoding there made the chat server's memory grow by ~0.5 MB
    per question under load. One encoder thread keeps it flat; queries are short, so serialising them costs little.
    ONNX Runtime's session is thread-safe and owns its thread pool, so it is called directly (no hand-off).
    """
    global _ENCODER
    if not getattr(embedder, "thread_bound", False):
        return embedder.encode(texts)
    if _ENCODER is None:
        with _CACHE_LOCK:
            if _ENCODER is None:
                _ENCODER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-encode")
    return _ENCODER.submit(embedder.encode, texts).result()


def _corpus_stat(settings: Settings) -> tuple:
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in corpus_files(settings))


def build_index(settings: Settings | None = None, *, embedder: Embedder | None = None, progress: bool = True):
    """Build (or rebuild) the index for the configured corpus; returns the index folder."""
    settings = settings or Settings()
    embedder = embedder or embedder_for(settings)
    path = _build(settings, embedder, progress=progress)
    with _CACHE_LOCK:
        _CACHE.pop(str(settings.index_dir), None)
    return path


def get_retriever(settings: Settings, embedder: Embedder | None = None):
    """The loaded index and retriever, building the index if missing and rebuilding it if stale."""
    from .retrieve import Retriever, SearchParams

    key = str(settings.index_dir)
    stat = _corpus_stat(settings)
    embedder = embedder or embedder_for(settings)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached and cached.corpus_stat == stat and not embedder_changes(cached.index.manifest, embedder):
            return cached
        try:
            check_fresh(read_manifest(settings.index_dir), settings, embedder)
        except IndexMissingError:
            log.warning("no index at %s; building it now (one-off, about 30 s)", settings.index_dir)
            _build(settings, embedder, progress=False)
        except IndexStaleError as e:
            log.warning("%s Rebuilding it now.", e)
            _build(settings, embedder, progress=False)
        index = load_index(settings)
        loaded = _Loaded(index, Retriever(index, SearchParams.from_settings(settings)), stat)
        _CACHE[key] = loaded
        return loaded


def _structured_answer(q: str, route, loaded: _Loaded, embedder: Embedder, hits: list[Hit], notes: list[str],
                       timings: dict, t0: float) -> Answer:
    """Answer a count, list, ranking or authorship question exactly from the poster table."""
    t = time.perf_counter()
    scores = None
    if route.field == "topic" and loaded.poster_vectors is not None:
        scores = (loaded.poster_vectors @ _encode_query(embedder, [route.value])[0]).tolist()
    text = structured.answer(route, loaded.posters, scores)
    notes.append(f"Answered exactly from the poster table ({route.op}"
                 + (f" by {route.field}" if route.field else "") + "), not from top-k passages.")
    timings["answer"] = (time.perf_counter() - t) * 1000
    return _placeholder_answer(q, text, "structured", loaded, hits, notes, timings, t0)


def _placeholder_answer(q: str, text: str, route: str, loaded: _Loaded, hits: list[Hit], notes: list[str],
                        timings: dict, t0: float) -> Answer:
    """An Answer from text whose {cite:id} placeholders become [n] markers; cited chunks are the contexts."""
    by_id = {c.id: Hit(c, 1.0) for c in loaded.index.chunks}
    text, citations = resolve_placeholders(text, by_id)
    contexts = [by_id[c.chunk_id] for c in citations] or hits
    timings["total"] = (time.perf_counter() - t0) * 1000
    return Answer(question=q, text=text, citations=citations, contexts=contexts, refused=False, mode="extractive",
                  notes=notes, timings_ms=timings, index_fingerprint=loaded.index.fingerprint, route=route)


def validate_question(question: object, settings: Settings) -> tuple[str, list[str]]:
    """Reject non-strings and empty questions; clean and bound the rest."""
    if isinstance(question, (bytes, bytearray)):
        question = bytes(question).decode("utf-8", "replace")  # invalid bytes become U+FFFD, removed with a note
    if not isinstance(question, str):
        raise QuestionError(f"question must be a string, not {type(question).__name__}")
    cleaned, notes = normalize_question(question, settings.max_question_chars)
    if not cleaned:
        raise QuestionError("question is empty")
    return cleaned, notes


@dataclass
class _Turn:
    """A question after validation, follow-up rewriting and retrieval: everything the answerers need."""

    question: str
    search_question: str
    rewritten: str | None
    status: object
    loaded: _Loaded
    qvec: np.ndarray
    hits: list[Hit]
    notes: list[str]
    timings: dict
    t0: float
    settings: Settings
    embedder: Embedder


def _prepare(question: object, history, mode: str | None, k: int | None, settings: Settings | None,
             embedder: Embedder | None) -> _Turn:
    from .llm import llm_status

    settings = settings or Settings()
    k = k or settings.k
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    q, notes = validate_question(question, settings)
    status = llm_status(settings, mode)
    if status.requested == "llm" and status.mode != "llm":
        notes.append(status.reason + " Answered offline instead.")
    history = _clean_history(history)
    embedder = embedder or embedder_for(settings)
    loaded = get_retriever(settings, embedder)
    timings["load"] = (time.perf_counter() - t0) * 1000

    rewritten = None
    if history and is_follow_up(q):
        t = time.perf_counter()
        if status.mode == "llm":
            from .generate import rewrite_with_llm

            rewritten, note = rewrite_with_llm(q, history, settings)
            if note:
                notes.append(note)
        else:
            rewritten = rewrite_offline(q, history)
        rewritten = rewritten if rewritten and rewritten != q else None
        timings["rewrite"] = (time.perf_counter() - t) * 1000
    search_q = rewritten or q

    t = time.perf_counter()
    qvec = _encode_query(embedder, [search_q])[0]
    timings["embed"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    hits = _search(loaded.retriever, search_q, qvec, k, settings)
    timings["retrieve"] = (time.perf_counter() - t) * 1000
    return _Turn(q, search_q, rewritten, status, loaded, qvec, hits, notes, timings, t0, settings, embedder)


def _search(retriever, question: str, qvec: np.ndarray, k: int, settings: Settings) -> list[Hit]:
    from .retrieve import SearchParams

    return retriever.tuned(SearchParams.from_settings(settings)).search(question, qvec, k)


def _clean_history(history) -> list[tuple[str, str]]:
    """History as (question, answer) string pairs; malformed turns are skipped."""
    out = []
    for turn in history or []:
        if isinstance(turn, (list, tuple)) and len(turn) >= 2 and isinstance(turn[0], str):
            out.append((turn[0], turn[1] if isinstance(turn[1], str) else ""))
    return out


def _routed(turn: _Turn) -> Answer | None:
    """An exact answer for 'source N' and count/list/ranking/authorship questions, else None."""
    q, loaded = turn.search_question, turn.loaded
    n = structured.source_number(q)
    source_text = structured.source_answer(n, loaded.index.chunks) if n is not None else None
    if source_text:
        return _placeholder_answer(q, source_text, "source", loaded, turn.hits, turn.notes, turn.timings, turn.t0)
    retriever = loaded.retriever
    named = [retriever.chunks[i].id for i in retriever.named_chunks(q) if retriever.chunks[i].kind == "poster"]
    route = structured.route(q, loaded.posters, named)
    if route is not None:
        return _structured_answer(q, route, loaded, turn.embedder, turn.hits, turn.notes, turn.timings, turn.t0)
    return None


def _sentence_vectors_of(index: LoadedIndex, position: int) -> np.ndarray:
    """A chunk's sentence vectors: rows are stored chunk by chunk, so a binary search finds its run."""
    lo, hi = np.searchsorted(index.sentence_owner, [position, position + 1])
    return index.sentence_vectors[lo:hi]


def _sentences_of(loaded: _Loaded, hit: Hit) -> list[str]:
    return loaded.index.sentences[loaded.positions[hit.chunk.id]]


def _extractive(turn: _Turn, notes: list[str] | None = None, unsupported: list[str] | None = None) -> Answer:
    """The offline extractive answer from the turn's passages, or a refusal that says what is missing."""
    t = time.perf_counter()
    loaded, hits, q, settings = turn.loaded, turn.hits, turn.search_question, turn.settings
    index, positions, retriever = loaded.index, loaded.positions, loaded.retriever
    notes = turn.notes + (notes or [])
    top_dense = float(index.faiss_index.reconstruct(positions[hits[0].chunk.id]) @ turn.qvec) if hits else 0.0
    ok, why = supported(q, hits, retriever.idf, retriever.vocabulary, top_dense, settings.min_support)
    text, citations, refused, contexts = REFUSAL_TEXT, [], True, hits
    if ok:
        form = asked(q)
        subjects = find_subjects(loaded, q, compare=form.compare)
        if not subjects and form.overview and len(hits) < WEIGHTS.overview_k:
            hits = _search(retriever, q, turn.qvec, WEIGHTS.overview_k, settings)
        found = passages(loaded, hits, subjects, lambda h: _sentences_of(loaded, h),
                         lambda h: _sentence_vectors_of(index, positions[h.chunk.id]))
        composed = compose_answer(q, turn.qvec, found, subjects, retriever.idf, loaded.corpus_text,
                                  settings.max_answer_sentences)
        text, citations, refused = composed.text, composed.citations, composed.refused
        seen = {h.chunk.id for h in hits}
        contexts = hits + [h for h in composed.used if h.chunk.id not in seen]
        why = composed.note.removeprefix("Refused: ") if refused else ""
    if refused:
        notes.append(f"Refused: {why}" if why else "Refused: no sentence in the passages answers the question.")
    turn.timings["answer"] = (time.perf_counter() - t) * 1000
    turn.timings["total"] = (time.perf_counter() - turn.t0) * 1000
    return Answer(question=turn.question, text=text, citations=citations, contexts=contexts, refused=refused,
                  mode="extractive", rewritten_question=turn.rewritten, notes=notes, unsupported=unsupported or [],
                  timings_ms=turn.timings, index_fingerprint=index.fingerprint)


def _stream(turn: _Turn, sources: bool = False) -> Iterator[str | Answer | Retrieved]:
    if sources:
        yield Retrieved(turn.hits, turn.rewritten)
    routed = _routed(turn)
    if routed is not None:
        routed.question, routed.rewritten_question = turn.question, turn.rewritten
        if turn.status.mode == "llm":
            routed.notes.append("The LLM was not needed: this question has an exact answer.")
        yield routed.text
        yield routed
        return
    if turn.status.mode != "llm" or not turn.hits:
        answer = _extractive(turn)
        yield answer.text
        yield answer
        return
    # The documents must hold what is asked before any model writes about it: the same answerability decision as
    # the extractive answer, so a near-miss question is refused in both modes (and no model time is spent on it).
    gate = _extractive(turn)
    if gate.refused:
        gate.mode = "llm"
        gate.notes.append("The model was not asked: the documents don't hold what the question asks.")
        yield gate.text
        yield gate
        return
    turn.timings.pop("answer", None)
    turn.timings.pop("total", None)
    from .generate import llm_answer

    t = time.perf_counter()
    base = dict(question=turn.question, contexts=turn.hits, mode="llm", rewritten_question=turn.rewritten,
                notes=list(turn.notes), timings_ms=turn.timings, index_fingerprint=turn.loaded.index.fingerprint)
    retriever = turn.loaded.retriever
    index, positions = turn.loaded.index, turn.loaded.positions
    for item in llm_answer(turn.search_question, turn.hits, lambda h: _sentences_of(turn.loaded, h), retriever.idf,
                           turn.settings, lambda note, unsup: replace(gate, notes=[*gate.notes, note], unsupported=unsup),
                           base,
                           getattr(retriever, "lowercase_stems", None), getattr(retriever, "vocabulary", None),
                           qvec=turn.qvec, vectors_of=lambda h: _sentence_vectors_of(index, positions[h.chunk.id])):
        if isinstance(item, Answer):
            turn.timings["llm"] = (time.perf_counter() - t) * 1000
            turn.timings["total"] = (time.perf_counter() - turn.t0) * 1000
        yield item


def ask_stream(question: str, *, history: list[tuple[str, str]] | None = None, mode: str | None = None,
               k: int | None = None, settings: Settings | None = None, embedder: Embedder | None = None,
               sources: bool = False) -> Iterator[str | Answer | Retrieved]:
    """Yield the answer's text pieces as they arrive, then the final checked `Answer` (whose text is authoritative).

    With `sources=True` a `Retrieved` (the passages found) comes first, as soon as retrieval ends.
    """
    yield from _stream(_prepare(question, history, mode, k, settings, embedder), sources)


def ask(question: str, *, history: list[tuple[str, str]] | None = None, mode: str | None = None,
        k: int | None = None, settings: Settings | None = None, embedder: Embedder | None = None) -> Answer:
    """Answer a question from the corpus with cited sentences, or say plainly that the documents don't answer.

    `history` holds earlier (question, answer) turns for follow-ups; `mode` forces "llm" or "extractive".
    """
    for item in _stream(_prepare(question, history, mode, k, settings, embedder)):
        if isinstance(item, Answer):
            return item
    raise RuntimeError("the answer stream ended without an Answer")  # pragma: no cover
