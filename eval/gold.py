"""Load and check the gold question set (eval/gold.jsonl)."""
from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path

log = logging.getLogger(__name__)

GOLD_PATH = Path(__file__).resolve().parent / "gold.jsonl"
FIELDS = ("id", "user_input", "reference", "reference_context_ids", "must_include", "evidence", "kind")
KINDS = ("fact_abstract", "fact_preview", "fact_notes", "fact_tweets", "multi_hop", "comparison", "overview",
         "metadata", "aggregate", "alias", "near_miss", "off_corpus")
# The questions the documents do not answer: a real subject asked for an absent detail, or MLSys matters the
# documents do not cover at all (other years, keynotes, acceptance rates, ...).
UNANSWERABLE_KINDS = ("near_miss", "off_corpus")


def load_gold(path: str | Path = GOLD_PATH, limit: int | None = None) -> list[dict]:
    """The gold items in file order (blank lines skipped), each with every field, at most `limit` of them."""
    items = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not JSON: {e}") from e
            missing = [k for k in FIELDS if k not in item]
            if missing:
                raise ValueError(f"{path}:{n}: missing {', '.join(missing)}")
            items.append(item)
    if not items:
        raise ValueError(f"{path}: no gold questions")
    return items[:limit] if limit else items


SPLITS = ("dev", "test")


def split_of(item_id: str) -> str:
    """The half a gold question belongs to, fixed by a hash of its id: tune on "dev", gate on "test"."""
    return SPLITS[int(hashlib.sha256(item_id.encode()).hexdigest(), 16) % 2]


def in_split(items: list[dict], split: str | None) -> list[dict]:
    """The items of one half ("dev" or "test"), or all of them for None or "all"."""
    if split in (None, "all"):
        return items
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)} or 'all'")
    return [i for i in items if split_of(i["id"]) == split]


def is_unanswerable(item: dict) -> bool:
    """Whether the gold item is a question the documents do not answer (a near-miss or an off-corpus one)."""
    return item["kind"] in UNANSWERABLE_KINDS


def coverage(items: list[dict]) -> dict[str, int]:
    """Counts the gold set must reach: questions, distinct posters referenced, and questions per kind."""
    kinds = Counter(i["kind"] for i in items)
    posters = {cid for i in items for cid in i["reference_context_ids"] if cid.startswith("poster:")}
    return {
        "questions": len(items),
        "distinct_posters": len(posters),
        "multi_hop_or_comparison": kinds["multi_hop"] + kinds["comparison"],
        "unanswerable": sum(kinds[k] for k in UNANSWERABLE_KINDS),
        "near_miss": kinds["near_miss"],
        "off_corpus": kinds["off_corpus"],
        "comparison": kinds["comparison"],
        "overview": kinds["overview"],
        "metadata": kinds["metadata"],
        "aggregate": kinds["aggregate"],
        **{f"kind:{k}": v for k, v in sorted(kinds.items())},
    }
