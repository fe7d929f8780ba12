"""What retrieval derives from the chunks' words, built with the index and stored beside it (`lexicon.json`).

A fresh process used to derive all of it on every start: BM25 weights over every chunk (importing bm25s, which
imports scipy), the vocabulary, the stems of lower-case words and the system-name table, about 0.9 s of a 2.6 s
cold `rag ask`. The file carries a key over the chunks file's hash, the parameters and the source of the code that
derives it (`text.py`, this file): a file whose key does not match is never used, it is rebuilt and rewritten.

BM25 is Lucene's variant exactly as bm25s 0.3 computes it (same float32 weights, same float32 sums, asserted by
`tests/test_lexicon.py`), so rankings are unchanged; scoring is a few numpy slices and needs neither package.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import text as _text
from .text import content_tokens, fold, stem

log = logging.getLogger(__name__)

LEXICON_FILE = "lexicon.json"
LEXICON_FORMAT = 2
MAX_NAME_DF = 6  # a name that occurs in more chunks than this is a common phrase, not a system name
# BM25 length normalisation. Chunks range from one-line notes entries and tweets to 280-token poster abstracts;
# the full b=0.75 let a short notes entry that repeats a system name outrank the abstract holding the facts.
# R@1/MRR are flat for b in 0.2-0.5 in both cross-validation folds; 0.3 sits in the middle.
BM25_B = 0.3
BM25_K1 = 1.5
_URL = re.compile(r"\S+://\S+|\bwww\.\S+")
_WORD = re.compile(r"\w+")


def strip_accents(text: str) -> str:
    """The text with combining marks removed (case kept)."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


def name_body(name: str, cased: bool = False) -> str:
    """The literal a name pattern matches: folded, or with its capitalisation kept when `cased`."""
    return strip_accents(name) if cased else fold(name)


def name_pattern(name: str, cased: bool = False) -> re.Pattern:
    """The name as a whole word (no word character or hyphen on either side)."""
    return re.compile(r"(?<![\w-])" + re.escape(name_body(name, cased)) + r"(?![\w-])")


def looks_coined(name: str) -> bool:
    """A coined system name (BLASST, NodeSweep, FP8-Flow-MoE, veScale-FSDP) rather than an ordinary phrase."""
    return any(re.search(r"[A-Z]{2}|[a-z][A-Z]|\d", w) for w in name.split())


def is_ordinary_word(name: str, lowercase: set[str] | frozenset[str]) -> bool:
    """A one-word name that the corpus also uses as a plain lower-case word (SHIP, CORE, BEAM, WAVE, BOOST).

    Such names only count when the question writes them in their own capitalisation: "What did LMCache ship?"
    is not about SHIP, and "beam search" is not about BEAM.
    """
    return bool(re.fullmatch(r"[A-Za-z]+", name)) and name != name.lower() and stem(name.lower()) in lowercase


def lowercase_stems(texts) -> frozenset[str]:
    """Stems of the words the texts use in lower case: ordinary words, as opposed to names (SHIP vs "ship").

    A word glued to a dot (the "ai" of Together.ai) is part of a domain name, not a word."""
    words = {w for t in texts for w in re.findall(r"(?<![\w.-])[a-z]+(?![\w-])", _URL.sub(" ", t))}
    return frozenset(stem(w) for w in words)  # each distinct word stemmed once (cold start)


def _count_matches(pat: re.Pattern, name: str, folded: list[str], postings: dict[str, list[int]], limit: int) -> int:
    """Chunks whose folded text the name pattern matches, counted up to `limit`.

    Only chunks holding every word of the name are searched: a match covers each of its words whole. At 22,000
    papers this took the retriever's set-up from over ten minutes (every name against every chunk) to seconds.
    """
    words = set(_WORD.findall(fold(name)))
    if words:
        lists = sorted((postings.get(w, []) for w in words), key=len)
        candidates = set(lists[0]).intersection(*lists[1:]) if lists[0] else set()
    else:
        candidates = range(len(folded))
    count = 0
    for i in sorted(candidates):
        if pat.search(folded[i]):
            count += 1
            if count >= limit:
                break
    return count


def system_names(chunks, lowercase: frozenset[str], folded: list[str]) -> list[tuple[str, list[int], bool]]:
    """Distinctive system names (poster and notes names, aliases) with the chunk positions they name.

    Each entry is (name, chunk positions, cased); a cased name is matched against the question with its
    capitalisation kept (see `is_ordinary_word`), the others against the folded question. `folded` holds each
    chunk's folded search text.
    """
    postings: dict[str, list[int]] = {}  # word -> chunks containing it, to test a name only where it can occur
    for i, text in enumerate(folded):
        for word in set(_WORD.findall(text)):
            postings.setdefault(word, []).append(i)
    by_name: dict[str, list[int]] = {}
    for i, c in enumerate(chunks):
        for name in [c.metadata.get("name") or "", *c.metadata.get("aliases", [])]:
            if len(name) >= 3:
                by_name.setdefault(name, []).append(i)
    out = []
    for name, owners in by_name.items():
        if looks_coined(name) or _count_matches(name_pattern(name), name, folded, postings,
                                                MAX_NAME_DF + 1) <= MAX_NAME_DF:
            out.append((name, owners, is_ordinary_word(name, lowercase)))
    return out


@dataclass
class Lexicon:
    """BM25 weights (one column per token, CSC), document frequencies, lower-case stems and system names."""

    k1: float
    b: float
    n_docs: int
    df: dict[str, int]  # token -> chunks holding it; its position in this dict is its BM25 column
    data: np.ndarray  # float32 weight of each (token, chunk) pair, column by column
    indices: np.ndarray  # int32 chunk position of each weight
    indptr: np.ndarray  # int64 start of each token's column in `data`
    lowercase_stems: frozenset[str]
    names: list[tuple[str, list[int], bool]]
    folded: list[str]  # each chunk's search text, folded (what names and coined terms are matched against)

    def __post_init__(self) -> None:
        self.columns = {t: i for i, t in enumerate(self.df)}

    def bm25_scores(self, tokens: list[str]) -> np.ndarray:
        """float32 BM25 score of every chunk: each known token's column added in query order (as bm25s does)."""
        scores = np.zeros(self.n_docs, dtype=np.float32)
        for t in tokens:
            col = self.columns.get(t)
            if col is not None:
                start, end = self.indptr[col], self.indptr[col + 1]
                scores[self.indices[start:end]] += self.data[start:end]  # a chunk occurs once per column
        return scores


def build_lexicon(chunks, k1: float = BM25_K1, b: float = BM25_B) -> Lexicon:
    """Derive the lexicon of a list of chunks (BM25 as bm25s' method='lucene', float32)."""
    docs = [content_tokens(c.search_text) for c in chunks]
    df = Counter(t for d in docs for t in set(d))
    column = {t: i for i, t in enumerate(df)}
    n = len(docs)
    idf = np.zeros(len(df), dtype=np.float32)
    for t, c in df.items():
        idf[column[t]] = math.log(1 + (n - c + 0.5) / (c + 0.5))
    rows, cols, weights = [], [], []
    avg_len = np.array([len(d) for d in docs]).mean() if docs else 1.0
    for pos, doc in enumerate(docs):
        counts = Counter(column[t] for t in doc)
        voc = np.array(list(counts), dtype=np.int32)
        tf = np.array(list(counts.values()), dtype=np.float32)
        tfc = tf / (k1 * ((1 - b) + b * len(doc) / avg_len) + tf)  # the same operations, in the same dtypes
        weights.append((idf[voc] * tfc).astype(np.float32))
        cols.append(voc)
        rows.append(np.full(len(voc), pos, dtype=np.int32))
    row, col = (np.concatenate(rows), np.concatenate(cols)) if docs else (np.zeros(0, np.int32),) * 2
    data = np.concatenate(weights) if docs else np.zeros(0, np.float32)
    order = np.lexsort((row, col))
    indptr = np.zeros(len(df) + 1, dtype=np.int64)
    np.cumsum(np.bincount(col, minlength=len(df)), out=indptr[1:])
    stems = lowercase_stems(c.search_text for c in chunks)
    folded = [fold(c.search_text) for c in chunks]
    return Lexicon(k1, b, n, dict(df), data[order], row[order].astype(np.int32), indptr, stems,
                   system_names(chunks, stems, folded), folded)


def lexicon_key(chunks_sha256: str, k1: float = BM25_K1, b: float = BM25_B) -> str:
    """What a stored lexicon must have been derived from: the chunks file, the parameters and the deriving code."""
    h = hashlib.sha256(json.dumps([LEXICON_FORMAT, chunks_sha256, k1, b, MAX_NAME_DF]).encode())
    for source in (Path(_text.__file__), Path(__file__)):
        h.update(source.read_bytes())
    return h.hexdigest()[:16]


_ARRAYS = {"data": "<f4", "indices": "<i4", "indptr": "<i8"}  # stored as base64 of their little-endian bytes


def save_lexicon(path: Path, lex: Lexicon, key: str) -> None:
    """Write the lexicon as one JSON file (arrays as base64 of their exact bytes: no float parsing), atomically."""
    arrays = {name: base64.b64encode(np.ascontiguousarray(getattr(lex, name), dtype=dt).tobytes()).decode("ascii")
              for name, dt in _ARRAYS.items()}
    payload = {"format": LEXICON_FORMAT, "key": key, "k1": lex.k1, "b": lex.b, "n_docs": lex.n_docs,
               "tokens": list(lex.df), "df": list(lex.df.values()), **arrays,
               "lowercase_stems": sorted(lex.lowercase_stems), "names": lex.names, "folded": lex.folded}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


def read_lexicon(path: Path, key: str) -> Lexicon | None:
    """The stored lexicon if its key matches, else None (missing, unreadable or derived from something else)."""
    try:
        p = json.loads(path.read_text(encoding="utf-8"))
        if p.get("key") != key:
            log.info("%s was derived from other chunks or code; rebuilding it", path)
            return None
        data, indices, indptr = (np.frombuffer(base64.b64decode(p[name]), dtype=dt).astype(dt[1:])
                                 for name, dt in _ARRAYS.items())
        return Lexicon(p["k1"], p["b"], p["n_docs"], dict(zip(p["tokens"], p["df"])), data, indices, indptr,
                       frozenset(p["lowercase_stems"]), [(n, owners, cased) for n, owners, cased in p["names"]],
                       p["folded"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("cannot read %s (%s); rebuilding it", path, e)
        return None


def load_lexicon(index_dir: Path, chunks, chunks_sha256: str) -> Lexicon:
    """The index folder's lexicon; derived and written back (best effort) when missing or stale."""
    path, key = index_dir / LEXICON_FILE, lexicon_key(chunks_sha256)
    lex = read_lexicon(path, key)
    if lex is None:
        lex = build_lexicon(chunks)
        try:
            save_lexicon(path, lex, key)
        except OSError as e:  # a read-only index folder still answers, deriving the lexicon each start
            log.warning("cannot write %s (%s)", path, e)
    return lex
