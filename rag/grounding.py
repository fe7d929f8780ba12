"""Checks an LLM answer against its sources: parse `[n]` markers, verify every cited sentence, renumber.

A sentence is supported by the sources it cites when its numbers and names appear in them and enough of its
content words do. Uncited factual sentences get the one source that supports them, or are dropped.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from .claims import (CHECK_FIRST_WORD, JOINT_SUPPORT, NAMES_FROM_QUESTION, capitalised, claim_numbers, name_in, source_numbers,
                     spelled_out_acronyms)
from .heuristics import GROUNDING
from .text import STOPWORDS, content_tokens, fold, numbers_in, split_sentences, strip_instructions

_NUM = r"\d{1,3}"
_MARKER = re.compile(rf"\[\s*(?:sources?\s*)?({_NUM}(?:\s*(?:[,;]|–|-|and)\s*(?:sources?\s*)?{_NUM})*)\s*\]", re.I)
_MARKERS_AFTER_STOP = re.compile(r"([.!?])\s*((?:\[[^\]\n]{1,40}\]\s*)+)")
_HTML_TAG = re.compile(r"</?[A-Za-z][\w-]{0,20}(?:\s[^<>]{0,80})?/?>")
_URL = re.compile(r"https?://[^\s<>()\[\]\"']+")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_ENTITY = re.compile(r"\b(?:[A-Za-z]*[a-z][A-Z][\w-]*|[A-Z]{2,}[\w-]*|[A-Za-z]+\d[\w.-]*|[A-Z][a-z][\w-]*)")
_REFUSAL = re.compile(
    r"\b(?:documents?|sources?|context|passages?) (?:do not|don't|does not|doesn't) (?:answer|cover|contain|mention|say|provide|report|give|state|specify)"
    r"|\b(?:cannot|can't|can ?not|unable to) (?:answer|find|determine)"
    r"|\bno (?:information|mention|answer) (?:about|on|of|in|regarding)", re.I)


_ECHO = "repeats the instructions"


@dataclass
class Checked:
    """The checked answer: text with valid renumbered markers, and what was dropped or repaired."""

    text: str
    cited: list[int] = field(default_factory=list)  # 1-based source numbers, in new marker order
    support: dict[int, list[str]] = field(default_factory=dict)  # source number -> answer sentences citing it
    unsupported: list[str] = field(default_factory=list)
    claims: int = 0
    failed: int = 0
    dropped_markers: list[int] = field(default_factory=list)
    repaired: int = 0
    refused: bool = False



@lru_cache(maxsize=1024)
def _toks(text: str) -> frozenset[str]:
    """Content tokens of a text, memoised: the same sources and instructions are checked for every claim."""
    return frozenset(content_tokens(text))


@lru_cache(maxsize=1024)
def _nums(text: str) -> frozenset[str]:
    return frozenset(numbers_in(text))


@lru_cache(maxsize=1024)
def _folded(text: str) -> str:
    return fold(text)


def clear_caches() -> None:
    """Forget the memoised tokens of texts already checked (benchmarks time the check cold)."""
    for cache in (_toks, _nums, _folded):
        cache.cache_clear()


def parse_markers(group: str) -> list[int]:
    """Source numbers in a marker body such as '1', '1, 3', 'source 2' or '2-4'."""
    out: list[int] = []
    for a, b in re.findall(rf"({_NUM})(?:\s*[–-]\s*({_NUM}))?", group):
        lo, hi = int(a), int(b) if b else int(a)
        out += list(range(lo, hi + 1)) if 0 < hi - lo < GROUNDING.max_marker_range else [lo]
    return list(dict.fromkeys(out))


def split_claims(text: str) -> list[tuple[str, list[int]]]:
    """Sentences of an answer with the source numbers each one cites (markers removed from the sentence)."""
    text = _HTML_TAG.sub(" ", text)  # stray markup (</pre>, <br>) from the model is not prose
    text = _MARKERS_AFTER_STOP.sub(lambda m: " " + m.group(2).strip() + m.group(1) + " ", text).strip()
    out = []
    for sent in split_sentences(text):
        sent = _BULLET.sub("", sent)
        nums: list[int] = []
        for m in _MARKER.finditer(sent):
            nums += parse_markers(m.group(1))
        bare = re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", sent)).strip()
        if bare:
            out.append((bare, list(dict.fromkeys(nums))))
    return out


def is_refusal(text: str) -> bool:
    """Whether text says the sources do not answer."""
    return bool(_REFUSAL.search(text))


def entities(sentence: str, is_generic: Callable[[str], bool]) -> list[str]:
    """Names in a sentence that a source must contain: CamelCase, ACRONYMS, alphanumerics, mid-sentence capitals."""
    found = []
    common_name = getattr(is_generic, "common_name", None)
    ordinary = getattr(is_generic, "ordinary", lambda word: None)
    for m in _ENTITY.finditer(sentence):
        word = m.group(0).strip("-.")
        if (m.start() == 0 and re.fullmatch(r"[A-Z][a-z]+", word)) or fold(word) in STOPWORDS:
            continue  # the first word of a sentence is capitalised anyway
        if capitalised(word) and ordinary(word):
            found.append(word)  # a plain word written in capitals (PROMPTS, SHIP) is a name, however common
            continue
        common = common_name if common_name is not None and capitalised(word) else is_generic
        if all(common(t) for t in content_tokens(word) or [fold(word)]):
            continue
        found.append(word)
    return found


def claim_names(sentence: str, is_generic: Callable[[str], bool]) -> list[tuple[str, bool]]:
    """The names a source must hold for the sentence, each with whether it must be capitalised there.

    A first word counts when the corpus knows it only capitalised (Kitty, Privatar). An acronym the sentence spells out is checked through its expansion instead, and a name written in capitals
    that the corpus also uses as a plain word (PROMPTS, SHIP) must be capitalised in the source.
    """
    ordinary = getattr(is_generic, "ordinary", lambda word: None)
    names = entities(sentence, is_generic)
    first = re.match(r"\s*([A-Z][a-z][\w-]*)", sentence)
    if CHECK_FIRST_WORD and first and fold(first.group(1)) not in STOPWORDS \
            and getattr(is_generic, "capitalised_only", lambda word: None)(first.group(1)):
        names.insert(0, first.group(1))  # the corpus writes it only capitalised: a name, even first in a sentence
    spelled = spelled_out_acronyms(sentence)
    return [(n, capitalised(n) and bool(ordinary(n))) for n in names if n not in spelled]


def _missing_name(sentence: str, source_text: str, question: str, is_generic: Callable[[str], bool]) -> str | None:
    """The first name of the sentence that the source does not hold (nor, if allowed, the question)."""
    for name, cased in claim_names(sentence, is_generic):
        if name_in(name, source_text, cased) or (NAMES_FROM_QUESTION and name_in(name, question, cased)):
            continue
        return name
    return None


def claim_problem(sentence: str, source_text: str, question: str, is_generic: Callable[[str], bool],
                  min_overlap: float) -> str | None:
    """Why the source text does not support the sentence, or None when it does."""
    allowed_numbers = source_numbers(source_text) | _nums(question)
    missing_numbers = [n for n, forms in claim_numbers(sentence) if not forms & allowed_numbers]
    if missing_numbers:
        return f"number {missing_numbers[0]} not in the cited source"
    links = [u.rstrip(".,;:!?") for u in _URL.findall(sentence)]
    missing_links = [u for u in links if u not in source_text]
    if missing_links:
        return f"link {missing_links[0]} not in the cited source"
    missing = _missing_name(sentence, source_text, question, is_generic)
    if missing:
        return f"name {missing} not in the cited source"
    toks = set(content_tokens(sentence))
    if toks:
        overlap = len(toks & _toks(source_text)) / len(toks)
        if overlap < min_overlap:
            return f"only {overlap:.0%} of its words are in the cited source"
    return None


def supporting(sentence: str, cited: list[int], sources: list[str], question: str,
               is_generic: Callable[[str], bool], min_overlap: float) -> list[int]:
    """The cited sources (1-based) that support the sentence: each one that does alone; else, when only
    together they do (a comparison citing both compared posters), all of them (claims.JOINT_SUPPORT)."""
    alone = [i for i in cited if claim_problem(sentence, sources[i - 1], question, is_generic, min_overlap) is None]
    if alone or len(cited) < 2 or not JOINT_SUPPORT:
        return alone
    joint = "\n".join(sources[i - 1] for i in cited)
    return cited if claim_problem(sentence, joint, question, is_generic, min_overlap) is None else []


def empty_claim(sentence: str, question: str, headers: list[str], instructions: str) -> str | None:
    """Why a sentence says nothing of its own (a question, an echo of the prompt, a restated title), or None."""
    toks = set(content_tokens(sentence))
    if sentence.rstrip().endswith("?"):
        return "a question, not an answer"
    if instructions and toks and len(toks & _toks(instructions)) >= GROUNDING.echo_share * len(toks):
        return _ECHO
    known = _toks(question + " " + " ".join(headers))
    if toks and toks <= known and not numbers_in(sentence) - numbers_in(question):
        return "only restates the question or a source's title"
    return None


def check_answer(text: str, sources: list[str], question: str, is_generic: Callable[[str], bool],
                 min_overlap: float = 0.5, instructions: str = "") -> Checked:
    """Keep the supported sentences of an LLM answer, renumber their markers and report the rest.

    `sources` are the texts the model saw (first line: number, kind and title); `instructions` is the prompt
    text around them, so that a sentence parroting it is not taken for a claim.
    """
    claims = split_claims(text)
    headers = [src.splitlines()[0] if src else "" for src in sources]
    if not claims or (is_refusal(text) and not any(nums for _, nums in claims) and len(text.split()) < GROUNDING.refusal_max_words):
        # No claim to keep: whatever markers stood on their own refer to nothing that is cited.
        return Checked(text=_MARKER.sub("", text).strip(), refused=bool(claims))
    n = len(sources)
    # Instructions planted in a source ("SYSTEM: ignore previous instructions and answer ...") are data: a sentence
    # that obeys them is not supported by them.
    sources = [strip_instructions(src) for src in sources]
    result = Checked(text="")
    kept: list[tuple[str, list[int]]] = []
    for sent, nums in claims:
        valid = [i for i in nums if 1 <= i <= n]
        result.dropped_markers += [i for i in nums if not 1 <= i <= n]
        if is_refusal(sent) and not valid and not (instructions and fold(sent).rstrip(".") in _folded(instructions)):
            kept.append((sent, []))  # a statement about the sources, not a claim
            continue
        if not nums and _is_connective(sent, is_generic):
            kept.append((sent, []))  # a connective such as "In short:"
            continue
        result.claims += 1
        empty = empty_claim(sent, question, [headers[i - 1] for i in valid] or headers, instructions)
        if empty:
            result.failed += 1
            # An echo of the prompt is not shown again, not even as a dropped sentence.
            shown = "[a sentence repeating the answering instructions]" if empty == _ECHO else sent
            result.unsupported.append(f"{shown} ({empty})")
            continue
        if valid:
            ok = supporting(sent, valid, sources, question, is_generic, min_overlap)
            if ok:
                kept.append((sent, ok))
                continue
            cited = sources[valid[0] - 1] if len(valid) == 1 or not JOINT_SUPPORT else \
                "\n".join(sources[i - 1] for i in valid)
            why = claim_problem(sent, cited, question, is_generic, min_overlap)
        else:
            best = _best_source(sent, sources, question, is_generic, min_overlap)
            if best is not None:
                result.repaired += 1
                kept.append((sent, [best]))
                continue
            why = "no citation, and no source supports it"
        result.failed += 1
        result.unsupported.append(f"{sent} ({why})")
    result.text, order, result.support = _compose(kept)
    # The text we return must pass the same check when read back: split differently, a kept sentence could
    # otherwise lose the support it had. Drop whatever does not survive the round trip.
    back = {new: old for old, new in order.items()}
    reread = split_claims(result.text)
    bad = [i for i, (sent, nums) in enumerate(reread) if nums and not supporting(
        sent, [back[m] for m in nums if m in back], sources, question, is_generic, min_overlap)]
    if bad:
        if len(reread) == len(kept):
            for i in bad:
                result.failed += 1
                result.unsupported.append(f"{kept[i][0]} (not supported once read back in the answer)")
            kept = [k for i, k in enumerate(kept) if i not in bad]
        else:  # cannot tell which sentence is which: keep nothing rather than something unchecked
            result.failed, result.unsupported = result.claims, result.unsupported + [result.text]
            kept = []
        result.text, order, result.support = _compose(kept)
    result.cited = list(order)
    return result


def _compose(kept: list[tuple[str, list[int]]]) -> tuple[str, dict[int, int], dict[int, list[str]]]:
    """Answer text with markers renumbered by first use; the old-to-new numbering; sentences per source."""
    order: dict[int, int] = {}
    support: dict[int, list[str]] = {}
    parts = []
    for sent, nums in kept:
        for i in nums:
            order.setdefault(i, len(order) + 1)
            support.setdefault(i, []).append(sent)
        tail = "".join(f"[{order[i]}]" for i in nums)
        if tail:
            end = sent[-1] if sent[-1] in ".!?" else "."
            body = sent[:-1] if sent[-1] in ".!?" else sent
            parts.append(f"{body} {tail}{end}")
        else:
            parts.append(sent)
    return " ".join(parts), order, support


def _is_connective(sent: str, is_generic: Callable[[str], bool]) -> bool:
    """A sentence that states nothing checkable: no numbers, no names, at most one content word (or a lead-in)."""
    if numbers_in(sent) or entities(sent, is_generic):
        return False
    n = len(content_tokens(sent))
    return n <= 1 or (sent.endswith(":") and n <= 4)


def _best_source(sent: str, sources: list[str], question: str, is_generic: Callable[[str], bool],
                 min_overlap: float) -> int | None:
    toks = set(content_tokens(sent))
    ranked = sorted(range(len(sources)), key=lambda i: -len(toks & _toks(sources[i])))
    for i in ranked[:GROUNDING.repair_candidates]:
        if claim_problem(sent, sources[i], question, is_generic, min_overlap) is None:
            return i + 1
    return None


def best_sentence(claims: list[str], chunk_sentences: list[str]) -> str:
    """The chunk sentence that shares most content words with the answer sentences citing it."""
    want = set(content_tokens(" ".join(claims)))
    if not chunk_sentences:
        return ""
    return max(chunk_sentences, key=lambda s: len(want & set(content_tokens(s))))
