"""Prompt templates from prompts/: loaded, validated against the variables each one must use, and hashed."""
from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .config import ROOT
from .types import Hit, label_of

PROMPTS_DIR = ROOT / "prompts"
# Each template and the exact set of variables it must use (no more, no fewer).
REQUIRED: dict[str, frozenset[str]] = {
    "system": frozenset({"refusal", "collection"}),
    "answer": frozenset({"sources", "question", "refusal"}),
    "rewrite": frozenset({"history", "question"}),
    "decide": frozenset({"sources", "question"}),
}


class PromptError(ValueError):
    """A prompt file is missing, unreadable or uses the wrong variables."""


@dataclass(frozen=True)
class Prompts:
    """The validated templates and the hash of their combined text."""

    templates: dict[str, str]
    hash: str

    def render(self, name: str, **values: str) -> str:
        """Fill template `name` with values (which must be exactly its variables)."""
        return self.templates[name].format(**values)


def template_variables(text: str, path: Path | str) -> set[str]:
    """The `{name}` variables a template uses; malformed braces raise PromptError naming the file."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as e:
        raise PromptError(f"{path}: {e} (write a literal brace as {{{{ or }}}})") from None
    bad = [f for f in fields if not f.isidentifier()]
    if bad:
        raise PromptError(f"{path}: variables must be plain names, got {{{bad[0]}}}")
    return set(fields)


def validate(name: str, text: str, path: Path | str) -> None:
    """Raise PromptError naming the file if the template's variables differ from what `name` needs."""
    used = template_variables(text, path)
    need = REQUIRED[name]
    if unknown := used - need:
        raise PromptError(f"{path}: unknown variable(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(need))}")
    if missing := need - used:
        raise PromptError(f"{path}: missing variable(s) {', '.join(sorted(missing))}")
    if not text.strip():
        raise PromptError(f"{path}: template is empty")


@lru_cache(maxsize=8)
def _load_cached(folder: str, stamp: tuple) -> Prompts:
    templates, h = {}, hashlib.sha256()
    for name in sorted(REQUIRED):
        path = Path(folder) / f"{name}.txt"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise PromptError(f"{path}: cannot read prompt template ({e.__class__.__name__})") from None
        validate(name, text, path)
        templates[name] = text
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    return Prompts(templates, h.hexdigest()[:12])


def load_prompts(folder: Path | None = None) -> Prompts:
    """Load and validate all templates; re-read when a file changes."""
    folder = Path(folder or PROMPTS_DIR)
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*.txt")))
    return _load_cached(str(folder), stamp)


def format_source(n: int, hit: Hit, max_chars: int = 1500) -> str:
    """One numbered source as the model sees it: number, label, title, other names, a table row's authors and
    institutions, text."""
    ch = hit.chunk
    head = f"[{n}] ({label_of(ch.kind, ch.metadata)}) {ch.title}"
    lines = [head]
    if ch.metadata.get("aliases"):  # the other names a reviewed link gives it ("GUARD" for NodeSweep's poster)
        lines.append("Also called: " + "; ".join(ch.metadata["aliases"]))
    if ch.metadata.get("table_row"):
        if ch.metadata.get("authors"):
            lines.append("Authors: " + ", ".join(ch.metadata["authors"]))
        if ch.metadata.get("institutions"):
            lines.append("Institutions: " + "; ".join(ch.metadata["institutions"]))
    text = ch.text if len(ch.text) <= max_chars else ch.text[:max_chars].rsplit(" ", 1)[0] + " …"
    lines.append(text)
    return "\n".join(lines)


def format_history(history: list[tuple[str, str]], max_turns: int = 3, max_answer_chars: int = 300) -> str:
    """The last turns of a conversation as plain text for the rewrite prompt."""
    lines = []
    for q, a in history[-max_turns:]:
        a = a if len(a) <= max_answer_chars else a[:max_answer_chars].rsplit(" ", 1)[0] + " …"
        lines += [f"User: {q}", f"Assistant: {a}"]
    return "\n".join(lines)
