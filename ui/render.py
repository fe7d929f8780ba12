"""Pure HTML rendering of answers, sources and states for the chat page (no Gradio, no retrieval).

Every piece of corpus text, question text and model output goes through `html.escape` before it is placed in
markup; the only tags in the output are the ones written here. The chat component renders message content as
sanitized HTML (``render_markdown=False``), so nothing in a document or a question is ever interpreted as markup
or Markdown, and nothing is escaped twice.
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rag.passage import REFUSAL_CONTEXT
from rag.types import Answer, Citation, Hit, label_of

# Markers the answerer writes: "[3]". Leading whitespace is absorbed so the footnote hugs the word before it.
_MARKER = re.compile(r"\s*\[(\d{1,3})\]")
# Cards shown before the rest of a long source list (e.g. a 40-poster ranking) is folded away.
VISIBLE_SOURCES = 8
MAX_AUTHORS = 30
PREVIEW_QUESTION_CHARS = 280


def esc(text: object) -> str:
    """Escape text for an HTML text node or a double-quoted attribute value."""
    return html.escape("" if text is None else str(text), quote=True)


def _safe_url(url: object) -> str | None:
    """Only absolute http(s) links are rendered as links; anything else (javascript:, data:) is dropped."""
    if isinstance(url, str) and re.match(r"^https?://[^\s\"'<>]+$", url.strip(), re.IGNORECASE):
        return url.strip()
    return None


def kind_label(kind: str, metadata: dict | None = None) -> str:
    """Human label of a chunk's kind of document: its source's label ('paper abstract', 'note', ...)."""
    return label_of(kind, metadata)


def source_anchor(prefix: str, marker: int) -> str:
    """Element id of the source card for `[marker]` in the answer with id `prefix`."""
    return f"{prefix}-src-{marker}"


# ---------------------------------------------------------------------------------------------------- answer text


def footnoted(text: str, citations: Sequence[Citation], prefix: str) -> str:
    """Answer text as escaped HTML in which each known `[n]` marker becomes a superscript link to its source card.

    Markers that match no citation stay as plain text; newlines become line breaks.
    """
    titles = {c.marker: c.title for c in citations}
    out: list[str] = []
    pos = 0
    for m in _MARKER.finditer(text):
        n = int(m.group(1))
        if n not in titles:
            continue
        out.append(esc(text[pos:m.start()]))
        out.append(
            f'<sup class="rag-fn"><a href="#{source_anchor(prefix, n)}" title="{esc(titles[n])}">{n}</a></sup>'
        )
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out).replace("\n", "<br>")


def _flexible_pattern(sentence: str) -> re.Pattern | None:
    words = sentence.split()
    if not words:
        return None
    return re.compile(r"\s+".join(re.escape(w) for w in words))


def highlight(text: str, sentence: str | None) -> tuple[str, bool]:
    """Escaped `text` with `sentence` wrapped in <mark>; returns (html, found). Whitespace differences are tolerated."""
    if sentence:
        sentence = sentence.strip()
        start = text.find(sentence) if sentence else -1
        end = start + len(sentence)
        if start < 0:
            pattern = _flexible_pattern(sentence)
            m = pattern.search(text) if pattern else None
            if m:
                start, end = m.start(), m.end()
        if start >= 0:
            return f"{esc(text[:start])}<mark>{esc(text[start:end])}</mark>{esc(text[end:])}", True
    return esc(text), False


# ---------------------------------------------------------------------------------------------------- source cards


def _unique(items: Iterable[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        s = str(item).strip() if item is not None else ""
        if s and s.lower() not in {k.lower() for k in seen}:
            seen[s] = None
    return list(seen)


def _byline(metadata: dict) -> str:
    authors = _unique(metadata.get("authors") or [])
    institutions = _unique(metadata.get("institutions") or [])
    lines = []
    if authors:
        shown = authors[:MAX_AUTHORS]
        more = f" and {len(authors) - len(shown)} more" if len(authors) > len(shown) else ""
        lines.append(f'<div class="rag-authors">{esc(", ".join(shown))}{esc(more)}</div>')
    if institutions:
        lines.append(f'<div class="rag-insts">{esc(" · ".join(institutions))}</div>')
    return "".join(lines)


def source_card(*, kind: str, title: str, text: str, chunk_id: str, url: str | None, metadata: dict | None,
                sentence: str | None = None, marker: int | None = None, prefix: str = "a", open_: bool = False) -> str:
    """One source: number, kind badge, title, authors/institutions, OpenReview link, collapsed passage."""
    metadata = metadata or {}
    url = _safe_url(url or metadata.get("url"))
    anchor = f' id="{source_anchor(prefix, marker)}"' if marker is not None else ""
    num = f'<span class="rag-num">{marker}</span>' if marker is not None else ""
    badge = f'<span class="rag-badge rag-kind-{esc(kind)}">{esc(kind_label(kind, metadata))}</span>'
    links = [f'<span class="rag-chunk-id">{esc(chunk_id)}</span>']
    if url:
        links.insert(0, f'<a class="rag-link" href="{esc(url)}" target="_blank" rel="noopener noreferrer">'
                        f'Paper on OpenReview ↗</a>')
    passage, found = highlight(text, sentence)
    quote = ""
    if sentence and not found and sentence.strip() and sentence.strip() != title.strip():
        quote = f'<div class="rag-support">Supporting sentence: <mark>{esc(sentence.strip())}</mark></div>'
    label = "Show passage" + (" (supporting sentence highlighted)" if found else "")
    return (
        f'<div class="rag-card"{anchor}>'
        f'<div class="rag-card-head">{num}{badge}<span class="rag-card-title">{esc(title)}</span></div>'
        f"{_byline(metadata)}"
        f'<div class="rag-links">{" ".join(links)}</div>'
        f'<details class="rag-passage-box"{" open" if open_ else ""}><summary>{esc(label)}</summary>'
        f'{quote}<div class="rag-passage">{passage}</div></details>'
        f"</div>"
    )


def citation_card(c: Citation, prefix: str) -> str:
    """Card of a cited chunk, anchored so the answer's footnote can jump to it."""
    return source_card(kind=c.kind, title=c.title, text=c.text, chunk_id=c.chunk_id, url=c.url,
                       metadata=c.metadata, sentence=c.sentence, marker=c.marker, prefix=prefix)


def hit_card(h: Hit, prefix: str) -> str:
    """Card of a retrieved chunk that the answer does not cite."""
    ch = h.chunk
    return source_card(kind=ch.kind, title=ch.title, text=ch.text, chunk_id=ch.id, url=ch.metadata.get("url"),
                       metadata=ch.metadata, prefix=prefix)


def sources_panel(citations: Sequence[Citation], prefix: str) -> str:
    """The cited sources, in marker order; past VISIBLE_SOURCES the rest fold into a <details>."""
    if not citations:
        return ""
    cards = [citation_card(c, prefix) for c in sorted(citations, key=lambda c: c.marker)]
    head = f'<div class="rag-section-title">Sources <span class="rag-count">{len(cards)}</span></div>'
    body = "".join(cards[:VISIBLE_SOURCES])
    if len(cards) > VISIBLE_SOURCES:
        rest = len(cards) - VISIBLE_SOURCES
        body += (f'<details class="rag-more"><summary>Show {rest} more source{"s" if rest != 1 else ""}</summary>'
                 f'{"".join(cards[VISIBLE_SOURCES:])}</details>')
    return f'<div class="rag-sources">{head}{body}</div>'


def uncited_panel(contexts: Sequence[Hit], citations: Sequence[Citation], prefix: str, *,
                  title: str = "Also retrieved, not cited", open_: bool = False) -> str:
    """Retrieved chunks that no citation points to, collapsed by default."""
    cited = {c.chunk_id for c in citations}
    rest = [h for h in contexts if h.chunk.id not in cited]
    if not rest:
        return ""
    cards = "".join(hit_card(h, f"{prefix}-r") for h in rest)
    return (f'<details class="rag-others"{" open" if open_ else ""}><summary>{esc(title)} '
            f'<span class="rag-count">{len(rest)}</span></summary>{cards}</details>')


# ---------------------------------------------------------------------------------------------------- whole messages


def mode_label(mode: str | None, model: str | None = None) -> str:
    """'LLM (model)' or 'offline extractive'."""
    if mode == "llm":
        return f"LLM · {model}" if model else "LLM"
    return "offline extractive"


def _notes_html(notes: Sequence[str], skip_prefix: str | None = None) -> str:
    items = [n for n in notes if n and not (skip_prefix and n.startswith(skip_prefix))]
    if not items:
        return ""
    return '<div class="rag-notes">' + "".join(f'<div class="rag-note">{esc(n)}</div>' for n in items) + "</div>"


def render_answer(answer: Answer, *, prefix: str = "a", expected_mode: str | None = None,
                  model: str | None = None) -> str:
    """A finished answer: rewritten question, text with footnotes, fallback/notes, sources, uncited passages.

    `expected_mode` is the mode the page expected ("llm" when an LLM is configured or was asked for); when the
    answer came back in another mode the fallback is shown, with the answer's notes as its reason.
    """
    parts = ['<div class="rag-answer">']
    if answer.rewritten_question and answer.rewritten_question.strip() != answer.question.strip():
        parts.append(f'<div class="rag-rewritten">Searched as: “{esc(answer.rewritten_question)}”</div>')
    # Exact (structured / source-list) answers never need the LLM, so they are not a fallback.
    fallback = expected_mode == "llm" and answer.mode != "llm" and answer.route == "passages"
    if fallback:
        reasons = [n for n in answer.notes if not n.startswith("Refused:")]
        why = " ".join(reasons) if reasons else "The LLM did not produce a usable answer."
        parts.append(f'<div class="rag-fallback"><strong>Answered offline (extractive) instead of by the LLM.</strong> '
                     f"{esc(why)}</div>")
    if answer.refused:
        why = " ".join(n.removeprefix("Refused:").strip() for n in answer.notes if n.startswith("Refused:"))
        detail = (why[:1].upper() + why[1:]) if why else answer.text
        parts.append('<div class="rag-refusal"><div class="rag-refusal-title">The documents don’t cover this.</div>'
                     f'<div class="rag-refusal-text">{esc(detail)}</div></div>')
        said = answer.text.split(REFUSAL_CONTEXT, 1)[1].strip() if REFUSAL_CONTEXT in answer.text else ""
        if said and answer.citations:  # what the documents do say about the subject, cited
            parts.append(f'<div class="rag-text"><strong>{esc(REFUSAL_CONTEXT)}</strong> '
                         f'{footnoted(said, answer.citations, prefix)}</div>')
            parts.append(sources_panel(answer.citations, prefix))
        if not fallback:
            parts.append(_notes_html(answer.notes, skip_prefix="Refused:"))
        parts.append(uncited_panel(answer.contexts, answer.citations, prefix, title="Closest passages", open_=True))
    else:
        parts.append(f'<div class="rag-text">{footnoted(answer.text, answer.citations, prefix)}</div>')
        if not fallback:
            parts.append(_notes_html(answer.notes))
        if answer.unsupported:
            n = len(answer.unsupported)
            items = "".join(f"<li>{esc(s)}</li>" for s in answer.unsupported)
            parts.append(f'<details class="rag-unsupported"><summary>{n} sentence{"s" if n != 1 else ""} removed: '
                         f"no source supported {'them' if n != 1 else 'it'}</summary><ul>{items}</ul></details>")
        parts.append(sources_panel(answer.citations, prefix))
        parts.append(uncited_panel(answer.contexts, answer.citations, prefix))
    total = answer.timings_ms.get("total") if answer.timings_ms else None
    routes = {"structured": "exact answer from the poster table", "source": "from the article's source list"}
    meta = [routes.get(answer.route) or mode_label(answer.mode, model if answer.mode == "llm" else None)]
    if total is not None:
        meta.append(f"{total / 1000:.1f} s" if total >= 1000 else f"{total:.0f} ms")
    parts.append(f'<div class="rag-meta">{esc(" · ".join(meta))}</div>')
    parts.append("</div>")
    return "".join(p for p in parts if p)


def render_user(question: str) -> str:
    """The user's bubble: the question as typed, escaped; very long questions are shortened for display."""
    q = question.strip()
    if len(q) > PREVIEW_QUESTION_CHARS:
        q = q[:PREVIEW_QUESTION_CHARS].rstrip() + " …"
    return f'<div class="rag-question">{esc(q)}</div>'


def render_pending(collection: str = "") -> str:
    """Shown while the passages are being searched, before any text arrives; `collection` names the documents."""
    return ('<div class="rag-answer rag-pending"><span class="rag-dots"><i></i><i></i><i></i></span>'
            f"Searching the {esc(collection) + ' ' if collection else ''}documents…</div>")


def render_streaming(text: str, *, elapsed: float | None = None, hits: Sequence[Hit] = (),
                     model: str | None = None, prefix: str = "s") -> str:
    """Text streamed so far (not yet citation-checked) with a cursor, the time so far, and the passages found."""
    who = esc(model) if model else "The model"
    doing = f"{who} is writing" if text else f"{who} is reading {len(hits)} passage{'s' if len(hits) != 1 else ''}"
    clock = f" · {elapsed:.1f} s" if elapsed is not None else ""
    found = (f'<details class="rag-others" open><summary>Passages found <span class="rag-count">{len(hits)}'
             f'</span></summary>{"".join(hit_card(h, f"{prefix}-f") for h in hits)}</details>') if hits else ""
    return (f'<div class="rag-answer rag-streaming"><div class="rag-text">{esc(text).replace(chr(10), "<br>")}'
            f'<span class="rag-cursor"></span></div><div class="rag-meta rag-elapsed">{doing}{clock}; '
            f"citations are checked when it finishes…</div>{found}</div>")


def render_message(title: str, detail: str = "", *, kind: str = "error") -> str:
    """A readable problem message (empty question, too long, internal error); never a traceback."""
    return (f'<div class="rag-answer rag-{esc(kind)}"><div class="rag-problem-title">{esc(title)}</div>'
            + (f'<div class="rag-problem-text">{esc(detail)}</div>' if detail else "") + "</div>")


def render_status(mode: str | None, model: str | None, reason: str | None, base_url: str | None = None) -> str:
    """The mode indicator of the sidebar: which answerer is active and why."""
    is_llm = mode == "llm"
    label = f"LLM answers · {model}" if is_llm and model else ("LLM answers" if is_llm else "Offline extractive answers")
    where = f'<div class="rag-status-where">{esc(base_url)}</div>' if is_llm and base_url else ""
    return (f'<div class="rag-status rag-status-{"llm" if is_llm else "extractive"}">'
            f'<div class="rag-status-label"><span class="rag-dot"></span>{esc(label)}</div>'
            f'{where}<div class="rag-status-reason">{esc(reason or "")}</div></div>')
