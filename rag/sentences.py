"""Candidate answer sentences for each chunk (pure): prose sentences, bullet lines and metadata facts."""
from __future__ import annotations

import re

from .text import split_sentences
from .types import Chunk

_MIN_CHARS = 12
_TAGS_ONLY = re.compile(r"(?:[#@.][\w.]+\s*)+")
# A line that is one field of a record whose first line names it: a lone handle or a lone count ("@cnn",
# "61.9M followers" under "CNN"). It joins the line above, so that "CNN, @cnn, 61.9M followers" is one sentence.
_FIELD = re.compile(r"@\w+|[\d.,]+\s?[KMBk]?\+?\s+[a-z]+", re.I)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def metadata_sentences(chunk: Chunk) -> list[str]:
    """Facts stated by a chunk's metadata (papers and posters): its authors and their institutions."""
    label = chunk.metadata.get("name") or chunk.title
    out = []
    if chunk.metadata.get("authors"):
        out.append(f"{label} is by {_join(chunk.metadata['authors'])}.")
    if chunk.metadata.get("institutions"):
        out.append(f"The authors of {label} are from: {'; '.join(chunk.metadata['institutions'])}.")
    return out


def chunk_sentences(chunk: Chunk) -> list[str]:
    """Every sentence of a chunk that could appear in an answer, in reading order."""
    out: list[str] = []
    in_list = False  # inside a list introduced by a line ending in ":"
    by_line = bool(chunk.metadata.get("line_sentences"))  # the source says each line is a sentence (tweets)
    for line in chunk.text.splitlines():
        line = line.strip()
        if out and by_line and _FIELD.fullmatch(line) and not out[-1].endswith((".", "!", "?", ":")):
            out[-1] = f"{out[-1]}, {line}"
            continue
        if not line or _TAGS_ONLY.fullmatch(line):
            continue
        bullet = line.startswith(("-", "•"))
        item = line.lstrip("-• ").strip()
        if out and (in_list and (bullet or by_line) or out[-1].endswith(":")):
            # The items of a list stay in one sentence with the line that introduces them.
            out[-1] = f"{out[-1]} {item}" if out[-1].endswith(":") else f"{out[-1].rstrip('.')}; {item}"
            in_list = True
            continue
        in_list = False
        out.extend([line] if by_line else split_sentences(item))
    return [s for s in out if len(s) >= _MIN_CHARS] + metadata_sentences(chunk)
