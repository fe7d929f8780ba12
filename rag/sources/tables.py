"""CSV or JSONL tables of papers: one row per paper, with title and abstract columns detected or given."""
from __future__ import annotations

import csv
import io
import json

from ..types import Chunk
from .base import FileView, split_list
from .papers import paper_chunk, venue_year

# Column names recognised for each field, first match wins (compared case-insensitively).
COLUMNS = {
    "id": ["_id", "id", "paper_id", "doc_id", "docid", "uid"],
    "title": ["title", "paper_title", "name"],
    "abstract": ["abstract", "text", "summary", "body", "content", "description"],
    "authors": ["authors", "author", "author_names"],
    "institutions": ["institutions", "affiliations", "aff", "affiliation"],
    "keywords": ["keywords", "tags", "topics"],
    "url": ["url", "site", "link", "paper_url", "pdf_url"],
    "status": ["status", "decision"],
    "track": ["track"],
    "venue": ["venue", "conference"],
    "year": ["year"],
}
SAMPLE_ROWS = 20


def detect_fields(columns: list[str]) -> dict[str, str]:
    """Map each field to the first column named like it ({} entries missing when there is none)."""
    lower = {c.lower().strip(): c for c in columns}
    out: dict[str, str] = {}
    for field, names in COLUMNS.items():
        for name in names:
            if name in lower:
                out[field] = lower[name]
                break
    return out


def _list(value) -> list[str]:
    """A list cell: a JSON list, or a string separated by ';' (or ',' when there is no ';')."""
    if isinstance(value, list):
        return [str(v.get("name", v)) if isinstance(v, dict) else str(v) for v in value]
    text = str(value or "")
    return split_list(text, ";" if ";" in text else ",")


class TableSource:
    """CSV (.csv, .tsv) and JSONL (.jsonl) tables with a title and an abstract column."""

    name = "table"

    def __init__(self, fields: dict[str, str] | None = None) -> None:
        self.fields = fields  # given field -> column mapping; detected per file when None

    def _rows(self, file: FileView, limit: int | None = None) -> list[dict]:
        if file.suffix == "jsonl":
            lines = (file.head if limit else file.text).splitlines()
            rows = []
            for line in lines:
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        if limit:  # the sniffed head may end mid-line
                            break
                        raise
                if limit and len(rows) >= limit:
                    break
            return [r for r in rows if isinstance(r, dict)]
        dialect = "excel-tab" if file.suffix == "tsv" else "excel"
        reader = csv.DictReader(io.StringIO(file.head if limit else file.text), dialect=dialect)
        rows = []
        for row in reader:
            rows.append(row)
            if limit and len(rows) >= limit:
                break
        return rows

    def check(self, file: FileView) -> str | None:
        """None for a CSV/TSV/JSONL file whose columns include a title and an abstract."""
        if file.suffix not in ("csv", "tsv", "jsonl"):
            return "not a .csv, .tsv or .jsonl file"
        try:
            rows = self._rows(file, SAMPLE_ROWS)
        except (ValueError, csv.Error) as e:
            return f"not a readable table ({e})"
        if not rows:
            return "no rows"
        fields = self.fields or detect_fields(list(rows[0]))
        if "title" not in fields or "abstract" not in fields:
            return "no title and abstract columns"
        return None

    def load(self, file: FileView) -> list[Chunk]:
        """One chunk per row with a title or an abstract, id `<file stem>:<id column or row number>`."""
        rows = self._rows(file)
        if not rows:
            return []
        f = self.fields or detect_fields(list(rows[0]))
        venue, year = venue_year(file.path)
        chunks = []
        for n, row in enumerate(rows, start=1):
            def get(field: str):
                return row.get(f[field]) if field in f else None
            if not str(get("title") or "").strip() and not str(get("abstract") or "").strip():
                continue
            y = get("year")
            chunks.append(paper_chunk(
                file.path.stem, str(get("id") or n), str(get("title")), str(get("abstract") or ""),
                source=file.path.name, authors=_list(get("authors")), institutions=_list(get("institutions")),
                venue=get("venue") or venue, year=int(y) if str(y or "").isdigit() else year,
                status=get("status"), track=get("track"), keywords=_list(get("keywords")), url=get("url")))
        return chunks
