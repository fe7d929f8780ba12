"""One chunk per paper, whatever list it comes from: the metadata every paper-list source fills the same way."""
from __future__ import annotations

import re
from pathlib import Path

from ..corpus import short_name
from ..text import clean_latex
from ..types import Chunk
from .base import unique

PAPER_KIND = "paper"
PAPER_LABEL = "paper abstract"
# Metadata BM25 sees besides title and abstract (see Chunk.search_text).
PAPER_SEARCHABLE = ["authors", "institutions", "keywords"]
REJECTED = {"reject", "rejected", "withdraw", "withdrawn", "desk reject", "desk rejected"}
# Display names of venues whose file-name spelling differs from how people write them; others are upper-cased.
VENUE_NAMES = {"nips": "NeurIPS", "neurips": "NeurIPS", "corl": "CoRL", "automl": "AutoML"}
_VENUE_YEAR = re.compile(r"^([A-Za-z][A-Za-z\-]*?)[_\- ]?((?:19|20)\d\d)$")


def venue_year(path: Path) -> tuple[str | None, int | None]:
    """Venue and year from a file named like iclr2018.json or corl-2024.csv; (None, None) otherwise."""
    m = _VENUE_YEAR.match(path.stem)
    if not m:
        return None, None
    key = m.group(1).lower()
    return VENUE_NAMES.get(key, key.upper()), int(m.group(2))


def paper_chunk(prefix: str, paper_id: str, title: str, abstract: str, *, source: str,
                authors: list[str] = (), institutions: list[str] = (), venue: str | None = None,
                year: int | None = None, status: str | None = None, track: str | None = None,
                keywords: list[str] = (), url: str | None = None, **extra) -> Chunk:
    """A paper as a chunk: id `<prefix>:<paper id>`, title and abstract as text, the rest as metadata."""
    title = clean_latex(title or "")
    status = (status or "").strip() or None
    meta = {
        "paper_id": paper_id,
        "name": short_name(title),
        "authors": unique([a.strip() for a in authors]),
        "institutions": unique([clean_latex(i) for i in institutions]),
        "venue": venue,
        "year": year,
        "status": status,
        "accepted": None if status is None else status.lower() not in REJECTED,
        "track": (track or "").strip() or None,
        "keywords": unique([k.strip() for k in keywords]),
        "url": url or None,
        "source": source,
        "label": PAPER_LABEL,
        "table_row": "paper",  # a row of the paper table (rag.papertable): its metadata are citable facts
        "searchable": PAPER_SEARCHABLE,
        **{k: v for k, v in extra.items() if v not in (None, "", [])},
    }
    return Chunk(f"{prefix}:{paper_id}", PAPER_KIND, title, clean_latex(abstract or "", macro_name=meta["name"] or None),
                 meta)
