"""Questions about an article's numbered sources ("What is source 12?"), answered from its chunks' `references`."""
from __future__ import annotations

import re

_SOURCE_Q = re.compile(r"\b(?:source|reference|ref\.?|citation)\s*(?:#|no\.?|number)?\s*\[?(\d{1,3})\]?", re.I)


def source_number(question: str) -> int | None:
    """The article source a question asks about ("What is source 12?"), if any."""
    m = _SOURCE_Q.search(question)
    return int(m.group(1)) if m else None


def source_answer(n: int, chunks) -> str | None:
    """Name article source n and quote where the article cites it, with {cite:id} placeholders; None if never cited.

    The chunks that cite sources are those whose source filled a `references` map ({"n": title}) in their metadata.
    """
    citing = [c for c in chunks if str(n) in (c.metadata.get("references") or {})]
    if not citing:
        return None
    title = citing[0].metadata["references"][str(n)]
    doc = citing[0].metadata.get("label") or "article"
    text = f"Source {n} in the {doc}'s Sources list is \"{title}\" {{cite:{citing[0].id}}}."
    for c in citing[:2]:
        sentence = next((s for s in re.split(r"(?<=[.!?])\s+", c.text) if f"[{n}]" in s), c.text)
        sentence = re.sub(r"\[\d{1,3}\]", "", sentence).strip()
        text += f" The article cites it in {c.metadata['section']}: \"{sentence}\" {{cite:{c.id}}}."
    return text
