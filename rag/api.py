"""The public entry points: `ask` and `build_index`. The only place where the pipeline pieces are wired together."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from . import structured
from .answer import REFUSAL_TEXT, compose, resolve_placeholders, score_sentences, select, supported
from .config import Settings, corpus_files
from .embed import Embedder, default_embedder
from .index import IndexMissingError, IndexStaleError, LoadedIndex, build_index as _build, check_fresh, load_index, read_manifest
from .text import normalize_question
from .types import Answer, Hit

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
        self.posters = structured.poster_table(self.index.chunks)
        rows = [self.positions[p.chunk_id] for p in self.posters]
        self.poster_vectors = np.vstack([self.index.faiss_index.reconstruct(i) for i in rows]) if rows else None


_CACHE: dict[str, _Loaded] = {}
_CACHE_LOCK = threading.Lock()


def _corpus_stat(settings: Settings) -> tuple:
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in corpus_files(settings))


def build_index(settings: Settings | None = None, *, embedder: Embedder | None = None, progress: bool = True):
    """Build (or rebuild) the index for the configured corpus; returns the index folder."""
    settings = settings or Settings()
    embedder = embedder or default_embedder(settings.cache_dir, settings.embed_model)
    path = _build(settings, embedder, progress=progress)
    with _CACHE_LOCK:
        _CACHE.pop(str(settings.index_dir), None)
    return path


def get_retriever(settings: Settings, embedder: Embedder | None = None):
    """The loaded index and retriever, building the index if missing and rebuilding it if stale."""
    from .retrieve import Retriever

    key = str(settings.index_dir)
    stat = _corpus_stat(settings)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached and cached.corpus_stat == stat:
            return cached
        try:
            check_fresh(read_manifest(settings.index_dir), settings)
        except IndexMissingError:
            log.warning("no index at %s; building it now (one-off, about 30 s)", settings.index_dir)
            _build(settings, embedder or default_embedder(settings.cache_dir, settings.embed_model), progress=False)
        except IndexStaleError as e:
            log.warning("%s Rebuilding it now.", e)
            _build(settings, embedder or default_embedder(settings.cache_dir, settings.embed_model), progress=False)
        index = load_index(settings)
        loaded = _Loaded(index, Retriever(index), stat)
        _CACHE[key] = loaded
        return loaded


def _structured_answer(q: str, route, loaded: _Loaded, embedder: Embedder, hits: list[Hit], notes: list[str],
                       timings: dict, t0: float) -> Answer:
    """Answer a count, list, ranking or authorship question exactly from the poster table."""
    t = time.perf_counter()
    scores = None
    if route.field == "topic" and loaded.poster_vectors is not None:
        scores = (loaded.poster_vectors @ embedder.encode([route.value])[0]).tolist()
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
    if isinstance(question, bytes):
        question = question.decode("utf-8", "replace")
    if not isinstance(question, str):
        raise QuestionError(f"question must be a string, not {type(question).__name__}")
    cleaned, notes = normalize_question(question, settings.max_question_chars)
    if not cleaned:
        raise QuestionError("question is empty")
    return cleaned, notes


def ask(question: str, *, k: int | None = None, settings: Settings | None = None,
        embedder: Embedder | None = None) -> Answer:
    """Answer a question from the corpus with cited sentences, or say plainly that the documents don't answer."""
    settings = settings or Settings()
    k = k or settings.k
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    q, notes = validate_question(question, settings)
    embedder = embedder or default_embedder(settings.cache_dir, settings.embed_model)
    loaded = get_retriever(settings, embedder)
    retriever, index = loaded.retriever, loaded.index
    timings["load"] = (time.perf_counter() - t0) * 1000

    t = time.perf_counter()
    qvec = embedder.encode([q])[0]
    timings["embed"] = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    hits = retriever.search(q, qvec, k, settings.candidates, settings.rrf_k, settings.dense_weight,
                            settings.bm25_weight, settings.name_boost, settings.sentence_weight)
    timings["retrieve"] = (time.perf_counter() - t) * 1000

    n = structured.source_number(q)
    source_text = structured.source_answer(n, index.chunks) if n is not None else None
    if source_text:
        return _placeholder_answer(q, source_text, "source", loaded, hits, notes, timings, t0)
    named = [retriever.chunks[i].id for i in retriever.named_chunks(q) if retriever.chunks[i].kind == "poster"]
    route = structured.route(q, loaded.posters, named)
    if route is not None:
        return _structured_answer(q, route, loaded, embedder, hits, notes, timings, t0)

    t = time.perf_counter()
    positions = loaded.positions
    top_dense = float(index.faiss_index.reconstruct(positions[hits[0].chunk.id]) @ qvec) if hits else 0.0
    ok, why = supported(q, hits, retriever.idf, retriever.vocabulary, top_dense, settings.min_support)
    text, citations, refused = REFUSAL_TEXT, [], True
    if ok:
        sents = [index.sentences[positions[h.chunk.id]] for h in hits]
        vecs = [index.sentence_vectors[index.sentence_owner == positions[h.chunk.id]] for h in hits]
        chosen = select(score_sentences(q, qvec, hits, sents, vecs, retriever.idf), settings.max_answer_sentences)
        if chosen:
            text, citations = compose(chosen, hits)
            refused = False
    if refused:
        notes.append(f"Refused: {why}." if why else "Refused: no sentence in the passages answers the question.")
    timings["answer"] = (time.perf_counter() - t) * 1000
    timings["total"] = (time.perf_counter() - t0) * 1000
    return Answer(question=q, text=text, citations=citations, contexts=hits, refused=refused, mode="extractive",
                  notes=notes, timings_ms=timings, index_fingerprint=index.fingerprint)
