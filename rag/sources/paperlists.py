"""The paperlists JSON format (papercopilot/paperlists): a list of papers whose `author` and `aff` are
`;`-separated strings aligned by position, with `status`, `track`, `keywords` and `site` fields.

TL;DR fields (`tldr`, `TL;DR`) are never indexed: only the fields below are read.
"""
from __future__ import annotations

from ..types import Chunk
from .base import FileView, json_data, split_list
from .papers import paper_chunk, venue_year

# Fields only this format has; a list item with a title and one of these strings is a paperlists entry.
MARKERS = ("author", "aff", "status", "track", "site")
SAMPLE = 20  # items looked at to recognise the shape


class PaperlistsSource:
    """paperlists JSON: one chunk per paper."""

    name = "paperlists"

    def check(self, file: FileView) -> str | None:
        """None for a JSON list of objects with `title` and `;`-separated string fields such as `author`."""
        data, reason = json_data(file)
        if reason:
            return reason
        if not isinstance(data, list) or not data:
            return "not a non-empty JSON list"
        sample = [p for p in data[:SAMPLE] if isinstance(p, dict)]
        if len(sample) < min(len(data), SAMPLE):
            return "list items are not objects"
        ok = [p for p in sample if "title" in p and any(isinstance(p.get(m), str) for m in MARKERS)]
        if len(ok) < len(sample):
            return "items lack title and paperlists fields (author, aff, status, track, site)"
        return None

    def load(self, file: FileView) -> list[Chunk]:
        """One chunk per paper, id `<file stem>:<paper id>`."""
        venue, year = venue_year(file.path)
        chunks = []
        for n, p in enumerate(file.json, start=1):
            if not isinstance(p, dict) or not (p.get("title") or "").strip():
                continue
            chunks.append(paper_chunk(
                file.path.stem, str(p.get("id") or n), p["title"], p.get("abstract") or "",
                source=file.path.name, authors=split_list(p.get("author")), institutions=split_list(p.get("aff")),
                venue=venue, year=year, status=p.get("status"), track=p.get("track"),
                keywords=split_list(p.get("keywords")), url=p.get("site"), primary_area=p.get("primary_area"),
                github=p.get("github"), project=p.get("project")))
        return chunks
