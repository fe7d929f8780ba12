"""Pure text helpers: LaTeX clean-up, tokenising, sentence splitting, question normalising."""
from __future__ import annotations

import functools
import html
import re
import unicodedata

_LATEX_SYMBOLS = {
    r"\times": "×", r"\sim": "~", r"\approx": "≈", r"\leq": "≤", r"\le": "≤", r"\geq": "≥",
    r"\ge": "≥", r"\rightarrow": "→", r"\to": "→", r"\pm": "±", r"\mu": "μ", r"\top": "ᵀ",
    r"\cdot": "·", r"\%": "%", r"\&": "&", r"\_": "_", r"\#": "#", r"\$": "$",
}
_LATEX_WRAPPERS = re.compile(r"\\(?:textbf|emph|textit|underline|mathrm|mathbf|boldsymbol|text|url|texttt)\{([^{}]*)\}")
_LATEX_SYMBOL_RE = re.compile("|".join(re.escape(k) + (r"(?![a-zA-Z])" if k[-1].isalpha() else "") for k in sorted(_LATEX_SYMBOLS, key=len, reverse=True)))
_LATEX_MACRO = re.compile(r"\\([a-zA-Z]+)\b\s?")  # leftover custom macros such as \sys or \name
_MATH = re.compile(r"\$([^$]{0,80})\$")

STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being this that these those
    it its into than then there their they them we our you your he she his her i me my do does did done doing have has
    had having can could should would will shall may might must not no nor so such too very just also about above below
    up down out over under again further once here when where why how what which who whom whose all any both each few
    more most other some only own same s t don now via per vs tell say says said according much many""".split()
)
_IRREGULAR = {"won": "win", "wrote": "write", "written": "write", "held": "hold", "led": "lead", "made": "make",
              "built": "build", "gave": "give", "given": "give", "got": "get", "took": "take", "taken": "take",
              "ran": "run", "grew": "grow", "began": "begin", "chose": "choose", "chosen": "choose",
              "found": "find", "brought": "bring", "sought": "seek", "spoke": "speak", "spoken": "speak"}
QUESTION_WORDS = frozenset("what which who whom whose when where why how much many does do did is are was were".split())

_TOKEN = re.compile(r"[a-z0-9]+(?:[.\-][a-z0-9]+)*")


def clean_latex(text: str, macro_name: str | None = None) -> str:
    """Turn LaTeX escapes and inline math into plain Unicode text; custom macros (\\sys) become macro_name."""
    text = html.unescape(text)
    for _ in range(3):  # nested wrappers such as \mathbf{\emph{x}}
        text = _LATEX_WRAPPERS.sub(r"\1", text)
    text = _MATH.sub(lambda m: m.group(1), text)
    text = _LATEX_SYMBOL_RE.sub(lambda m: _LATEX_SYMBOLS[m.group(0)], text)
    text = _LATEX_MACRO.sub(lambda m: (macro_name or m.group(1)) + " ", text)
    text = text.replace("{", "").replace("}", "").replace("--", "–")
    text = re.sub(r"(\d)\s+×", r"\1×", text)
    return re.sub(r"[ \t]+", " ", text).strip()


class _DropCombining(dict):
    """str.translate table that drops combining marks; each code point is classified once, then looked up in C."""

    def __missing__(self, code: int):
        value = None if unicodedata.combining(chr(code)) else code
        self[code] = value
        return value


_DROP_COMBINING = _DropCombining()


def fold(text: str) -> str:
    """Lower-case and strip accents, for matching."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text).translate(_DROP_COMBINING).lower()


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens, keeping numbers like 1.7 and names like fp8-flow-moe whole."""
    return _TOKEN.findall(fold(text).replace("×", " "))


_STEMMER = None


@functools.lru_cache(maxsize=1 << 18)
def stem(token: str) -> str:
    """Snowball (Porter2) stem, with common irregular verbs mapped first; numbers and short tokens unchanged."""
    global _STEMMER
    if token in _IRREGULAR:
        return _IRREGULAR[token]
    if len(token) <= 3 or not token.isalpha():
        return token
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER.stemWord(token)


def content_tokens(text: str) -> list[str]:
    """Tokens without stopwords, lightly stemmed, also split on hyphens, for overlap measures."""
    out: list[str] = []
    for tok in tokenize(text):
        parts = [tok] + (tok.split("-") if "-" in tok else [])
        for p in parts:
            if p and p not in STOPWORDS and (len(p) > 1 or p.isdigit()):
                out.append(stem(p))
    return out


_ABBREV = re.compile(r"\b(?:e\.g|i\.e|et al|vs|Fig|Eq|approx|resp|cf|No|Dr|Mr|Ms|U\.S)\.$", re.I)
_SENT_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[]?[A-Z0-9@#])|\n+")


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences, keeping abbreviations such as e.g. and numbers like 1.7× intact."""
    pieces = _SENT_END.split(text)
    out: list[str] = []
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if out and _ABBREV.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


# C0/C1 control characters (ASCII whitespace is collapsed below instead), bidirectional overrides and isolates,
# lone surrogates (undecodable bytes from a terminal) and U+FFFD (bytes that were not valid UTF-8).
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffd]")


def _visible(text: str) -> bool:
    """Whether text has any character other than whitespace, controls and invisible format characters."""
    return any(unicodedata.category(c)[0] not in "CZ" for c in text)


def normalize_question(question: str, max_chars: int = 2000) -> tuple[str, list[str]]:
    """Clean a raw question: control characters, invalid bytes, odd whitespace, over-long input.

    Returns (question, notes); the question is "" when nothing visible is left.
    """
    notes: list[str] = []
    cleaned = _CONTROL.sub(" ", question)
    if cleaned != question:
        notes.append("Removed control characters or invalid bytes from the question.")
    cleaned = unicodedata.normalize("NFC", cleaned)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    if len(cleaned) > max_chars:
        cut = cleaned[:max_chars].rsplit(" ", 1)[0]
        cleaned = cut if _visible(cut) else cleaned[:max_chars].strip()
        notes.append(f"Question was longer than {max_chars} characters and was truncated.")
    return (cleaned if _visible(cleaned) else ""), notes


# Text addressed to the assistant rather than stating a fact: "ignore previous instructions", "print your system
# prompt", a line that starts "SYSTEM:". Found in a document, it is data; it never supports or becomes an answer.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(?:instructions?|prompts?|rules|guidelines)\b"
    r"|\b(?:reveal|print|show|repeat|output|leak)\b[^.!?\n]{0,20}\b(?:system|hidden|initial)\s+(?:prompt|instructions?)\b"
    r"|(?:^|\n)\W*(?:system|assistant|developer)\s*:|\byou are now\b|\bnew instructions?\b", re.I)


def looks_like_instruction(text: str) -> bool:
    """Whether text reads as an instruction to the assistant (a prompt injection) rather than content."""
    return bool(_INSTRUCTION.search(text))


def strip_instructions(text: str) -> str:
    """Text without its instruction-like sentences (line structure kept)."""
    if not _INSTRUCTION.search(text):
        return text
    lines = []
    for line in text.split("\n"):
        kept = [s for s in split_sentences(line) if not looks_like_instruction(s)]
        lines.append(" ".join(kept))
    return "\n".join(lines)


def slug(text: str, max_words: int = 4) -> str:
    """Readable id fragment: lower-case words joined by hyphens."""
    words = re.findall(r"[a-z0-9]+", fold(text))
    return "-".join(words[:max_words]) or "x"


def numbers_in(text: str) -> set[str]:
    """Numbers mentioned in text, normalised (1,000 -> 1000; trailing .0 dropped)."""
    found = set()
    for m in re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", text):
        n = m.replace(",", "")
        if "." in n:
            n = n.rstrip("0").rstrip(".")
        found.add(n)
    return found
