"""Whether the documents hold what a question asks: its subject's passages must hold the asked detail.

Pure functions. A question is refused when
- it names something (a coined name, a number) that no document mentions;
- it names something (a proper noun or number) that the passages about its subject never mention: "BLASST's
  accuracy on LongBench" when the BLASST passages never say LongBench;
- it asks for a typed detail (a hardware model, a link, a date, a person, a number with a unit, …) and no
  sentence of the subject's passages both holds that type and is about what was asked.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from .heuristics import THRESHOLDS, Answerability
from .intents import Asked, asked, asked_nouns, holds_slot, without_cues
from .text import STOPWORDS, content_tokens, fold, numbers_in, stem


# Question words that say how to answer, not what about: never focus terms.
_FRAME = frozenset(stem(w) for w in """mlsys 2026 poster posters paper papers abstract abstracts document documents
    report reports reported say says said mention mentions mentioned describe described give gives given state stated
    claim claims claimed show shows shown according specifically exactly use used using achieve achieved achieves
    list name named exact number figure value provide provided work system approach method compare compared
    comparison differ differs difference versus vs note notes tweet tweets article preview actually really main
    mainly basically exactly kind kinds sort sorts take place happen happened anywhere somewhere anyone someone
    anything something credit credits credited hashtag hashtags title titles titled full""".split())
# A coined or proper name in the question: CamelCase, acronyms, letter-digit mixes, capitalised words not first.
_NAMEISH = re.compile(r"(?<![\w@#-])(?:[A-Za-z]*[a-z][A-Z][A-Za-z0-9.-]*|[A-Z]{2,}[A-Za-z0-9.-]*|[A-Za-z]+\d[A-Za-z0-9.-]*"
                      r"|[A-Z][a-z]+[A-Za-z0-9-]*)")
# A number the question states as a figure: standing as a word, not inside markup like "alert(1)" or "[31m".
_FIGURE = re.compile(r"(?:(?<=\s)|^)(\d[\d.,]*)(?=[\s×x%?!.,;:]|$)")
_FIRST_WORD = re.compile(r"^\W*\w+")
# Capitalised words that name no entity (question openers, months, common title words).
_NOT_NAMES = frozenset("""what which who whom whose when where why how does do did is are was were can could would should
    will has have had the a an in on of for and or to compare contrast describe explain list name tell give
    according i mlsys poster posters paper papers notes tweet tweets twitter research preview article""".split())


@dataclass(frozen=True)
class Verdict:
    """The answerability decision: `missing` is one sentence saying what the documents don't hold."""

    answerable: bool
    missing: str = ""


# Words that only say a number moves ("how much did it improve/shrink …"): the asked quantity is the focus.
_CHANGE = frozenset(stem(w) for w in """gain gains improve improves improved improvement improvements increase
    increases increased boost boosts reduce reduces reduced reduction shrink shrinks shrank cut cuts lower raise
    go goes went up down drop overall total""".split())


# Words that only ask whose work it is ("which company is behind X", "who built X"): an institution or a name
# answers them without repeating them.
_AUTHORSHIP = frozenset(stem(w) for w in """behind build builds built develop develops developed make makes made
    produce produces produced create creates created author authors authored write wrote written affiliated
    affiliation affiliations come comes came work works worked lead leads led""".split())


def focus_terms(question: str, subject_names: Iterable[str] = (), ask: Asked | None = None) -> list[str]:
    """The question's content stems that say what it asks about (not its subject's name, not its framing, not the
    words that only name the asked type, which the type check covers)."""
    subject = {t for n in subject_names for t in content_tokens(n)}
    text = without_cues(question, ask) if ask else question
    frame = _FRAME | _CHANGE if ask and ask.slot == "number" else _FRAME
    if ask and ask.slot in ("org", "person"):
        frame = frame | _AUTHORSHIP
    terms = list(dict.fromkeys(t for t in content_tokens(text) if t not in subject and t not in frame))
    # "decode-time" also yields "decod" and "time"; the compound itself would demand the exact spelling.
    return [t for t in terms if "-" not in t or not all(stem(p) in terms for p in t.split("-") if p)]


def named_terms(question: str) -> list[str]:
    """Coined or proper names in the question (not its first word, not question words)."""
    first = _FIRST_WORD.match(question)
    start = first.end() if first else 0
    out = []
    for m in _NAMEISH.finditer(question):
        word = m.group(0).strip(".-")
        if (m.start() < start and not re.search(r"[A-Z].*[A-Z]|\d", word)) or fold(word) in _NOT_NAMES:
            continue
        out.append(word)
    return list(dict.fromkeys(out))


def mentions(text_folded: str, term: str) -> bool:
    """Whether folded text mentions a term (hyphen and space variants; a possessive 's dropped)."""
    return any(v in text_folded and pattern.search(text_folded) for v, pattern in _variants(term))


@lru_cache(maxsize=4096)
def _variants(term: str) -> tuple[tuple[str, re.Pattern], ...]:
    """A term's spellings, each with the pattern that finds it at a word start (the substring test is the fast
    path: most chunks do not contain the term at all)."""
    t = fold(term).rstrip("'s’")
    variants = {t, t.replace("-", " "), t.replace("-", ""), t.replace(" ", "-")}
    joints = re.findall(r"[- ]", t)
    if 1 < len(joints) <= 3:  # each joint on its own: "Cosmos-Reason-1" is written "Cosmos-Reason1"
        pieces = re.split(r"[- ]", t)
        for glue in itertools.product(("-", " ", ""), repeat=len(joints)):
            variants.add(pieces[0] + "".join(g + p for g, p in zip(glue, pieces[1:])))
    return tuple((v, re.compile(r"(?<![\w])" + re.escape(v))) for v in sorted(variants) if v)


_EXAMPLES = re.compile(r"\b(?:such as|e\.g\.,?)\s+((?:[\w.+-]+(?:,\s*|\s+(?:or|and)\s+))*[\w.+-]+)", re.I)
COINED = re.compile(r"[a-z][A-Z]|[A-Z]{2}|[A-Za-z]\d|\d[A-Za-z]")


def figures(question: str) -> set[str]:
    """The numbers a question states as figures (normalised like `numbers_in`)."""
    return numbers_in(" ".join(m.group(1) for m in _FIGURE.finditer(question)))


def unknown_names(question: str, corpus_folded: str, subject_names: Iterable[str] = (),
                  initials: frozenset[str] | Callable[[], frozenset[str]] = frozenset()) -> list[str]:
    """Coined names (LoongServe, DeepSeek-V5, Qwen2.5-32B) and numbers in the question that no document mentions.

    A plain capitalised word (Wednesday, Redmond) is not enough: documents abbreviate and paraphrase those. Nor
    is an all-capitals name that spells the initials of words the documents use (`initials`, or a function that
    gives them: LBNL for Lawrence Berkeley National Laboratory)."""
    subject = {fold(n) for n in subject_names}
    names = [n for n in named_terms(question)
             if COINED.search(n) and fold(n) not in subject and not mentions(corpus_folded, n)
             and not compound_of_known(n, corpus_folded)]
    names = without_initialisms(names, initials)
    # examples the question names ("compressors such as zstd or gzip"), none of which any document mentions
    examples = [e for m in _EXAMPLES.finditer(question) for e in re.split(r",\s*|\s+(?:or|and)\s+", m.group(1))]
    if examples and not any(mentions(corpus_folded, e) for e in examples):
        names += [e for e in examples if e not in names]
    numbers = [n for n in figures(question) if n not in numbers_in(corpus_folded)]
    return names + [n for n in numbers if not any(n in fold(x) for x in names)]


def compound_of_known(term: str, folded: str) -> bool:
    """Whether a hyphenated term is a known name joined to plain words ("GPU-lifespan", "KV-heavy"): a description
    in the question's words, not a name the documents would have to use."""
    pieces = term.split("-")
    named = [p for p in pieces if COINED.search(p)]
    plain = [p for p in pieces if p not in named]
    return bool(named and plain) and all(p.isalpha() and p.islower() and len(p) >= 3 for p in plain) \
        and all(mentions(folded, p) for p in named)


def without_initialisms(names: list[str], initials: frozenset[str] | Callable[[], frozenset[str]]) -> list[str]:
    """The names less any all-capitals one that spells known initials ("NTUA"); `initials` may be a function, called
    only when some name is all capitals."""
    if not any(n.isupper() for n in names):
        return names
    known = initials() if callable(initials) else initials
    return [n for n in names if not (n.isupper() and n.isalpha() and n.lower() in known)]


def unseen_asked(question: str, vocabulary: set[str], th: Answerability = THRESHOLDS) -> list[str]:
    """The nouns a which/what question asks for ("which room", "what banquet venue") that no document uses at all:
    the documents cannot say which one."""
    def unseen(word: str) -> bool:  # a hyphenated word counts as used when any of its parts is ("decode-time")
        tokens = content_tokens(re.sub(r"[^\w\s]", " ", word))
        return bool(tokens) and all(t not in vocabulary and len(t) >= th.unseen_min_chars and not t[0].isdigit()
                                    for t in tokens)

    # the phrase's last word is its noun; a noun that names a type of answer ("what date", "which company") is
    # answered by a date or a name, not by the word itself
    return [noun for noun in asked_nouns(question) if unseen(noun.split()[-1]) and asked(f"which {noun}?").slot is None
            and stem(noun.split()[-1]) not in _FRAME]  # "which hashtags": the documents' own form, not a topic


def absent_names(question: str, passages_folded: str, subject_names: Iterable[str], df: Callable[[str], float],
                 th: Answerability = THRESHOLDS,
                 initials: frozenset[str] | Callable[[], frozenset[str]] = frozenset()) -> list[str]:
    """Rare names and numbers in the question, other than the subject's, that the subject's passages never mention.

    `df(name)` is the share of chunks that mention the name; `initials` as in `unknown_names`."""
    subject = {fold(n) for n in subject_names}
    subject_tokens = {t for n in subject_names for t in content_tokens(n)}
    out = []
    for n in named_terms(question):
        if fold(n) in subject or set(content_tokens(n)) <= subject_tokens or fold(n) in _NOT_NAMES:
            continue
        if df(n) <= th.absent_max_share and not mentions(passages_folded, n):
            out.append(n)
    out = without_initialisms(out, initials)
    numbers = figures(question) - numbers_in(passages_folded) - _common_editions(question, df, th)
    return out + sorted(n for n in numbers if not any(n in fold(x) for x in out))


# A year after a name: "MLSys 2026", "ASPLOS 2026" name an edition, not a figure the passages must repeat.
_EDITION = re.compile(r"(?<![\w-])([A-Za-z][\w-]*) ((?:19|20)\d\d)\b")


def _common_editions(question: str, df: Callable[[str], float], th: Answerability) -> set[str]:
    """The years in the question that name an edition the documents mention widely ("MLSys 2026"): a passage
    about the subject need not repeat them."""
    return {m.group(2) for m in _EDITION.finditer(question) if df(m.group(0)) > th.absent_max_share}


def coverage(terms: list[str], tokens: set[str], idf: Callable[[str], float]) -> float:
    """Share of the terms' IDF mass present in the tokens (1.0 with no terms)."""
    total = sum(idf(t) for t in terms)
    return sum(idf(t) for t in terms if t in tokens) / total if total else 1.0


def blank(sentence: str, known: Iterable[str]) -> str:
    """The sentence with the given names blanked: what a question already says cannot be its answer."""
    for term in sorted({k for k in known if k}, key=len, reverse=True):
        sentence = re.sub(r"(?<![\w.,])" + re.escape(term) + r"(?![\w]|[.,]\d)", " ", sentence, flags=re.I)
    # "@vllm_project" is the account of the question's "vLLM (project)"
    plain = {re.sub(r"\W|_", "", fold(k)) for k in known}

    def own_account(m: re.Match) -> str:
        handle = fold(m.group(1))
        return " " if handle.replace("_", "") in plain or handle.split("_")[0] in plain else m.group(0)

    return re.sub(r"@(\w+)", own_account, sentence)


# A number the question states, not one inside a name ("SpecDiff-2", "Llama-3"): standing after a space or start.
_GIVEN_NUMBER = re.compile(r"(?:(?<=\s)|^)\d[\d.,]*[×x%]?(?![\w-])")


def given(question: str, subject_names: Iterable[str], ask: Asked) -> list[str]:
    """What the question itself gives, which cannot be its answer: its numbers, and for a named thing (a model, a
    dataset, hardware) also its names and its subject's names."""
    numbers = [m.group(0) for m in _GIVEN_NUMBER.finditer(question)]
    if ask.slot in ("number", "date", "link"):  # and the names with digits: "GPT-100B" is no figure about GPT
        return numbers + [n for n in named_terms(question) if re.search(r"\d", n)]
    return [*subject_names, *named_terms(question), *numbers]


def slot_answering(sentence: str, extra_tokens: set[str], cosine: float, focus: list[str], ask: Asked,
                   idf: Callable[[str], float], known: Iterable[str] = (), th: Answerability = THRESHOLDS) -> bool:
    """Whether a sentence holds the asked type (in something the question did not already give) and is about the
    asked focus."""
    if not holds_slot(blank(sentence, known), ask):
        return False
    return coverage(focus, set(content_tokens(sentence)) | extra_tokens, idf) >= th.slot_coverage or cosine >= th.slot_cosine


def covered(sentences: list[tuple[str, set[str], float]], focus: list[str], idf: Callable[[str], float],
            th: Answerability = THRESHOLDS, parts: int = 1) -> bool:
    """Whether the best candidates (sentence, extra tokens, cosine), best first, together cover the focus; a
    question of several parts may draw on `union_of` sentences per part."""
    top = sentences[: th.union_of * parts]
    if not top:
        return False
    tokens = set().union(*(set(content_tokens(s)) | extra for s, extra, _ in top))
    share = coverage(focus, tokens, idf)
    # Similarity alone is not enough: at least one of the asked words must be there ("submission deadline" is close
    # to every sentence about the conference's dates, and none of them says it).
    return share >= th.union_coverage or (share > 0 and max(c for _, _, c in top) >= th.focus_cosine)


_SLOT_TEMPLATES = {
    "link": "The documents don't say where {s}'s code or artifacts are available.",
    "hardware": "The documents don't say which hardware {s} was measured on.",
    "dataset": "The documents don't say which datasets or benchmarks {s} was evaluated on.",
    "baseline": "The documents don't say which baselines {s} was compared against.",
    "model": "The documents don't say which models or model sizes {s} used.",
    "date": "The documents don't give the date asked for{about}.",
    "org": "The documents don't name the company or institution asked for{about}.",
    "number": "The documents don't give a figure for {focus}{about}.",
}
_GENERIC = {"number": "The documents don't give the figure asked{about}.",
            None: "The documents don't say what this question asks{about}."}


def focus_phrase(question: str, focus: list[str], th: Answerability = THRESHOLDS) -> str:
    """The question's focus words in their own spelling, in question order ("" when there are too many to read)."""
    words = list(dict.fromkeys(w for w in re.findall(r"[\w.-]+", question) if any(t in focus for t in content_tokens(w))))
    return " ".join(words) if len(words) <= th.missing_phrase_words else ""


def missing_sentence(question: str, ask: Asked, subject: str | None, focus: list[str], absent: list[str] = (),
                     unknown: list[str] = ()) -> str:
    """One sentence saying what the documents don't hold."""
    about = f" for {subject}" if subject else ""
    if unknown:
        return f"The documents don't mention {_join(unknown)}."
    if absent:
        return f"The documents don't mention {_join(absent)}{about}."
    if ask.slot == "person":
        m = re.search(r"\bwho(se)?\b(.*)", question.rstrip(" ?!."), re.I)
        return f"The documents don't say who{m.group(2)}." if m and m.group(2).strip() else \
            f"The documents don't say who is meant{about}."
    phrase = focus_phrase(question, focus)
    if not phrase and ask.slot in (None, "number"):
        return _GENERIC[ask.slot].format(about=about)
    template = _SLOT_TEMPLATES.get(ask.slot or "")
    if template:
        return template.format(s=subject or "this work", about=about, focus=phrase)
    return f"The documents don't say anything about {phrase}{about}."


def _join(items: list[str]) -> str:
    items = [f"“{i}”" if " " not in i and not i[:1].isupper() and not i[:1].isdigit() else i for i in items[:3]]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def no_stop(tokens: Iterable[str]) -> set[str]:
    """Tokens without stopwords."""
    return {t for t in tokens if t not in STOPWORDS}
