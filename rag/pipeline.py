"""The stages of answering one question, as public methods: prepare, retrieve, route, answer (extractive or LLM).

`ask` and `ask_stream` (rag/api.py), the evaluation suite and the benchmarks all run these stages. A `Pipeline`
is cheap to make: the loaded index it reads is cached per process (`rag.loaded`), and questions are embedded on
the process's one encoder thread (`rag.embed.encode_query`).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from . import structured
from .answer import REFUSAL_TEXT, resolve_placeholders, supported
from .collection import collection_for
from .config import Settings
from .embed import Embedder, embedder_for, encode_query
from .extractive import compose_answer
from .heuristics import WEIGHTS
from .followup import is_follow_up, rewrite as rewrite_offline
from .intents import asked
from .llm import LLMStatus, llm_status
from .loaded import LoadedCorpus, load_corpus
from .question import clean_history, validate_question
from .retrieve import SearchParams
from .subjects import find_subjects, passages
from .timing import Stopwatch
from .types import Answer, Hit, Retrieved

log = logging.getLogger(__name__)
# A server warms up once per process, however many of its entry points ask for it (`rag ui` and the page both do).
_WARMING = threading.Lock()
_warmed = False


@dataclass
class Turn:
    """A question after validation, follow-up rewriting and retrieval: everything the answer stages need."""

    question: str  # as asked (cleaned)
    search_question: str  # the standalone question that was searched and is answered
    rewritten: str | None  # the follow-up rewrite, when there was one
    status: LLMStatus
    qvec: np.ndarray
    hits: list[Hit]
    notes: list[str] = field(default_factory=list)
    clock: Stopwatch = field(default_factory=Stopwatch)


class Pipeline:
    """Answers questions over the index that `settings` names, with `embedder` (default: the settings' own)."""

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings()
        self._embedder = embedder
        self._corpus: LoadedCorpus | None = None

    @property
    def embedder(self) -> Embedder:
        """The question embedder, loaded on first use (a bad question is rejected before any model loads)."""
        if self._embedder is None:
            self._embedder = embedder_for(self.settings)
        return self._embedder

    @property
    def corpus(self) -> LoadedCorpus:
        """The loaded index, checked against the corpus files once per pipeline (see `reload`)."""
        return self._corpus or self.reload()

    def reload(self) -> LoadedCorpus:
        """Check the index against the corpus and settings: build it if missing, rebuild if stale, else reuse it."""
        self._corpus = load_corpus(self.settings, self.embedder)
        return self._corpus

    def validate(self, question: object) -> tuple[str, list[str]]:
        """The cleaned question and notes on what cleaning changed; `QuestionError` when there is no question."""
        return validate_question(question, self.settings.answer.max_question_chars)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for question texts."""
        return encode_query(self.embedder, texts)

    def retrieve(self, question: str, qvec: np.ndarray, k: int | None = None) -> list[Hit]:
        """The k best chunks for the question, by the settings' fusion."""
        retriever = self.corpus.retriever.tuned(SearchParams.from_settings(self.settings))
        return retriever.search(question, qvec, k or self.settings.retrieval.k)

    def prepare(self, question: object, history: object = None, mode: str | None = None,
                k: int | None = None) -> Turn:
        """Validate the question, rewrite a follow-up as a standalone question, embed it and retrieve."""
        clock = Stopwatch()
        q, notes = self.validate(question)
        status = llm_status(self.settings, mode)
        if status.requested == "llm" and status.mode != "llm":
            notes.append(status.reason + " Answered offline instead.")
        history = clean_history(history)
        self.reload()  # each question checks the index is current; a stale one is rebuilt before answering
        clock.since_start("load")
        rewritten = None
        if history and is_follow_up(q):
            with clock.stage("rewrite"):
                rewritten = self._rewrite(q, history, status, notes)
        search_q = rewritten or q
        with clock.stage("embed"):
            qvec = self.embed([search_q])[0]
        with clock.stage("retrieve"):
            hits = self.retrieve(search_q, qvec, k)
        return Turn(q, search_q, rewritten, status, qvec, hits, notes, clock)

    def _rewrite(self, q: str, history: list[tuple[str, str]], status: LLMStatus, notes: list[str]) -> str | None:
        if status.mode == "llm":
            from .generate import rewrite_with_llm

            rewritten, note = rewrite_with_llm(q, history, self.settings)
            if note:
                notes.append(note)
        else:
            rewritten = rewrite_offline(q, history)
        return rewritten if rewritten and rewritten != q else None

    def route(self, turn: Turn) -> Answer | None:
        """An exact answer for "source N" and count/list/ranking/authorship questions, else None."""
        q, corpus = turn.search_question, self.corpus
        n = structured.source_number(q)
        text = structured.source_answer(n, corpus.index.chunks) if n is not None else None
        if text:
            return self._exact(turn, text, "source")
        retriever = corpus.retriever
        named = [retriever.chunks[i].id for i in retriever.named_chunks(q)
                 if retriever.chunks[i].metadata.get(structured.ROW_KEY)]
        found = structured.route(q, corpus.posters, named, collection_for(self.settings.corpus_dir).name)
        if found is None:
            return None
        with turn.clock.stage("answer"):
            scores = None
            if found.field == "topic" and corpus.poster_vectors is not None:
                scores = (corpus.poster_vectors @ self.embed([found.value])[0]).tolist()
                if corpus.index.manifest.get("embedding_plan") == "lean":  # one vector per chunk, of its title
                    found = replace(found, embedded="title")
            text = structured.answer(found, corpus.posters, scores)
        turn.notes.append(f"Answered exactly from the {structured.noun_of(corpus.posters)} table ({found.op}"
                          + (f" by {found.field}" if found.field else "") + "), not from top-k passages.")
        return self._exact(turn, text, "structured")

    def _exact(self, turn: Turn, text: str, route: str) -> Answer:
        """An Answer from text whose {cite:id} placeholders become [n] markers; cited chunks are the contexts."""
        by_id = self.corpus.by_id  # built once per loaded index: an exact answer cites a few of up to 22k rows
        text, citations = resolve_placeholders(text, by_id)
        contexts = [Hit(by_id[c.chunk_id], 1.0) for c in citations] or turn.hits
        return Answer(question=turn.question, text=text, citations=citations, contexts=contexts, refused=False,
                      mode="extractive", rewritten_question=turn.rewritten, notes=turn.notes,
                      timings_ms=turn.clock.stop(), index_fingerprint=self.corpus.index.fingerprint, route=route)

    def answer_extractive(self, turn: Turn) -> Answer:
        """The offline extractive answer from the turn's passages, or a refusal that says what is missing."""
        corpus, hits, q = self.corpus, turn.hits, turn.search_question
        notes = list(turn.notes)
        with turn.clock.stage("answer"):
            top_dense = float(corpus.chunk_vector(hits[0]) @ turn.qvec) if hits else 0.0
            retriever = corpus.retriever
            form = asked(q)
            subjects = find_subjects(corpus, q, compare=form.compare)
            # A question that names a system the documents hold goes to the composer, which checks what is asked
            # against that system's passages; the coarse word check would refuse it for its descriptive words
            # ("which well-known cryptographer …").
            ok, why = (True, "") if subjects else \
                supported(q, hits, retriever.idf, retriever.vocabulary, top_dense, self.settings.answer.min_support)
            text, citations, refused, contexts = REFUSAL_TEXT, [], True, hits
            if ok:
                if not subjects and form.overview and len(hits) < WEIGHTS.overview_k:
                    hits = self.retrieve(q, turn.qvec, WEIGHTS.overview_k)
                found = passages(corpus, hits, subjects)
                composed = compose_answer(q, turn.qvec, found, subjects, retriever.idf, corpus.corpus_text,
                                          self.settings.answer.max_answer_sentences)
                text, citations, refused = composed.text, composed.citations, composed.refused
                seen = {h.chunk.id for h in hits}
                contexts = hits + [h for h in composed.used if h.chunk.id not in seen]
                why = composed.note.removeprefix("Refused: ") if refused else ""
            if refused:
                notes.append(f"Refused: {why}" if why else "Refused: no sentence in the passages answers the question.")
        return Answer(question=turn.question, text=text, citations=citations, contexts=contexts, refused=refused,
                      mode="extractive", rewritten_question=turn.rewritten, notes=notes,
                      timings_ms=turn.clock.stop(), index_fingerprint=corpus.index.fingerprint)

    def answer_llm(self, turn: Turn) -> Iterator[str | Answer]:
        """Stream the LLM's answer and then the checked Answer; refused first when the documents lack the answer.

        The documents must hold what is asked before any model writes about it: the same answerability decision
        as the extractive answer, so a near-miss question is refused in both modes (and costs no model time).
        """
        from .generate import generic_checker, llm_answer

        gate = self.answer_extractive(turn)
        if gate.refused and turn.hits:
            gate.mode = "llm"
            gate.notes.append("The model was not asked: the documents don't hold what the question asks.")
        if gate.refused or not turn.hits:
            yield gate.text
            yield gate
            return
        turn.clock.forget("answer", "total")
        retriever = self.corpus.retriever
        words = generic_checker(retriever.idf, retriever.lowercase_stems, retriever.vocabulary)
        base = dict(question=turn.question, contexts=turn.hits, mode="llm", rewritten_question=turn.rewritten,
                    notes=list(turn.notes), timings_ms=turn.clock.ms, index_fingerprint=self.corpus.index.fingerprint)

        def fallback(note: str, unsupported: list[str]) -> Answer:
            return replace(gate, notes=[*gate.notes, note], unsupported=unsupported)

        with turn.clock.stage("llm"):
            for item in llm_answer(turn.search_question, turn.hits, self.corpus, words, self.settings, fallback,
                                   base, qvec=turn.qvec, draft=gate):
                if isinstance(item, Answer):
                    break
                yield item
        turn.clock.stop()
        yield item

    def stream(self, turn: Turn, sources: bool = False) -> Iterator[str | Answer | Retrieved]:
        """Run the answer stages: the passages found (with `sources`), text pieces, then the final `Answer`."""
        if sources:
            yield Retrieved(turn.hits, turn.rewritten)
        routed = self.route(turn)
        if routed is not None:
            if turn.status.mode == "llm":
                routed.notes.append("The LLM was not needed: this question has an exact answer.")
            yield routed.text
            yield routed
            return
        if turn.status.mode != "llm" or not turn.hits:
            answer = self.answer_extractive(turn)
            yield answer.text
            yield answer
            return
        yield from self.answer_llm(turn)


def warm_up(settings: Settings) -> None:
    """Load the embedder and the index and answer one throwaway question offline, once per process, so that a
    server's first real question finds the ONNX session run, the lazy imports done and the sentence vectors read.
    Failures are logged: the first real question meets and reports the same problem."""
    global _warmed
    with _WARMING:
        if _warmed:
            return
        _warmed = True
        try:
            pipeline = Pipeline(settings)
            question = next(iter(collection_for(settings.corpus_dir).examples), "What is this collection about?")
            pipeline.answer_extractive(pipeline.prepare(question, mode="extractive"))
        except Exception:  # noqa: BLE001 - the first question reports the same problem to the user
            log.warning("warm-up failed; the first question will load the index itself", exc_info=True)
