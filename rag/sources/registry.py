"""The source registry: each file in a folder goes to the first source that accepts its shape, or is skipped.

Files are loaded in the registry order of their sources (most specific shape first), then by name, so a
folder's chunk order does not depend on how its files are named.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..types import Chunk
from .base import FileView, Source

log = logging.getLogger(__name__)

IGNORED_NAMES = {"README.md", "collection.toml"}  # a corpus folder's own description, never content


@dataclass
class FolderLoad:
    """What loading a folder produced: the chunks, which source loaded each file, and what was skipped and why."""

    chunks: list[Chunk] = field(default_factory=list)
    loaded: dict[str, str] = field(default_factory=dict)  # file name -> source name
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> reason
    files: list[Path] = field(default_factory=list)  # the loaded files, in load order


def default_sources() -> list[Source]:
    """The built-in sources, most specific shape first; the generic table and text sources last."""
    from .links import NotesLinksSource
    from .mlsys import MiniconfSource, NotesSource, PreviewSource, TweetsSource
    from .paperlists import PaperlistsSource
    from .tables import TableSource
    from .text import TextSource

    return [MiniconfSource(), PaperlistsSource(), PreviewSource(), NotesSource(), TweetsSource(),
            NotesLinksSource(), TableSource(), TextSource()]


def choose_source(file: FileView, sources: list[Source]) -> tuple[Source | None, str]:
    """The first source that accepts the file, or None and every source's reason for refusing it."""
    reasons = []
    for source in sources:
        try:
            why = source.check(file)
        except (OSError, ValueError, UnicodeDecodeError) as e:
            why = f"unreadable ({e})"
        if why is None:
            return source, ""
        reasons.append(f"{source.name}: {why}")
    return None, "no source accepts this file (" + "; ".join(reasons) + ")"


def corpus_candidates(folder: Path) -> list[Path]:
    """Files a folder offers, sorted by name: not hidden, not the folder's own README or collection.toml."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.name not in IGNORED_NAMES)


_CHOICES: dict[tuple, tuple[int | None, str]] = {}  # (path, size, mtime, sources) -> (source position, reason)
_CHOICES_LOCK = threading.Lock()


def assign(folder: Path, sources: list[Source] | None = None) -> tuple[list[tuple[Path, Source]], dict[str, str]]:
    """Each file of a folder with the source that will load it, in load order, and the skipped files' reasons.

    The choice is remembered per (path, size, mtime), so asking again (as every `ask` does to detect corpus
    changes) re-reads no file that has not changed.
    """
    sources = default_sources() if sources is None else sources
    names = tuple(s.name for s in sources)
    chosen: list[tuple[int, str, Path]] = []
    skipped: dict[str, str] = {}
    for path in corpus_candidates(folder):
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns, names)
        with _CHOICES_LOCK:
            hit = _CHOICES.get(key)
        if hit is None:
            source, why = choose_source(FileView(path), sources)
            hit = (None if source is None else sources.index(source), why)
            with _CHOICES_LOCK:
                _CHOICES[key] = hit
        if hit[0] is None:
            skipped[path.name] = hit[1]
        else:
            chosen.append((hit[0], path.name, path))
    return [(path, sources[pos]) for pos, _, path in sorted(chosen)], skipped


def load_folder(folder: Path, sources: list[Source] | None = None) -> FolderLoad:
    """Load every file of a folder with the first source that accepts it; list the others as skipped."""
    order, skipped = assign(folder, sources)
    out = FolderLoad(skipped=skipped)
    for name, why in skipped.items():
        log.warning("skipped %s: %s", name, why)
    used: set[str] = set()
    post = []
    for path, source in order:
        file = FileView(path)
        chunks = source.load(file)
        clashes = {c.id for c in chunks} & used
        if clashes:  # two files with the same id scheme (two miniconf sites, say): the later one is qualified
            log.warning("%s: %d chunk ids already taken; prefixing them with %s/", path.name, len(clashes), path.stem)
            chunks = [Chunk(f"{path.stem}/{c.id}", c.kind, c.title, c.text, c.metadata) for c in chunks]
        used.update(c.id for c in chunks)
        out.chunks.extend(chunks)
        out.loaded[path.name] = source.name
        out.files.append(path)
        if hasattr(source, "apply"):
            post.append((source, file))
        log.info("loaded %s with %s: %d chunks", path.name, source.name, len(chunks))
    for source, file in post:
        out.chunks = source.apply(out.chunks, file)
    ids = [c.id for c in out.chunks]
    if len(ids) != len(set(ids)):
        raise ValueError(f"duplicate chunk ids within one file of {folder}")
    return out
