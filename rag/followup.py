"""Follow-up questions: detect them and, without an LLM, carry the previous question's subject over."""
from __future__ import annotations

import re

from .routeforms import ASKS_FOR_ONE as _ASKS_FOR_ONE, FOLLOW_UP_LEAD as _LEAD, FOLLOW_UP_PRONOUN as _PRONOUN
from .text import QUESTION_WORDS, STOPWORDS, content_tokens, fold

_NAME = re.compile(
    r"\"([^\"]{2,80})\"|“([^”]{2,80})”"  # quoted titles
    r"|\b((?:[A-Z][\w.+-]*[A-Z0-9][\w.+-]*|[a-z]+[A-Z][\w.+-]*|[A-Z][a-z]+(?:-[A-Za-z0-9]+)+)"  # coined names: FlashInfer, vLLM
    r"(?:\s+[A-Z][\w.+-]*)*)"
    r"|\b((?:[A-Z][a-z]+\s+){1,4}[A-Z][a-z]+)")  # capitalised phrases: Best Paper Award, Google DeepMind
_LABEL = re.compile(r"^\s*([^:\[\]]{2,80}?):\s")
_THAT_CONJ = re.compile(r"\bthat\s+(?:the|a|an|it|they|is|are|was|were|has|have)\b", re.I)


def is_follow_up(question: str) -> bool:
    """Whether a question leans on earlier turns: a pronoun, a leading 'and'/'what about', or very few words."""
    q = question.strip()
    if _LEAD.match(q):
        return True
    pronoun = _PRONOUN.search(_THAT_CONJ.sub("", q))
    if pronoun and not _NAME.search(q):
        return True
    return len(content_tokens(q)) <= 1 and not _NAME.search(q)


def subject_of(question: str, answer: str = "") -> str:
    """The main subject of a turn: a name in the question, else the answer's leading label, else its key words."""
    label = _LABEL.match(answer or "")
    if label and len(label.group(1).split()) <= 8 and _ASKS_FOR_ONE.match(question):
        return label.group(1).strip()  # "Which paper won X?" is about the paper the answer names
    for m in _NAME.finditer(question):
        name = next(g for g in m.groups() if g)
        if fold(name.split()[0]) not in QUESTION_WORDS | STOPWORDS:
            return name.strip()
    label = _LABEL.match(answer or "")
    if label and len(label.group(1).split()) <= 8:
        return label.group(1).strip()
    words = [w for w in re.findall(r"[\w.+-]+", question) if fold(w) not in STOPWORDS | QUESTION_WORDS]
    return " ".join(words[:6])


def rewrite(question: str, history: list[tuple[str, str]]) -> str:
    """A standalone form of a follow-up: its pronoun replaced by (or its text completed with) the last subject."""
    if not history or not is_follow_up(question):
        return question
    prev_q, prev_a = history[-1]
    # A chain of follow-ups refers back to the last standalone subject (one step back per turn, not every turn).
    subject = subject_of(rewrite(prev_q, history[:-1]), prev_a)
    if not subject:
        return question
    body = _LEAD.sub("", question).strip() or question.strip()
    m = _PRONOUN.search(_THAT_CONJ.sub(lambda x: "\0" * len(x.group(0)), body))
    if m:
        word = m.group(0).lower()
        repl = f"{subject}'s" if word in ("its", "their", "his", "her") else subject
        out = body[: m.start()] + repl + body[m.end():]
    else:
        out = f"{body.rstrip('?. ')} of {subject}?"
    return out[0].upper() + out[1:]
