"""The reviewed notes-to-poster link table (rag link-notes writes it): no chunks of its own; it adds aliases and
links to the chunks the other files produced."""
from __future__ import annotations

from ..aliases import apply_links, read_links
from ..types import Chunk
from .base import FileView

HEADER = ("notes_id", "poster_id")  # columns that make a TSV a link table


class NotesLinksSource:
    """A TSV whose header has notes_id and poster_id columns."""

    name = "notes-links"

    def check(self, file: FileView) -> str | None:
        """None for a TSV link table."""
        if file.suffix != "tsv":
            return "not a .tsv file"
        header = file.head.split("\n", 1)[0].split("\t")
        return None if all(h in header for h in HEADER) else "header lacks notes_id and poster_id"

    def load(self, file: FileView) -> list[Chunk]:
        """No chunks: the table only annotates other files' chunks (see apply)."""
        return []

    def apply(self, chunks: list[Chunk], file: FileView) -> list[Chunk]:
        """The chunks with the table's links and aliases applied."""
        return apply_links(chunks, read_links(file.path))
