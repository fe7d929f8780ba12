"""The paper table: one row per chunk whose source declares it a table row (metadata `table_row`), with the
filters and rankings that exact answers count over. Any paper-list source fills it the same way.

A source declares a row by setting `table_row` to the noun for one row ("poster", "paper"); the row's facts are the
chunk's title, text and its `name`, `authors`, `institutions`, `venue`, `year`, `status`, `accepted`, `keywords`
and `source` metadata.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache

from .text import content_tokens, fold, tokenize

ROW_KEY = "table_row"  # chunk metadata: present (the noun for one row) when the chunk is a row with citable facts
DEFAULT_NOUN = "paper"
MAX_NAMED_FILES = 3  # an answer names the files it counted over up to this many, else says how many
TOPIC_THRESHOLD = 0.5  # cosine between the topic phrase and a row's abstract vector
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
_NOT_NAMES = {"how", "many", "which", "what", "posters", "papers", "list", "authors"}
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class Paper:
    """One row of the paper table."""

    chunk_id: str
    title: str
    name: str
    authors: tuple[str, ...]
    institutions: tuple[str, ...]
    text: str
    venue: str | None = None
    year: int | None = None
    status: str | None = None
    accepted: bool | None = None
    keywords: tuple[str, ...] = ()
    source: str = ""
    noun: str = "poster"  # sources always say (table_row); a row built by hand is a poster, as the MLSys rows were

    @property
    def label(self) -> str:
        """Short display name: the system name, else the title."""
        return self.name or self.title


Poster = Paper  # the name the MLSys program's rows had


class PaperTable(list):
    """The rows, in corpus order, with the name lookups routing needs worked out once."""

    @cached_property
    def folded_institutions(self) -> str:
        """Every institution name, folded, one a line (one search covers them all)."""
        return "\n".join({fold(i) for p in self for i in p.institutions})

    @cached_property
    def key_words(self) -> list[frozenset[str]]:
        """Each row's title and abstract as a set of content tokens (rag.text.content_tokens).

        Worked out per distinct word, once: stemming every word of 22,388 abstracts per question took 13 s.
        """
        parent = getattr(self, "_parent", None)
        if parent is not None:
            return [parent[0].key_words[i] for i in parent[1]]
        stems: dict[str, set[str]] = {}
        out = []
        for p in self:
            words: set[str] = set()
            for tok in set(tokenize(p.title + " " + p.text)):
                if tok not in stems:
                    stems[tok] = set(content_tokens(tok))
                words |= stems[tok]
            out.append(frozenset(words))
        return out

    @cached_property
    def authors_by_last_word(self) -> dict[str, list[str]]:
        """Author names of two or more words, keyed by the last word of the folded name."""
        out: dict[str, list[str]] = {}
        for a in {a for p in self for a in p.authors}:
            words = _WORDS.findall(fold(a))
            if len(a.split()) >= 2 and words:
                out.setdefault(words[-1], []).append(a)
        return out

    @cached_property
    def venues(self) -> list[str]:
        """Venue names the rows carry, longest first."""
        return sorted({p.venue for p in self if p.venue}, key=lambda v: (-len(v), v))

    @cached_property
    def years(self) -> set[int]:
        """Years the rows carry."""
        return {p.year for p in self if p.year}


    def subset(self, keep: list[int]) -> PaperTable:
        """The rows at these positions, sharing this table's worked-out key words."""
        sub = PaperTable(self[i] for i in keep)
        sub._parent = (self, keep)
        return sub


def as_table(rows) -> PaperTable:
    """The rows as a PaperTable (a PaperTable is returned as it is)."""
    return rows if isinstance(rows, PaperTable) else PaperTable(rows)


def _tuple(value) -> tuple[str, ...]:
    return tuple(value or ())


def paper_table(chunks) -> PaperTable:
    """The table of every chunk its source declared a row (metadata `table_row`), in corpus order."""
    rows = PaperTable()
    for c in chunks:
        noun = c.metadata.get(ROW_KEY)
        if not noun:
            continue
        m = c.metadata
        year = m.get("year")
        rows.append(Paper(c.id, c.title, m.get("name") or "", _tuple(m.get("authors")), _tuple(m.get("institutions")),
                          c.text, m.get("venue") or None, int(year) if year else None, m.get("status") or None,
                          m.get("accepted"), _tuple(m.get("keywords")), m.get("source") or "",
                          noun if isinstance(noun, str) else DEFAULT_NOUN))
    return rows


def noun_of(rows) -> str:
    """The noun for one row: the most common among the rows ('paper' for an empty table)."""
    counts = Counter(p.noun for p in rows)
    return counts.most_common(1)[0][0] if counts else DEFAULT_NOUN


def files_of(rows) -> str:
    """The files the rows come from: their names when few ("posters.json"), else how many."""
    files = list(dict.fromkeys(p.source for p in rows if p.source))
    return ", ".join(files) if len(files) <= MAX_NAMED_FILES else f"{len(files)} files"


@lru_cache(maxsize=4096)  # find_author tries the author names that end in one of the question's words
def word_re(term: str) -> re.Pattern:
    """A case-folded pattern matching the term as a whole word."""
    return re.compile(r"(?<![\w])" + re.escape(fold(term)) + r"(?![\w])")


def _ngrams(question: str, max_n: int = 5) -> list[str]:
    words = re.findall(r"[\w&.']+", question.replace("-", " "))
    grams = [" ".join(words[i:i + n]).strip(".'") for n in range(max_n, 0, -1) for i in range(len(words) - n + 1)]
    return [g for g in grams if not all(fold(w) in _GENERIC for w in g.split())]


def find_institution(question: str, table) -> tuple[str, list[str]] | None:
    """The institution a question names (longest match against the table), with the terms it expands to."""
    insts = as_table(table).folded_institutions
    for gram in _ngrams(question):
        g = fold(gram)
        if len(g) < 2 or g in _GENERIC or g in _NOT_NAMES:
            continue
        if g not in INSTITUTION_ALIASES and not any(ch.isupper() for ch in gram):
            continue  # an institution is named as a proper noun: "systems companies" names none
        terms = INSTITUTION_ALIASES.get(g, [gram])
        if any(fold(t) in insts and word_re(t).search(insts) for t in terms):  # the substring test is the cheap one
            return gram, terms
    return None


def find_author(question: str, table) -> str | None:
    """A full author name the question mentions (the longest, when several do)."""
    q = fold(question)
    by_last = as_table(table).authors_by_last_word
    names = sorted({a for w in set(_WORDS.findall(q)) for a in by_last.get(w, ())}, key=len, reverse=True)
    return next((a for a in names if word_re(a).search(q)), None)


def find_titled(question: str, table) -> str | None:
    """The row whose full title the question quotes (the longest such title), by chunk id."""
    q = fold(question)
    best = max((p for p in table if len(p.title) > 12 and fold(p.title) in q), key=lambda p: len(p.title), default=None)
    return best.chunk_id if best else None


def mentioning_all(table, phrase: str) -> list[bool]:
    """For each row, whether its title and abstract hold every key word of the phrase."""
    want = set(content_tokens(phrase))
    return [want <= words for words in as_table(table).key_words]


def ranking(table, by: str, n: int) -> list[tuple[str, list[Paper]]]:
    """Top-n institutions or authors by number of rows (each row counted once per name)."""
    count: Counter = Counter()
    members: dict[str, list[Paper]] = {}
    for p in table:
        for name in dict.fromkeys(p.institutions if by == "institution" else p.authors):
            count[name] += 1
            members.setdefault(name, []).append(p)
    return [(name, members[name]) for name, _ in sorted(count.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_LEAD = r"(?:\b(?:at|in|from|of|for)\s+(?:the\s+)?)?"  # "papers at ICLR 2018": the preposition goes with the scope


def find_scope(question: str, table) -> tuple[str | None, int | None, str]:
    """The venue and year a question names among those the rows carry, and the question without them.

    "How many ICLR 2018 papers ..." -> ("ICLR", 2018, "How many papers ..."). A table whose rows carry no venue
    or year (the MLSys program) has no scope: the question is returned unchanged.
    """
    table = as_table(table)
    venue = year = None
    q = question
    for v in table.venues:
        m = re.search(_LEAD + r"(?<![\w])" + re.escape(v) + r"(?![\w])(?:\s*'?((?:19|20)\d\d)(?!\d))?", q, re.I)
        if m:
            venue = v
            if m.group(1) and table.years:
                year = int(m.group(1))
            q = q[:m.start()] + " " + q[m.end():]
            break
    if year is None and table.years:
        m = re.search(_LEAD + _YEAR.pattern, q, re.I)
        if m:
            year = int(m.group(1))
            q = q[:m.start()] + " " + q[m.end():]
    return venue, year, re.sub(r"\s{2,}", " ", q).strip() if q != question else question
