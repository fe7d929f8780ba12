"""Link poster-notes entries to program posters (title + content similarity) and apply the reviewed link table."""
from __future__ import annotations

import csv
import difflib
import io
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .text import content_tokens, fold
from .types import Chunk

LINKS_FILE = "notes_poster_links.tsv"
MIN_CONFIDENCE = 0.45


@dataclass(frozen=True)
class Link:
    """A notes entry and the program poster it describes."""

    notes_id: str
    notes_name: str
    poster_id: str
    poster_title: str
    title_similarity: float
    content_similarity: float
    confidence: float


def _subtitle(title: str) -> str:
    return title.split(":", 1)[1] if ":" in title[:45] else title


def _pair_similarity(a: str, b: str) -> float:
    ta, tb = set(content_tokens(a)), set(content_tokens(b))
    jac = len(ta & tb) / max(1, len(ta | tb))
    return max(jac, difflib.SequenceMatcher(None, fold(a), fold(b)).ratio())


def title_similarity(a: str, b: str) -> float:
    """Similarity of two titles: best of word overlap and sequence ratio over full titles, subtitles and names."""
    name_a, name_b = fold(a.split(":")[0]).strip(), fold(b.split(":")[0]).strip()
    if name_a and name_a == name_b:
        return 1.0
    pairs = [(a, b), (_subtitle(a), _subtitle(b)), (a, b.split(":")[0]), (a.split(":")[0], b)]
    return max(_pair_similarity(x, y) for x, y in pairs)


def link_notes(notes: list[Chunk], posters: list[Chunk], notes_vecs: np.ndarray, poster_vecs: np.ndarray) -> list[Link]:
    """For each notes entry, the best-matching poster by 0.6 × title similarity + 0.4 × content cosine."""
    links = []
    content = notes_vecs @ poster_vecs.T
    for i, n in enumerate(notes):
        scores = [(0.6 * title_similarity(n.title, p.title) + 0.4 * float(content[i, j]), j) for j, p in enumerate(posters)]
        conf, j = max(scores)
        if conf >= MIN_CONFIDENCE:
            p = posters[j]
            links.append(Link(n.id, n.metadata.get("name") or n.title, p.id, p.title,
                              round(title_similarity(n.title, p.title), 3), round(float(content[i, j]), 3), round(conf, 3)))
    return links


def write_links(links: list[Link], path: Path) -> None:
    """Write the link table as TSV, sorted by notes id."""
    buf = io.StringIO()
    fields = list(Link.__dataclass_fields__)
    w = csv.DictWriter(buf, fieldnames=fields, delimiter="\t", lineterminator="\n")
    w.writeheader()
    for link in sorted(links, key=lambda x: x.notes_id):
        w.writerow(asdict(link))
    path.write_text(buf.getvalue(), encoding="utf-8")


def read_links(path: Path) -> list[Link]:
    """Read the reviewed link table; an absent file means no links."""
    if not path.exists():
        return []
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")), delimiter="\t")
    return [Link(r["notes_id"], r["notes_name"], r["poster_id"], r["poster_title"], float(r["title_similarity"]),
                 float(r["content_similarity"]), float(r["confidence"])) for r in rows]


def _short(title: str) -> str:
    head = title.split(":")[0].strip()
    return head if len(head.split()) <= 3 and head != title else title


def apply_links(chunks: list[Chunk], links: list[Link]) -> list[Chunk]:
    """Cross-reference linked notes entries and posters: each gets the other's name as an alias and its id."""
    by_id = {c.id: c for c in chunks}
    updates: dict[str, dict] = {}
    for link in links:
        notes, poster = by_id.get(link.notes_id), by_id.get(link.poster_id)
        if notes is None or poster is None:
            continue
        n_meta = updates.setdefault(notes.id, dict(notes.metadata))
        p_meta = updates.setdefault(poster.id, dict(poster.metadata))
        program_name = poster.metadata.get("name") or _short(poster.title)
        notes_name = notes.metadata.get("name") or notes.title
        n_meta.update(poster_id=poster.id, program_title=poster.title, url=poster.metadata.get("url"))
        p_meta["notes_ids"] = p_meta.get("notes_ids", []) + [notes.id]
        if fold(program_name) != fold(notes_name):
            n_meta["aliases"] = n_meta.get("aliases", []) + [program_name]
            p_meta["aliases"] = p_meta.get("aliases", []) + [notes_name]
    return [Chunk(c.id, c.kind, c.title, c.text, updates[c.id]) if c.id in updates else c for c in chunks]


def alias_phrase(chunk: Chunk) -> str:
    """How an answer names a linked entry: 'GUARD (listed in the program as NodeSweep)'."""
    name = chunk.metadata.get("name") or ""
    aliases = chunk.metadata.get("aliases") or []
    if not aliases or len(aliases[0]) > 60:
        return name
    if chunk.metadata.get("program_title"):  # a notes entry linked to its program poster
        return f"{name} (listed in the program as {aliases[0]})"
    label = name or re.split(r"[:.]", chunk.title)[0]
    return f"{label} (called {aliases[0]} in the poster notes)" if len(label) <= 60 else f"{aliases[0]} (in the notes)"
