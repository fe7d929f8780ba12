"""Exact answers over the paper table (see rag.papertable): counts, lists and rankings by institution, author,
keyword, title word or topic, within the venue and year a question names, each with the rule it counted by."""
from __future__ import annotations

import re
from dataclasses import dataclass, field as dc_field, replace

from .article import source_answer, source_number  # noqa: F401 - the routed answers api.py asks for
from .intents import asking
from .routeforms import (AUTHOR_WORD as _AUTHOR_WORD, COUNT as _COUNT, EXHAUSTIVE as _EXHAUSTIVE,
                         INSTITUTION_WORD as _INST_WORD, LIST as _LIST, POSTERS as _POSTERS, RANK as _RANK,
                         TOP_N as _TOP_N, WHERE_FROM as _WHERE_FROM, WHO_WROTE as _WHO_WROTE, TITLE_WORD as _TITLE,
                         TOPIC as _TOPIC, HOW_OR_WHY as _HOW_OR_WHY)
from .papertable import (DEFAULT_NOUN, INSTITUTION_ALIASES, ROW_KEY, TOPIC_THRESHOLD, Paper, Poster,  # noqa: F401
                         as_table, files_of, find_author, find_institution, find_scope, find_titled, mentioning_all,
                         noun_of, paper_table, ranking, word_re)
from .text import content_tokens, fold

_NUMBER_WORDS = {"three": 3, "five": 5, "ten": 10}
_DATE_PHRASE = re.compile(r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s*)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|"
                          r"dec)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?(?:,? \d{4})?|\d{4}-\d\d-\d\d|(?:mon|tues|wednes|thurs|fri|"
                          r"satur|sun)day", re.I)
_OTHER_DOCS = re.compile(r"\b(notes|tweets?|article|preview|sessions?)\b")
# Words that only say "all of them": a count with nothing else left asks for the size of the program. The
# collection's name and the scope's venue and year join them per question.
_TOTAL_WORDS = set(content_tokens("posters papers works submissions abstracts accepted total program there "
                                  "conference presented overall count number"))
_ACCEPTED = re.compile(r"\baccepted\b")
_REJECTED = re.compile(r"\b(?:rejected|withdrawn)\b")
_KEYWORD = re.compile(r"\bkey ?words?\b|\btag(?:s|ged)?\b")
_KEYWORD_AFTER = re.compile(r"\b(?:key ?words?|tag(?:s|ged)?)\s+(?:is |are |include |includes |including |contain |"
                            r"containing |of |like |:\s*)?(?:the )?([\w][\w .+-]*?)\s*(?:[?.!,;]|$)", re.I)
_KEYWORD_BEFORE = re.compile(r"\b(?:list|lists|listing|with|have|has|give|gives)\s+([\w][\w .+-]*?)\s+as\s+(?:a |an |"
                             r"one of (?:the |their |its )?)?(?:key ?words?|tags?)\b", re.I)


@dataclass
class Route:
    """A question the table answers exactly, within the venue and year it names."""

    op: str  # count | list | rank_institutions | rank_authors | authors_of
    field: str | None = None  # institution | author | keyword | title | text | mention | topic
    value: str | None = None
    terms: list[str] = dc_field(default_factory=list)
    top_n: int = 5
    where: str = "both"  # for field "text": title | abstract | both
    match: str = "word"  # for field "text": word | substring
    venue: str | None = None  # only rows of this venue
    year: int | None = None  # only rows of this year
    status: str | None = None  # accepted | rejected: only rows with that decision
    collection: str = ""  # what the whole table is called in answers ("MLSys 2026")
    embedded: str = "abstract"  # for field "topic": what a row's vector embeds ("title" in a lean-plan index)

    @property
    def scope(self) -> str:
        """What the counted rows are called: the venue and year asked about, else the collection's name."""
        return " ".join(x for x in (self.venue, str(self.year) if self.year else "") if x) or self.collection


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


def keyword_rule(question: str, op: str, table) -> Route | None:
    """A count or list by keyword ("papers that list 'reinforcement learning' as a keyword"), when rows have any."""
    if not _KEYWORD.search(fold(question)) or not any(p.keywords for p in table):
        return None
    m = _QUOTED.search(question) or _KEYWORD_BEFORE.search(question) or _KEYWORD_AFTER.search(question)
    term = m.group(1).strip() if m else ""
    return Route(op, "keyword", term, [term]) if term else None


def _name_words(name: str) -> str:
    """A pattern for a collection's name with its later words optional: "MLSys 2026" -> mlsys(?: 2026)?."""
    words = [re.escape(fold(w)) for w in name.split()]
    return words[0] + "".join(f"(?: {w})?" for w in words[1:]) if words else ""


def route(question: str, table: list[Paper], named_posters: list[str], collection: str = "") -> Route | None:
    """Recognise count, list, ranking and authorship questions about the paper table; None for everything else.

    `named_posters` are the rows whose names the question mentions (by chunk id); `collection` names the table.
    """
    table = as_table(table)
    venue, year, question = find_scope(question, table)
    found = _route(asking(question), table, named_posters, collection)
    if found is None:
        return None
    q = fold(question)
    decided = any(p.accepted is not None for p in table)
    status = ("accepted" if _ACCEPTED.search(q) else "rejected" if _REJECTED.search(q) else None) if decided else None
    return replace(found, venue=venue, year=year, status=status, collection=collection)


def _route(question: str, table, named_posters: list[str], collection: str) -> Route | None:
    q = fold(question)
    asks_who = _WHO_WROTE.search(q) or (_WHERE_FROM.search(q) and re.search(r"\bfrom\b|\baffiliat", q))
    if asks_who and not _HOW_OR_WHY.search(q):
        # One row named by its system name; else a row whose full title the question quotes.
        target = named_posters[0] if len(named_posters) == 1 else None if named_posters else \
            find_titled(question, table)
        if target and not _COUNT.search(q):
            return Route("authors_of", value=target)
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
    stated = keyword_rule(question, op, table) or stated_rule(question, op)
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
    named = _name_words(collection)
    trimmed = re.sub((rf"\s+(?:at|in) {named}\b|" if named else "") + r"[?.!]+$", "", question.strip(), flags=re.I)
    m = _TOPIC.search(trimmed)
    if m:
        phrase = re.split(r"[,;?]|\s+and (?:which|what|how|who)\b|\s+(?:explicitly|specifically)\b", m.group(1))[0].strip()
        verb = m.group(0)[: m.start(1) - m.start(0)]
        field = "mention" if "mention" in verb else "topic"
        # "Which posters tackle X?" asks for an overview, answered from passages; a count or an exhaustive list
        # ("list every poster on X") needs the table.
        dated = _DATE_PHRASE.fullmatch(phrase.strip())  # "shown on May 20" is a date, not a topic
        if content_tokens(phrase) and not dated and (field == "mention" or op == "count" or _EXHAUSTIVE.search(q)):
            return Route(op, field, phrase)
    leftover = set(content_tokens(question)) - _TOTAL_WORDS - set(content_tokens(collection))
    if op == "count" and not leftover and not _OTHER_DOCS.search(q) and not named_posters:
        return Route("count")
    return None


def in_scope(route: Route, table, topic_scores: list[float] | None = None) -> tuple[list[Paper], list[float] | None]:
    """The rows of the venue, year and decision the route asks about, with their topic scores."""
    keep = [i for i, p in enumerate(table)
            if (route.venue is None or p.venue == route.venue) and (route.year is None or p.year == route.year)
            and (route.status is None or p.accepted is (route.status == "accepted"))]
    if len(keep) == len(table):
        return table, topic_scores
    return as_table(table).subset(keep), None if topic_scores is None else [topic_scores[i] for i in keep]


def matches(route: Route, table: list[Paper], topic_scores: list[float] | None = None) -> list[Paper]:
    """Rows that satisfy the route's filter, in program order."""
    if route.field == "institution":
        pats = [word_re(t) for t in route.terms]
        return [p for p in table if any(pat.search(fold(i)) for i in p.institutions for pat in pats)]
    if route.field == "author":
        return [p for p in table if any(fold(a) == fold(route.value) for a in p.authors)]
    if route.field == "keyword":
        return [p for p in table if any(fold(k) == fold(route.value) for k in p.keywords)]
    if route.field == "title":
        pat = word_re(route.value)
        return [p for p in table if pat.search(fold(p.title))]
    if route.field == "text":
        pat = word_re(route.value)
        texts = [(p, fold({"title": p.title, "abstract": p.text}.get(route.where, f"{p.title} {p.text}"))) for p in table]
        if route.match == "substring":
            return [p for p, t in texts if fold(route.value) in t]
        return [p for p, t in texts if pat.search(t)]
    if route.field in ("topic", "mention"):
        if route.field == "mention":
            topic_scores = None
        return [p for p, s, has in zip(table, topic_scores or [0.0] * len(table), mentioning_all(table, route.value))
                if has or s >= TOPIC_THRESHOLD]
    return list(table)


def rule_text(route: Route, noun: str = DEFAULT_NOUN, files: str = "") -> str:
    """The counting rule, stated so the user can check it."""
    if route.field == "institution":
        terms = " or ".join(f"'{t}'" for t in route.terms)
        return f"an author's institution field contains {terms} as a word, case-insensitive"
    if route.field == "author":
        return f"'{route.value}' is listed among the authors"
    if route.field == "keyword":
        return f"one of the {noun}'s keywords is '{route.value}' (the whole keyword), case-insensitive"
    if route.field == "title":
        return f"the title contains the word '{route.value}', case-insensitive"
    if route.field == "text":
        how = "anywhere, as a substring" if route.match == "substring" else "as a word"
        return f"{_WHERE_LABELS[route.where]} contains '{route.value}' {how}, case-insensitive"
    if route.field == "mention":
        return f"the title or abstract contains every key word of '{route.value}'"
    if route.field == "topic":
        return (f"the title and abstract contain every key word of '{route.value}', or the {route.embedded}'s "
                f"embedding has cosine similarity ≥ {TOPIC_THRESHOLD} with it")
    return f"every {noun} in {_program(route)}" + (f" ({files})" if files else "")


def _program(route: Route) -> str:
    """"the MLSys 2026 program", or "the program" for a table nobody named."""
    return f"the {route.scope} program" if route.scope else "the program"


_DECISIONS = {"accepted": "a status other than reject or withdrawn", "rejected": "a status of reject or withdrawn"}


def _status_rule(route: Route, rows: list[Paper], noun: str) -> str:
    """What the route's decision filter (or the lack of one over mixed decisions) adds to the rule."""
    if route.status:
        return f"; only {route.status} {noun}s, those with {_DECISIONS[route.status]}"
    if any(p.accepted is False for p in rows):
        return f"; every listed {noun} counted, whatever its status"
    return ""


def cite(p: Paper) -> str:
    """Placeholder that the answer assembly turns into a [n] marker for this row."""
    return f"{{cite:{p.chunk_id}}}"


def _listing(posters: list[Paper]) -> str:
    return "; ".join(f"{p.label} {cite(p)}" for p in posters)


def answer(route: Route, table: list[Paper], topic_scores: list[float] | None = None) -> str:
    """The exact answer, with a {cite:id} placeholder after every row it counts or lists."""
    if route.op == "authors_of":
        p = next(p for p in table if p.chunk_id == route.value)
        text = f"{p.label} ({p.title}) is by {', '.join(p.authors) or 'authors not listed in the program'} {cite(p)}."
        if p.institutions:
            text += f" Their institutions: {'; '.join(p.institutions)} {cite(p)}."
        return text
    everything, _ = in_scope(replace(route, status=None), table)
    rows, topic_scores = in_scope(route, table, topic_scores)
    noun = noun_of(everything or table)
    status = _status_rule(route, everything, noun)
    if route.op in ("rank_institutions", "rank_authors"):
        by = "institution" if route.op == "rank_institutions" else "author"
        top = ranking(rows, by, route.top_n)
        lines = [f"{i}. {name} — {len(ps)} {noun}{'s' if len(ps) != 1 else ''}: {_listing(ps)}."
                 for i, (name, ps) in enumerate(top, 1)]
        return (f"Top {len(top)} {by}s by number of {(route.scope + ' ') if route.scope else ''}{noun}s (rule: {by} "
                f"names exactly as written in the program, each {noun} counted once per {by}{status}):\n"
                + "\n".join(lines))
    if route.op == "count" and route.field is None:
        which = f"{route.status} " if route.status else ""
        rule = f" (rule: {_DECISIONS[route.status]})" if route.status else ""
        program = _program(route)
        return f"{program[0].upper()}{program[1:]} ({files_of(everything)}) lists {len(rows)} {which}{noun}s{rule}."
    found = matches(route, rows, topic_scores)
    rule = rule_text(route, noun, files_of(everything)) + status
    if not found:
        return f"No {noun} in {_program(route)} matches (rule: {rule})."
    n = len(found)
    return f"{n} {noun}{'s' if n != 1 else ''} match{'es' if n == 1 else ''} (rule: {rule}): {_listing(found)}."
