"""The collection's name and description: `collection.toml` in the corpus folder, else named after the folder."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

COLLECTION_FILE = "collection.toml"


@dataclass(frozen=True)
class Collection:
    """What the documents are, as the UI title, the prompts and the CLI name them."""

    name: str
    description: str  # what the documents are (the chat page's welcome, `rag --help`)
    examples: tuple[str, ...] = ()  # questions the chat page offers to try
    subject: str = ""  # what the questions are about, as the LLM's system prompt says it; the description if unset


def load_collection(corpus_dir: Path) -> Collection:
    """The folder's collection.toml (`name`, `description`, `subject`, `examples`), or one named after the folder."""
    corpus_dir = Path(corpus_dir)
    described = f"the documents in {corpus_dir.name}/"
    fallback = Collection(corpus_dir.name, described, subject=described)
    path = corpus_dir / COLLECTION_FILE
    if not path.exists():
        return fallback
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        log.warning("ignoring %s: reading TOML needs Python 3.11", path)
        return fallback
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        log.warning("ignoring %s: %s", path, e)
        return fallback
    examples = data.get("examples")
    examples = tuple(str(q) for q in examples) if isinstance(examples, list) else ()
    description = str(data.get("description") or fallback.description)
    return Collection(str(data.get("name") or fallback.name), description, examples,
                      str(data.get("subject") or description))


_CACHED: dict[str, tuple[object, Collection]] = {}


def collection_for(corpus_dir: Path) -> Collection:
    """load_collection, read again only when collection.toml changes (every question asks for the name)."""
    path = Path(corpus_dir) / COLLECTION_FILE
    try:
        st = path.stat()
        stamp: object = (st.st_size, st.st_mtime_ns)
    except OSError:
        stamp = None
    hit = _CACHED.get(str(corpus_dir))
    if hit is None or hit[0] != stamp:
        hit = (stamp, load_collection(corpus_dir))
        _CACHED[str(corpus_dir)] = hit
    return hit[1]
