"""Exact answers over the poster table: counts, lists and rankings by institution, author, title word or topic."""
from __future__ import annotations

import re
from functools import lru_cache
from collections import Counter
from dataclasses import dataclass, field as dc_field

from .intents import (AUTHOR_WORD as _AUTHOR_WORD, COUNT as _COUNT, EXHAUSTIVE as _EXHAUSTIVE,
                      INSTITUTION_WORD as _INST_WORD, LIST as _LIST, POSTERS as _POSTERS, RANK as _RANK,
                      TOP_N as _TOP_N, WHERE_FROM as _WHERE_FROM, WHO_WROTE as _WHO_WROTE)
from .text import content_tokens, fold

_TITLE = re.compile(r"\btitles?\b[^?]*?\b(?:contain(?:s|ing)?|includ(?:es|ing)|mention(?:s|ing)?|with|has|have|use|uses|using)\s+(?:the\s+)?(?:word|term|string)?\s*[\"'“‘]?([\w][\w.+-]*)|[\"'“‘]?([\w][\w.+-]*)[\"'”’]?\s+in (?:the |their |its |a )?titles?")
_TOPIC = re.compile(r"\b(?:about|on|regarding|related to|discussing|concerning|dealing with|involving|mention(?:s|ing)?|(?:that|which) (?:mention|study|studies|address|addresses|tackle|tackles|target|targets|use|uses|focus on|focuses on|propose|proposes|improve|improves))\s+(.+)$")
_NUMBER_WORDS = {"three": 3, "five": 5, "ten": 10}
_DATE_PHRASE = re.compile(r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s*)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|"
                          r"dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?(?:,? \d{4})?|\d{4}-\d\d-\d\d|(?:mon|tues|wednes|thurs|fri|"
                          r"satur|sun)day", re.I)
_OTHER_DOCS = re.compile(r"\b(notes|tweets?|article|preview|sessions?)\b")
_GENERIC = set("university universities institute institution technology research lab labs inc group college school science "
               "sciences national state center centre corporation company the of and ai for at in de".split())
# Well-known short names that appear under a longer name in the program's institution field.
INSTITUTION_ALIASES = {
    "mit": ["MIT", "Massachusetts Institute of Technology"],
    "meta": ["Meta", "Facebook"], "facebook": ["Meta", "Facebook"],
    "amazon": ["Amazon", "AWS"], "aws": ["Amazon", "AWS"],
    "uc berkeley": ["UC Berkeley", "University of California, Berkeley"],
    "cmu": ["CMU", "Carnegie Mellon"], "uiuc": ["UIUC", "University of Illinois"],
    "ucsd": ["UCSD", "UC San Diego", "University of California, San Diego"],
}
_TOTAL_WORDS = set(content_tokens("posters papers works submissions abstracts mlsys 2026 accepted total program there "
                                  "conference presented overall count number"))
TOPIC_THRESHOLD = 0.5  # cosine between the topic phrase and a poster's abstract vector


@dataclass(frozen=True)
class Poster:
    """One row of the poster table."""

    chunk_id: str
    title: str
    name: str
    authors: tuple[str, ...]
    institutions: tuple[str, ...]
    text: str

    @property
    def label(self) -> str:
        """Short display name: the system name, else the title."""
        return self.name or self.title


@dataclass
class Route:
    """A question the table answers exactly."""

    op: str  # count | list | rank_institutions | rank_authors | authors_of
    field: str | None = None  # institution | author | title | topic
    value: str | None = None
    terms: list[str] = dc_field(default_factory=list)
    top_n: int = 5
    where: str = "both"  # for field "text": title | abstract | both
    match: str = "word"  # for field "text": word | substring


# A rule the question states: a quoted term, where to look for it, and whether it must stand as a word.
_QUOTED = re.compile(r"[\"“‘']([^\"”’']{1,40})[\"”’']")
_SUBSTRING = re.compile(r"\b(?:substring|sub-string|string|characters?|letters?|anywhere|as part of (?:a|another) word)\b")
_TEXT_FIELD = re.compile(r"\b(?:titles?|abstracts?|texts?|mention\w*|contain\w*|words?|terms?|string|substring)\b")
_WHERE_LABELS = {"title": "the title", "abstract": "the abstract", "both": "the title or abstract"}


def stated_rule(question: str, op: str) -> Route | None:
    """A count or list whose rule the question states: "titles containing the substring 'LLM'"."""
    m = _QUOTED.search(question)
    q = fold(question)
    if not m or not m.group(1).strip() or not _TEXT_FIELD.search(q):
        return None
    has_title, has_abstract = bool(re.search(r"\btitles?\b", q)), bool(re.search(r"\babstracts?\b|\btexts?\b", q))
    where = "title" if has_title and not has_abstract else "abstract" if has_abstract and not has_title else "both"
    match = "substring" if _SUBSTRING.search(q) else "word"
    term = m.group(1).strip()
    return Route(op, "text", term, [term], where=where, match=match)


_SOURCE_Q = re.compile(r"\b(?:source|reference|ref\.?|citation)\s*(?:#|no\.?|number)?\s*\[?(\d{1,3})\]?", re.I)


def source_number(question: str) -> int | None:
    """The article source a question asks about ("What is source 12?"), if any."""
    m = _SOURCE_Q.search(question)
    return int(m.group(1)) if m else None


def source_answer(n: int, chunks) -> str | None:
    """Name article source n and quote where the article cites it, with {cite:id} placeholders; None if never cited."""
    citing = [c for c in chunks if c.kind == "preview" and str(n) in (c.metadata.get("references") or {})]
    if not citing:
        return None
    title = citing[0].metadata["references"][str(n)]
    text = f"Source {n} in the research preview's Sources list is \"{title}\" {{cite:{citing[0].id}}}."
    for c in citing[:2]:
        sentence = next((s for s in re.split(r"(?<=[.!?])\s+", c.text) if f"[{n}]" in s), c.text)
        sentence = re.sub(r"\[\d{1,3}\]", "", sentence).strip()
        text += f" The article cites it in {c.metadata['section']}: \"{sentence}\" {{cite:{c.id}}}."
    return text


def poster_table(chunks) -> list[Poster]:
    """The poster table built from poster chunks."""
    return [Poster(c.id, c.title, c.metadata.get("name") or "", tuple(c.metadata.get("authors", [])),
                   tuple(c.metadata.get("institutions", [])), c.text) for c in chunks if c.kind == "poster"]


def _ngrams(question: str, max_n: int = 5) -> list[str]:
    words = re.findall(r"[\w&.']+", question.replace("-", " "))
    grams = [" ".join(words[i:i + n]).strip(".'") for n in range(max_n, 0, -1) for i in range(len(words) - n + 1)]
    return [g for g in grams if not all(fold(w) in _GENERIC for w in g.split())]


@lru_cache(maxsize=4096)  # find_author tries every one of ~800 author names per question
def _word_re(term: str) -> re.Pattern:
    return re.compile(r"(?<![\w])" + re.escape(fold(term)) + r"(?![\w])")


def find_institution(question: str, table: list[Poster]) -> tuple[str, list[str]] | None:
    """The institution a question names (longest match against the table), with the terms it expands to."""
    insts = {fold(i) for p in table for i in p.institutions}
    for gram in _ngrams(question):
        g = fold(gram)
        if len(g) < 2 or g in _GENERIC or g in {"how", "many", "which", "what", "posters", "papers", "list", "authors"}:
            continue
        if g not in INSTITUTION_ALIASES and not any(ch.isupper() for ch in gram):
            continue  # an institution is named as a proper noun: "systems companies" names none
        terms = INSTITUTION_ALIASES.get(g, [gram])
        pats = [_word_re(t) for t in terms]
        if any(p.search(i) for i in insts for p in pats):
            return gram, terms
    return None


def find_author(question: str, table: list[Poster]) -> str | None:
    """A full author name the question mentions."""
    q = fold(question)
    names = sorted({a for p in table for a in p.authors}, key=len, reverse=True)
    return next((a for a in names if len(a.split()) >= 2 and _word_re(a).search(q)), None)


def route(question: str, table: list[Poster], named_posters: list[str]) -> Route | None:
    """Recognise count, list, ranking and authorship questions about the poster table; None for everything else."""
    q = fold(question)
    if _WHO_WROTE.search(q) or (_WHERE_FROM.search(q) and re.search(r"\bfrom\b|\baffiliat", q)):
        if len(named_posters) == 1 and not _COUNT.search(q):
            return Route("authors_of", value=named_posters[0])
    if _RANK.search(q) and (_COUNT.search(q) or re.search(rf"\b{_POSTERS}\b|\bprolific\b|\baccepted\b", q)):
        m = _TOP_N.search(q)
        n = int(_NUMBER_WORDS.get(m.group(1), m.group(1))) if m else 5
        if _INST_WORD.search(q):
            return Route("rank_institutions", top_n=n)
        if _AUTHOR_WORD.search(q):
            return Route("rank_authors", top_n=n)
    op = "count" if _COUNT.search(q) else "list" if _LIST.search(q) else None
    if op is None:
        return None
    stated = stated_rule(question, op)
    if stated:
        return stated
    m = _TITLE.search(question)
    if m:
        word = m.group(1) or m.group(2)
        return Route(op, "title", word, [word])
    author = find_author(question, table)
    if author:
        return Route(op, "author", author, [author])
    inst = find_institution(question, table)
    if inst:
        return Route(op, "institution", inst[0], inst[1])
    m = _TOPIC.search(re.sub(r"\s+(?:at|in) mlsys(?: 2026)?\b|[?.!]+$", "", question.strip(), flags=re.I))
    if m:
        phrase = re.split(r"[,;?]|\s+and (?:which|what|how|who)\b|\s+(?:explicitly|specifically)\b", m.group(1))[0].strip()
        verb = m.group(0)[: m.start(1) - m.start(0)]
        field = "mention" if "mention" in verb else "topic"
        # "Which posters tackle X?" asks for an overview, answered from passages; a count or an exhaustive list
        # ("list every poster on X") needs the table.
        dated = _DATE_PHRASE.fullmatch(phrase.strip())  # "shown on May 20" is a date, not a topic
        if content_tokens(phrase) and not dated and (field == "mention" or op == "count" or _EXHAUSTIVE.search(q)):
            return Route(op, field, phrase)
    leftover = set(content_tokens(question)) - _TOTAL_WORDS
    if op == "count" and not leftover and not _OTHER_DOCS.search(q) and not named_posters:
        return Route("count")
    return None


def matches(route: Route, table: list[Poster], topic_scores: list[float] | None = None) -> list[Poster]:
    """Posters that satisfy the route's filter, in program order."""
    if route.field == "institution":
        pats = [_word_re(t) for t in route.terms]
        return [p for p in table if any(pat.search(fold(i)) for i in p.institutions for pat in pats)]
    if route.field == "author":
        return [p for p in table if any(fold(a) == fold(route.value) for a in p.authors)]
    if route.field == "title":
        pat = _word_re(route.value)
        return [p for p in table if pat.search(fold(p.title))]
    if route.field == "text":
        pat = _word_re(route.value)
        texts = [(p, fold({"title": p.title, "abstract": p.text}.get(route.where, f"{p.title} {p.text}"))) for p in table]
        if route.match == "substring":
            return [p for p, t in texts if fold(route.value) in t]
        return [p for p, t in texts if pat.search(t)]
    if route.field in ("topic", "mention"):
        want = set(content_tokens(route.value))
        if route.field == "mention":
            topic_scores = None
        out = []
        for p, s in zip(table, topic_scores or [0.0] * len(table)):
            if want <= set(content_tokens(p.title + " " + p.text)) or s >= TOPIC_THRESHOLD:
                out.append(p)
        return out
    return list(table)


def rule_text(route: Route) -> str:
    """The counting rule, stated so the user can check it."""
    if route.field == "institution":
        terms = " or ".join(f"'{t}'" for t in route.terms)
        return f"an author's institution field contains {terms} as a word, case-insensitive"
    if route.field == "author":
        return f"'{route.value}' is listed among the authors"
    if route.field == "title":
        return f"the title contains the word '{route.value}', case-insensitive"
    if route.field == "text":
        how = "anywhere, as a substring" if route.match == "substring" else "as a word"
        return f"{_WHERE_LABELS[route.where]} contains '{route.value}' {how}, case-insensitive"
    if route.field == "mention":
        return f"the title or abstract contains every key word of '{route.value}'"
    if route.field == "topic":
        return (f"the title and abstract contain every key word of '{route.value}', or the abstract's embedding "
                f"has cosine similarity ≥ {TOPIC_THRESHOLD} with it")
    return "every poster in the MLSys 2026 program (posters.json)"


def ranking(table: list[Poster], by: str, n: int) -> list[tuple[str, list[Poster]]]:
    """Top-n institutions or authors by number of posters (each poster counted once per name)."""
    count: Counter = Counter()
    members: dict[str, list[Poster]] = {}
    for p in table:
        for name in dict.fromkeys(p.institutions if by == "institution" else p.authors):
            count[name] += 1
            members.setdefault(name, []).append(p)
    return [(name, members[name]) for name, _ in sorted(count.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def cite(p: Poster) -> str:
    """Placeholder that the answer assembly turns into a [n] marker for this poster."""
    return f"{{cite:{p.chunk_id}}}"


def _listing(posters: list[Poster]) -> str:
    return "; ".join(f"{p.label} {cite(p)}" for p in posters)


def answer(route: Route, table: list[Poster], topic_scores: list[float] | None = None) -> str:
    """The exact answer, with a {cite:id} placeholder after every poster it counts or lists."""
    if route.op == "authors_of":
        p = next(p for p in table if p.chunk_id == route.value)
        text = f"{p.label} ({p.title}) is by {', '.join(p.authors) or 'authors not listed in the program'} {cite(p)}."
        if p.institutions:
            text += f" Their institutions: {'; '.join(p.institutions)} {cite(p)}."
        return text
    if route.op in ("rank_institutions", "rank_authors"):
        by = "institution" if route.op == "rank_institutions" else "author"
        top = ranking(table, by, route.top_n)
        lines = [f"{i}. {name} — {len(ps)} poster{'s' if len(ps) != 1 else ''}: {_listing(ps)}."
                 for i, (name, ps) in enumerate(top, 1)]
        return (f"Top {len(top)} {by}s by number of MLSys 2026 posters (rule: {by} names exactly as written in the "
                f"program, each poster counted once per {by}):\n" + "\n".join(lines))
    if route.op == "count" and route.field is None:
        return f"The MLSys 2026 program (posters.json) lists {len(table)} posters."
    found = matches(route, table, topic_scores)
    rule = rule_text(route)
    if not found:
        return f"No poster in the MLSys 2026 program matches (rule: {rule})."
    n = len(found)
    return f"{n} poster{'s' if n != 1 else ''} match{'es' if n == 1 else ''} (rule: {rule}): {_listing(found)}."
