"""Load the four corpus documents into chunks: one per poster, paragraph, notes entry or tweet."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from .text import STOPWORDS, clean_latex, fold, slug
from .types import Chunk

log = logging.getLogger(__name__)

PREVIEW_SECTIONS = ["What", "Why it matters", "Open questions", "Narrative", "Timeline", "Perspectives", "Tensions", "Sources"]
_REF = re.compile(r"\[(\d{1,3})\]")


# ---------------------------------------------------------------- posters
def short_name(title: str) -> str:
    """The system name a poster is known by: the part before the colon, if it is short."""
    head = re.split(r"\s*:\s+|\s+-\s+", title, maxsplit=1)[0].strip()
    return head if len(head.split()) <= 3 and head != title else ""


def parse_posters(raw: str, source: str = "posters.json") -> list[Chunk]:
    """One chunk per poster: title plus abstract, with authors, institutions and OpenReview link."""
    data = json.loads(raw)
    posters = data["results"] if isinstance(data, dict) else data
    chunks = []
    for p in posters:
        title = clean_latex(p["name"])
        name = short_name(title)
        authors = [a["fullname"].strip() for a in p.get("authors", []) if (a.get("fullname") or "").strip()]
        institutions: list[str] = []
        for a in p.get("authors", []):
            inst = clean_latex(a.get("institution") or "")
            if inst and inst not in institutions:
                institutions.append(inst)
        chunks.append(Chunk(
            id=f"poster:{p['id']}",
            kind="poster",
            title=title,
            text=clean_latex(p.get("abstract") or "", macro_name=name or None),
            metadata={
                "poster_id": p["id"],
                "name": name,
                "authors": authors,
                "institutions": institutions,
                "url": p.get("paper_url") or p.get("url"),
                "source": source,
                "table_row": "poster",  # a row of the paper table (rag.papertable): its metadata are citable facts
                "label": "poster abstract",
            },
        ))
    return chunks


# ---------------------------------------------------------------- research preview
def parse_sources(lines: list[str]) -> dict[int, str]:
    """Parse '- [n] title — origin (date)' lines into {n: title}."""
    sources = {}
    for line in lines:
        m = re.match(r"^-\s*\[(\d+)\]\s*(.+)$", line)
        if m:
            title = m.group(2)
            if " — " in title:
                title = title.rsplit(" — ", 1)[0]
            sources[int(m.group(1))] = title.strip()
    return sources


def _perspective_text(group: list[str]) -> str:
    """Actor name kept with its stance and evolution lines."""
    stance = [ln for ln in group[1:] if not ln.startswith("Evolution:")]
    evolution = [ln for ln in group[1:] if ln.startswith("Evolution:")]
    return "\n".join([f"{group[0]}: " + " ".join(stance), *evolution])


def parse_preview(raw: str, source: str = "research_preview.txt") -> list[Chunk]:
    """One chunk per paragraph, keeping its section; a Perspectives entry keeps actor, stance and evolution."""
    lines = [ln.strip() for ln in raw.splitlines()]
    doc_title = lines[0] if lines else "Research preview"
    sections: dict[str, list[str]] = {}
    current = None
    for line in lines[1:]:
        if line in PREVIEW_SECTIONS:
            current = line
            sections[current] = []
        elif current and line:
            sections[current].append(line)
    sources = parse_sources(sections.get("Sources", []))

    paragraphs: list[tuple[str, str, str]] = []  # (section, title, text)
    for section in PREVIEW_SECTIONS[:-1]:
        body = sections.get(section, [])
        if section == "Perspectives":
            group: list[str] = []
            for line in body:
                group.append(line)
                if line.startswith("Evolution:"):
                    paragraphs.append((section, group[0], _perspective_text(group)))
                    group = []
            if group:
                paragraphs.append((section, group[0], _perspective_text(group)))
        else:
            for line in body:
                paragraphs.append((section, section, line.lstrip("- ").strip()))

    chunks, counters = [], {}
    for section, title, text in paragraphs:
        counters[section] = counters.get(section, 0) + 1
        refs = sorted({int(n) for n in _REF.findall(text)})
        chunk_title = f"{section}: {title}" if section == "Perspectives" else f"Research preview — {section}"
        chunks.append(Chunk(
            id=f"preview:{slug(section, 3)}:{counters[section]}",
            kind="preview",
            title=chunk_title,
            text=text,
            metadata={
                "section": section,
                "actor": title if section == "Perspectives" else None,
                "references": {str(n): sources.get(n, "") for n in refs},
                "document": doc_title,
                "source": source,
                "label": "research preview",
            },
        ))
    return chunks


def preview_sources(raw: str) -> dict[int, str]:
    """The article's numbered Sources list as {n: title}."""
    lines = [ln.strip() for ln in raw.splitlines()]
    start = lines.index("Sources") + 1 if "Sources" in lines else len(lines)
    return parse_sources(lines[start:])


# ---------------------------------------------------------------- poster notes
NOTES_LABEL = "poster notes"
_THEME_HEAD = re.compile(r"(?<=[.!?])\s|\s—\s")
_TOPIC = re.compile(r"^(\d{1,2})\.\s+(.+)$")
_CONTINUATION_LABELS = ("Take-away", "Sections", "Components", "Findings", "Three findings", "Design",
                        "Pipeline", "Results", "Motivation", "Contribution", "Insights")


def _looks_like_title(line: str) -> bool:
    """An entry starts with a Title-Case title; continuation lines start with prose or a label."""
    if line.startswith("-") or line.startswith(_CONTINUATION_LABELS):
        return False
    head = re.split(r"(?<=[.?!])\s|\s\(", line, maxsplit=1)[0]
    words = [w for w in re.findall(r"[A-Za-z][\w&'’\-]*", head) if fold(w) not in STOPWORDS]
    if len(words) < 3:
        return False
    capitalised = sum(1 for w in words if w[0].isupper() or any(c.isupper() for c in w[1:]))
    return capitalised / len(words) >= 0.75


def notes_entry_name(first_line: str) -> str:
    """Name of a notes entry: the system name before the colon, else the title up to its first period."""
    m = re.match(r"^([^:.()]{1,40}?):\s", first_line)
    if m and len(m.group(1).split()) <= 3:
        return m.group(1).strip()
    return re.split(r"(?<=[.?!])\s|\s\(", first_line, maxsplit=1)[0].rstrip(".")


def parse_notes(raw: str, source: str = "poster_notes.txt") -> list[Chunk]:
    """One chunk per poster entry (line plus bullets) with its topic; one per cross-cutting theme."""
    lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
    doc_title = lines[0] if lines else "Poster notes"
    entries: list[tuple[str, list[str]]] = []  # (topic, lines)
    topic = None
    intro: list[str] = []
    for line in lines[1:]:
        m = _TOPIC.match(line)
        if (m and len(line) < 80) or line == "Cross-Cutting Themes":
            topic = m.group(2) if m else line
            continue
        if topic is None:
            intro.append(line)
        elif topic == "Cross-Cutting Themes" or not entries or entries[-1][0] != topic or _looks_like_title(line):
            entries.append((topic, [line]))
        else:
            entries[-1][1].append(line)

    chunks: list[Chunk] = []
    if intro:
        chunks.append(Chunk("notes:intro", "notes", doc_title, " ".join(intro),
                            {"topic": "Introduction", "source": source, "label": NOTES_LABEL}))
    used: set[str] = set()
    theme_n = 0
    for topic, body in entries:
        text = "\n".join(body)
        if topic == "Cross-Cutting Themes":
            theme_n += 1
            cid, name = f"notes:theme:{theme_n}", ""
            title = "Cross-cutting theme: " + _THEME_HEAD.split(body[0], maxsplit=1)[0]
        else:
            name = notes_entry_name(body[0])
            cid = f"notes:{slug(name, 4)}"
            title = name if ":" not in body[0][:45] else body[0].split(". ")[0]
        while cid in used:
            cid += "-2"
        used.add(cid)
        meta = {"topic": topic, "name": name, "source": source, "label": NOTES_LABEL}
        if name:  # an entry about one poster: `rag link-notes` matches it to its row of the program
            meta["describes_row"] = True
        chunks.append(Chunk(cid, "notes", title, text, meta))
    return chunks


# ---------------------------------------------------------------- tweets
# A tweet's lines are its sentences (rag.sentences), and a line after a list item continues the list.
_TWEET = {"label": "tweet", "line_sentences": True}
_HASHTAG_LINE = re.compile(r"^(?:[#@.][\w.]+\s*)+$")
_URL_END = re.compile(r"https?://\S+$")
_LABELLED_URL = re.compile(r"^\W*[\w &-]{1,40}:\s*https?://\S+$")


def parse_tweets(raw: str, source: str = "tweets.txt") -> list[Chunk]:
    """One chunk per tweet; the trailing 'Most Popular Users' account list is one chunk."""
    lines = raw.splitlines()
    title = lines[0].strip() if lines else "Tweets"
    body = lines[1:]
    accounts: list[str] = []
    for i, line in enumerate(body):
        if line.strip().lower() == "most popular users":
            body, accounts = body[:i], [ln.strip() for ln in body[i:] if ln.strip()]
            break

    tweets: list[list[str]] = [[]]
    for i, line in enumerate(body):
        line = line.strip()
        if not line:
            tweets.append([])
            continue
        tweets[-1].append(line)
        nxt = next((ln.strip() for ln in body[i + 1:] if ln.strip()), "")
        # A tweet ends on a hashtag/mention-only line, or on a link not followed by another link or hashtags.
        ends = _HASHTAG_LINE.match(line) or (
            _URL_END.search(line) and not _LABELLED_URL.match(nxt) and not _HASHTAG_LINE.match(nxt)
        )
        if ends and not _HASHTAG_LINE.match(nxt):
            tweets.append([])

    chunks, seen = [], set()
    for tw in tweets:
        text = "\n".join(tw).strip()
        if not text or text in seen:  # the page repeats some tweets verbatim
            continue
        seen.add(text)
        n = len(chunks) + 1
        chunks.append(Chunk(f"tweets:{n}", "tweet", f"Tweet {n}", text, {"source": source, "page": title, **_TWEET}))
    if accounts:
        chunks.append(Chunk("tweets:accounts", "tweet", accounts[0], "\n".join(accounts[1:]),
                            {"source": source, "page": title, **_TWEET}))
    return chunks


# ---------------------------------------------------------------- corpus
def load_corpus(corpus_dir: Path) -> list[Chunk]:
    """Chunk every file of corpus_dir that a source accepts (see rag.sources); files are only read, never written."""
    from .sources import load_folder

    loaded = load_folder(Path(corpus_dir))
    if not loaded.files:
        raise FileNotFoundError(f"No corpus documents found in {corpus_dir}"
                                + (f"; skipped: {', '.join(loaded.skipped)}" if loaded.skipped else "") + ".")
    return loaded.chunks
