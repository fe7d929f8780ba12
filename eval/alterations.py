"""Altered copies of a correct cited sentence, for measuring the citation check: each one must fail.

Three alterations, each made only where it applies:
- `number`: a number in the sentence replaced by a plausible other one that is in no cited source;
- `name`: a system name the sentence takes from its source replaced by another poster's name;
- `citation`: the sentence cited to a different poster on a related topic (`wrong_poster`).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable

from rag.text import content_tokens, fold, numbers_in
from rag.types import Chunk

_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")  # the same numbers `rag.text.numbers_in` sees
# Multipliers tried in turn for a replacement number: near enough to read as plausible, far enough to be wrong.
NUMBER_FACTORS = (1.5, 0.5, 2.0, 1.25, 0.75, 3.0)
NAME_SWAPS = 3  # replacements tried per system name (the nearest posters' names, in order)
MIN_NAME_CHARS = 3  # shorter poster names ("AI", "FL") read as ordinary acronyms, not as a system's name


def _norm(number: str) -> str:
    """A number as `numbers_in` normalises it."""
    return next(iter(numbers_in(number)), number)


def other_numbers(number: str, forbidden: set[str]) -> list[str]:
    """Plausible replacements for `number` (same decimals; years move by a year), none of them in `forbidden`."""
    raw = number.replace(",", "")
    decimals = len(raw.split(".")[1]) if "." in raw else 0
    value = float(raw)
    if decimals == 0 and 1900 <= value <= 2100:  # a year: a near year is the plausible mistake
        candidates = [value + d for d in (1, -1, 2, -2, 3)]
    else:
        candidates = [value * f for f in NUMBER_FACTORS] + [value + d for d in (1, 2, 3)]
    out: list[str] = []
    for c in candidates:
        text = f"{c:.{decimals}f}"
        norm = _norm(text)
        if c > 0 and norm != _norm(raw) and norm not in forbidden and text not in out:
            out.append(text)
    return out


def change_numbers(sentence: str, forbidden: set[str]) -> list[str]:
    """One copy of the sentence per distinct number in it, that number replaced by one not in `forbidden`."""
    out, seen = [], set()
    for m in _NUMBER.finditer(sentence):
        norm = _norm(m.group(0))
        if norm in seen:
            continue
        seen.add(norm)
        choices = other_numbers(m.group(0), forbidden | {norm})
        if choices:
            out.append(sentence[:m.start()] + choices[0] + sentence[m.end():])
    return out


_SPELLED = dict(enumerate("zero one two three four five six seven eight nine ten eleven twelve".split()))
_MONTHS = ("January February March April May June July August September October November December").split()


def reformat(sentence: str) -> str | None:
    """The sentence as another writer might format the same facts, or None when nothing changes: "2.37x" as
    "2.37 ×", "30,000" as "30K", small counts spelled out ("3 posters" -> "three posters"), ISO dates as
    "February 26, 2026". The facts are the same, so the check must still pass."""
    out = re.sub(r"(\d)\s?[x×](?![\w])", lambda m: m.group(1) + (" ×" if "x" in m.group(0) else "x"), sentence)
    out = re.sub(r"(?<![\w.,])(\d{1,3}),000(?![\d,.])", r"\1K", out)
    out = re.sub(r"(?<![\w.,\-–])([2-9]|1[0-2]) (?=[a-z]{3,})", lambda m: _SPELLED[int(m.group(1))] + " ", out)
    out = re.sub(r"\b((?:19|20)\d\d)-(0[1-9]|1[0-2])-(\d\d)\b",
                 lambda m: f"{_MONTHS[int(m.group(2)) - 1]} {int(m.group(3))}, {m.group(1)}", out)
    return out if out != sentence else None


def system_names(chunks: Iterable[Chunk]) -> dict[str, str]:
    """Each poster's system name (its short name and aliases) -> the poster's chunk id."""
    names: dict[str, str] = {}
    for c in chunks:
        if c.kind != "poster":
            continue
        for name in [c.metadata.get("name") or "", *(c.metadata.get("aliases") or [])]:
            if len(name) >= MIN_NAME_CHARS and len(name.split()) <= 3 and name not in names:
                names[name] = c.id
    return names


def _occurs(name: str, text: str) -> re.Match | None:
    """Where a name occurs in text as a whole word, with its capitalisation."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)


def names_in(sentence: str, names: Iterable[str], sources_text: str) -> list[str]:
    """The system names in a sentence that its sources also contain, longest first."""
    found = [n for n in names if _occurs(n, sentence) and fold(n) in fold(sources_text)]
    return sorted(found, key=len, reverse=True)


def swap_names(sentence: str, own: list[str], replacements: list[str], forbidden_text: str) -> list[str]:
    """Copies of the sentence with an own system name replaced by one of the first NAME_SWAPS replacements that
    are absent from forbidden_text (the sources and the question) and are not part of an own name."""
    folded = fold(forbidden_text)
    usable = [r for r in replacements if fold(r) not in folded
              and not any(fold(r) in fold(o) or fold(o) in fold(r) for o in own)]
    out = []
    for name in own:
        m = _occurs(name, sentence)
        if m and not any(name != o and name in o for o in own):
            out += [sentence[:m.start()] + new + sentence[m.end():] for new in usable[:NAME_SWAPS]]
    return out


def idf_of(chunks: list[Chunk]) -> Callable[[str], float]:
    """Inverse document frequency over the chunks' search text, as the retriever computes it."""
    docs = [set(content_tokens(c.search_text)) for c in chunks]
    df = Counter(t for d in docs for t in d)
    n = len(docs)
    table = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
    top = math.log(1 + (n + 0.5) / 0.5)
    return lambda token: table.get(token, top)


def related_ids(refs: list[Chunk]) -> set[str]:
    """Chunk ids that are the reference chunks or describe the same system (a linked notes entry or poster)."""
    out = {c.id for c in refs}
    for c in refs:
        out |= set(c.metadata.get("notes_ids") or [])
        if c.metadata.get("poster_id"):
            out.add(c.metadata["poster_id"])
    return out


def nearest_posters(refs: list[Chunk], chunks: list[Chunk], idf: Callable[[str], float],
                    names: dict[str, str]) -> list[Chunk]:
    """Other posters ranked by idf-weighted word overlap with the reference chunks: related topic, other system.

    Posters linked to a reference chunk, or whose name a reference chunk mentions, are left out: they may
    really support the sentence.
    """
    ref_text = " ".join(f"{c.title}\n{c.text}" for c in refs)
    want = set(content_tokens(ref_text))
    skip = related_ids(refs) | {cid for name, cid in names.items() if _occurs(name, ref_text)}
    scored = [(sum(idf(t) for t in want & set(content_tokens(f"{c.title}\n{c.text}"))), c.id, c)
              for c in chunks if c.kind == "poster" and c.id not in skip]
    return [c for _, _, c in sorted(scored, key=lambda x: (-x[0], x[1]))]
