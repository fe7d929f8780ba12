"""Articles and notes in Markdown or plain text: one chunk per paragraph, titled by its heading path."""
from __future__ import annotations

import re

from ..text import slug
from ..types import Chunk
from .base import FileView

TEXT_KIND = "text"
TEXT_LABEL = "note"
_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+|^\s*\|")  # a list item or a table row: its own line
MAX_PLAIN_HEADING = 80  # a plain-text paragraph of one line this short, without end punctuation, is a heading
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def _paragraphs(text: str) -> list[list[str]]:
    """Blank-line-separated blocks of stripped-right lines (fenced code kept whole)."""
    blocks: list[list[str]] = [[]]
    fenced = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        if not line.strip() and not fenced:
            blocks.append([])
        else:
            blocks[-1].append(line.rstrip())
    return [b for b in blocks if b]


def _is_plain_heading(block: list[str]) -> bool:
    line = block[0].strip()
    return len(block) == 1 and len(line) <= MAX_PLAIN_HEADING and not re.search(r"[.!?:;,]$", line)


def parse_text(raw: str, stem: str, source: str, markdown: bool) -> list[Chunk]:
    """Paragraph chunks, each with its heading path (`section`) and the document's title (`document`)."""
    path: list[tuple[int, str]] = []  # (level, heading)
    doc_title = ""
    items: list[tuple[str, str]] = []  # (section path, paragraph)
    for block in _paragraphs(raw):
        if not markdown and _is_plain_heading(block):
            path = [(1, block[0].strip())]
            doc_title = doc_title or block[0].strip()
            continue
        body: list[str] = []
        for line in block:
            m = _MD_HEADING.match(line) if markdown else None
            if not m:
                # A hard-wrapped line continues its sentence; a list item or a line after a colon starts anew.
                if body and not _ITEM.match(line) and not body[-1].endswith(":"):
                    body[-1] = f"{body[-1]} {line.strip()}"
                else:
                    body.append(line.strip())
                continue
            if body:
                items.append((" > ".join(h for _, h in path), "\n".join(body)))
                body = []
            level, heading = len(m.group(1)), m.group(2).strip()
            path = [(lv, h) for lv, h in path if lv < level] + [(level, heading)]
            doc_title = doc_title or (heading if level == 1 else "")
        if body:
            items.append((" > ".join(h for _, h in path), "\n".join(body)))
    doc_title = doc_title or stem.replace("_", " ").replace("-", " ")
    chunks = []
    for n, (section, text) in enumerate(items, start=1):
        heading = section.split(" > ")[-1] if section else doc_title
        title = heading if heading == doc_title else f"{doc_title} — {heading}"
        chunks.append(Chunk(f"{slug(stem, 6)}:{n}", TEXT_KIND, title, text, {
            "section": section, "document": doc_title, "source": source, "label": TEXT_LABEL,
            "searchable": ["section"]}))
    return chunks


class TextSource:
    """Markdown (.md, .markdown) and plain text (.txt): the generic source for prose, tried last."""

    name = "text"

    def check(self, file: FileView) -> str | None:
        """None for a Markdown or text file that holds some text."""
        if file.suffix not in ("md", "markdown", "txt"):
            return "not a .md, .markdown or .txt file"
        try:
            text = file.text
        except (ValueError, UnicodeDecodeError):
            return "not UTF-8 text"
        return None if text.strip() else "empty"

    def load(self, file: FileView) -> list[Chunk]:
        """One chunk per paragraph, id `<file stem>:<n>`."""
        return parse_text(file.text, file.path.stem, file.path.name, markdown=file.suffix in ("md", "markdown"))
