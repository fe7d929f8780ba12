"""Plain data passed between pipeline stages."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Metadata keys BM25 sees when a chunk declares none (its "searchable" metadata entry names them otherwise).
DEFAULT_SEARCHABLE = ("section", "topic", "authors", "institutions", "aliases")

# Labels of the MLSys kinds for chunks whose source gave no "label" (sources set it; see label_of), and the words
# by which a question names a kind of document (rag.intents.named_kinds).
KIND_LABELS = {
    "poster": "poster abstract",
    "preview": "research preview",
    "notes": "poster notes",
    "tweet": "tweet",
}


def label_of(kind: str, metadata: dict | None = None) -> str:
    """How readers see a chunk's kind of document: the label its source gave it, else the kind's usual label."""
    return (metadata or {}).get("label") or KIND_LABELS.get(kind, kind or "document")


@dataclass(frozen=True)
class Chunk:
    """One retrievable unit: a poster abstract, an article paragraph, a notes entry or a tweet."""

    id: str
    kind: str
    title: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def search_text(self) -> str:
        """Text indexed by BM25: title, body and the metadata the chunk declares searchable (see DEFAULT_SEARCHABLE)."""
        extra: list[str] = []
        for key in self.metadata.get("searchable") or DEFAULT_SEARCHABLE:
            value = self.metadata.get(key)
            extra += value if isinstance(value, list) else [str(value)] if value else []
        return " ".join([self.title, self.text, *[e for e in extra if e]])

    @property
    def embed_text(self) -> str:
        """Text embedded for dense retrieval."""
        head = self.title if self.title and not self.text.startswith(self.title) else ""
        return f"{head}. {self.text}" if head else self.text

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and per-retriever ranks (1-based, None if absent)."""

    chunk: Chunk
    score: float
    dense_rank: int | None = None
    bm25_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    """A `[n]` marker in an answer and the chunk it points to."""

    marker: int
    chunk_id: str
    kind: str
    title: str
    text: str
    url: str | None
    sentence: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Retrieved:
    """What retrieval found, yielded first by `ask_stream(..., sources=True)` before any answer text."""

    hits: list[Hit]
    rewritten_question: str | None = None


@dataclass
class Answer:
    """The contract shared by the CLI, the UI and the evaluation suite."""

    question: str
    text: str
    citations: list[Citation]
    contexts: list[Hit]
    refused: bool
    mode: str = "extractive"
    rewritten_question: str | None = None
    notes: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    prompt_hash: str | None = None
    index_fingerprint: str | None = None
    route: str = "passages"

    def to_dict(self) -> dict:
        """JSON-serialisable dict with the documented keys."""
        return {
            "question": self.question,
            "rewritten_question": self.rewritten_question,
            "text": self.text,
            "citations": [asdict(c) for c in self.citations],
            "contexts": [
                {
                    "chunk_id": h.chunk.id,
                    "kind": h.chunk.kind,
                    "title": h.chunk.title,
                    "text": h.chunk.text,
                    "score": round(h.score, 6),
                    "dense_rank": h.dense_rank,
                    "bm25_rank": h.bm25_rank,
                    "metadata": h.chunk.metadata,
                }
                for h in self.contexts
            ],
            "refused": self.refused,
            "mode": self.mode,
            "route": self.route,
            "notes": list(self.notes),
            "unsupported": list(self.unsupported),
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
            "prompt_hash": self.prompt_hash,
            "index_fingerprint": self.index_fingerprint,
        }
