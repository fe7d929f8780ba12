"""The MLSys 2026 document shapes as sources: the miniconf poster JSON, the research-preview article, the
poster-session notes and the tweet page. Each is recognised by its shape; the parsers are those of rag.corpus."""
from __future__ import annotations

import re

from ..corpus import PREVIEW_SECTIONS, parse_notes, parse_posters, parse_preview, parse_tweets
from ..types import Chunk
from .base import FileView, json_data

MIN_PREVIEW_SECTIONS = 3  # of the article's 8 section headings on lines of their own, besides a "- [n]" source line
MIN_TOPICS = 2  # numbered topic headings with entries under them in a notes file
MIN_TWEETS = 3  # blank-line-separated blocks on a tweet page
TWEET_SHARE = 0.5  # share of blocks that carry a hashtag, a mention or a link
_TOPIC_LINE = re.compile(r"^(\d{1,2})\.\s+\S.{0,76}$")
_SOURCE_LINE = re.compile(r"^-\s*\[\d+\]\s", re.M)
_SOCIAL = re.compile(r"(?:^|\s)[#@]\w+|https?://\S+")


class MiniconfSource:
    """Miniconf JSON (what conference sites serve for their program): `{"results": [...]}` or a list of entries
    with `name`, `abstract` and `authors` as objects with `fullname`. One chunk per entry."""

    name = "miniconf"

    def check(self, file: FileView) -> str | None:
        """None for miniconf JSON."""
        data, reason = json_data(file)
        if reason:
            return reason
        entries = data.get("results") if isinstance(data, dict) else data
        if not isinstance(entries, list) or not entries:
            return "no list of entries"
        first = entries[0]
        if not (isinstance(first, dict) and "name" in first and isinstance(first.get("authors"), list)):
            return "entries lack name and an authors list"
        return None

    def load(self, file: FileView) -> list[Chunk]:
        """One chunk per entry, id `poster:<entry id>`."""
        return parse_posters(file.text, source=file.path.name)


def _lines(file: FileView) -> list[str]:
    return [ln.strip() for ln in file.text.splitlines()]


class PreviewSource:
    """A research-preview article: a title, then section headings (What, Why it matters, ..., Sources) on lines of
    their own, one paragraph per line."""

    name = "research-preview"

    def check(self, file: FileView) -> str | None:
        """None when the article's section headings stand alone on lines and it lists numbered sources."""
        if file.suffix not in ("txt", ""):
            return "not a .txt file"
        found = set(_lines(file)) & set(PREVIEW_SECTIONS)
        if len(found) < MIN_PREVIEW_SECTIONS or not _SOURCE_LINE.search(file.text):
            return f"{len(found)} of the preview's section headings (needs {MIN_PREVIEW_SECTIONS}) and a '- [n]' source list"
        return None

    def load(self, file: FileView) -> list[Chunk]:
        """One chunk per paragraph (see rag.corpus.parse_preview)."""
        return parse_preview(file.text, source=file.path.name)


def numbered_topics(lines: list[str]) -> int:
    """Topic headings 1, 2, 3, ... that each have at least one other line before the next (not a plain list)."""
    count, last_at = 0, None
    for i, line in enumerate(lines):
        m = _TOPIC_LINE.match(line)
        if m and int(m.group(1)) == count + 1:
            if last_at is not None and i - last_at < 2:
                return 0  # consecutive numbered lines: a list, not topic headings
            count, last_at = count + 1, i
    return count


class NotesSource:
    """Poster-session notes: a title, then numbered topics (`1. Topic`), each followed by entries."""

    name = "poster-notes"

    def check(self, file: FileView) -> str | None:
        """None for a text file with numbered topic headings that have entries under them."""
        if file.suffix not in ("txt", ""):
            return "not a .txt file"
        topics = numbered_topics([ln for ln in _lines(file) if ln])
        if topics < MIN_TOPICS:
            return f"{topics} numbered topic headings with entries, needs {MIN_TOPICS}"
        return None

    def load(self, file: FileView) -> list[Chunk]:
        """One chunk per entry (see rag.corpus.parse_notes)."""
        return parse_notes(file.text, source=file.path.name)


class TweetsSource:
    """A page of tweets: blank-line-separated posts, most with hashtags, mentions or links."""

    name = "tweets"

    def check(self, file: FileView) -> str | None:
        """None when most blank-line-separated blocks carry a hashtag, a mention or a link."""
        if file.suffix not in ("txt", ""):
            return "not a .txt file"
        blocks = [b for b in re.split(r"\n\s*\n", file.text) if b.strip()]
        social = sum(1 for b in blocks if _SOCIAL.search(b))
        if len(blocks) < MIN_TWEETS or social < TWEET_SHARE * len(blocks):
            return f"{social} of {len(blocks)} blocks carry hashtags, mentions or links"
        return None

    def load(self, file: FileView) -> list[Chunk]:
        """One chunk per tweet (see rag.corpus.parse_tweets)."""
        return parse_tweets(file.text, source=file.path.name)
