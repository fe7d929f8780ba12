"""A built index in memory with what answering reads from it, cached per process; rebuilt when stale.

This module and `index.py` are the ones that touch the index folder at query time.
"""
from __future__ import annotations

import logging
import threading
from functools import cached_property

import numpy as np

from . import structured
from .corpustext import CorpusText
from .config import Settings, corpus_files
from .embed import Embedder
from .index import IndexMissingError, IndexStaleError, LoadedIndex, build_index, check_fresh, embedder_changes, \
    load_index, read_manifest
from .retrieve import Retriever, SearchParams
from .structured import Poster
from .types import Chunk, Hit

log = logging.getLogger(__name__)


class LoadedCorpus:
    """The index, its retriever, and the lookups built from them once: chunk positions, folded text, poster table."""

    def __init__(self, index: LoadedIndex, retriever: Retriever, corpus_stat: tuple) -> None:
        self.index = index
        self.retriever = retriever
        self.corpus_stat = corpus_stat
        self.positions: dict[str, int] = {c.id: i for i, c in enumerate(index.chunks)}
        self.by_id: dict[str, Chunk] = {c.id: c for c in index.chunks}
        # Everything the documents say, folded once: a name the question uses that is not in here is unknown.
        self.corpus_text = CorpusText(list(retriever.folded), retriever.vocabulary,
                                      (c.search_text for c in index.chunks))
        self.posters: list[Poster] = structured.paper_table(index.chunks)

    @cached_property
    def poster_vectors(self) -> np.ndarray | None:
        """Each poster's chunk vector, in poster-table order (for topic questions); None without posters."""
        rows = [self.positions[p.chunk_id] for p in self.posters]
        return np.vstack([self.index.faiss_index.reconstruct(i) for i in rows]) if rows else None

    def sentences_of(self, hit: Hit) -> list[str]:
        """The hit's chunk split into the sentences that were embedded."""
        return self.index.sentences[self.positions[hit.chunk.id]]

    def sentence_vectors_of(self, hit: Hit) -> np.ndarray:
        """The hit's sentence vectors: rows are stored chunk by chunk, so a binary search finds its run."""
        position = self.positions[hit.chunk.id]
        lo, hi = np.searchsorted(self.index.sentence_owner, [position, position + 1])
        return self.index.sentence_vectors[lo:hi]

    def chunk_vector(self, hit: Hit) -> np.ndarray:
        """The hit's whole-chunk vector."""
        return self.index.faiss_index.reconstruct(self.positions[hit.chunk.id])


_CACHE: dict[str, LoadedCorpus] = {}
_LOCK = threading.Lock()


def corpus_stat(settings: Settings) -> tuple:
    """Name, size and mtime of each corpus file: a cheap check that the cached index still matches the files."""
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in corpus_files(settings))


def load_corpus(settings: Settings, embedder: Embedder) -> LoadedCorpus:
    """The loaded index for the settings, building it if missing and rebuilding it if stale; cached per folder."""
    key = str(settings.index_dir)
    stat = corpus_stat(settings)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached and cached.corpus_stat == stat and not embedder_changes(cached.index.manifest, embedder):
            return cached
        try:
            check_fresh(read_manifest(settings.index_dir), settings, embedder)
        except IndexMissingError:
            log.warning("no index at %s; building it now (one-off, about 30 s)", settings.index_dir)
            build_index(settings, embedder, progress=False)
        except IndexStaleError as e:
            log.warning("%s Rebuilding it now.", e)
            build_index(settings, embedder, progress=False)
        index = load_index(settings)
        loaded = LoadedCorpus(index, Retriever(index, SearchParams.from_settings(settings)), stat)
        _CACHE[key] = loaded
        return loaded


def forget(settings: Settings) -> None:
    """Drop the cached index of the settings' folder (after a rebuild)."""
    with _LOCK:
        _CACHE.pop(str(settings.index_dir), None)
