"""Measure the citation check on paraphrased prose: `python -m eval.citecheck [--split dev|test|all] [--json]`.

Each answerable gold reference is split into sentences, and every sentence is cited to the item's reference
chunks, given to `rag.grounding.check_answer` as the LLM path gives them (`format_source`). Those are the
*correct* sentences, which must pass. Their altered copies (eval/alterations.py) must fail.

Which references count: every gold item except unanswerable ones (`eval.gold.is_unanswerable`; they have no
reference chunks) and `aggregate` ones. An aggregate reference is computed over the poster table ("3 posters
(rule: ...): A, B and C"); it restates no passage, so no passage can support it. Items whose reference chunks are missing from the corpus are skipped and logged.
"""
from __future__ import annotations

import argparse
import inspect
import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from rag.config import Settings
from rag.generate import generic_checker, instructions_text
from rag.grounding import check_answer
from rag.prompts import format_source
from rag.retrieve import lowercase_stems
from rag.text import content_tokens, numbers_in, split_sentences
from rag.types import Chunk, Hit

from . import alterations as alt
from .gold import GOLD_PATH, SPLITS, in_split, is_unanswerable, load_gold, split_of
from .tables import format_table, markdown_table, metric_cell

log = logging.getLogger(__name__)

SKIPPED_KINDS = ("unanswerable", "aggregate")
# The LLM prompt shows each source cut to this many characters (`format_source`); the rates are measured on
# whole sources (the check, not the cut, is under test), and the correct pass rate at the cut is shown beside.
PROMPT_CUT: int = inspect.signature(format_source).parameters["max_chars"].default
ALTERATIONS = ("number", "name", "citation")
# "reformatted": a correct sentence with its numbers and dates written differently (alterations.reformat); it
# must pass like the gold sentence. Reported beside the acceptance rates, not folded into them.


@dataclass(frozen=True)
class Case:
    """One cited sentence given to the checker, and what the checker made of it."""

    item_id: str
    split: str
    alteration: str  # "correct" or one of ALTERATIONS
    sentence: str
    passed: bool
    reason: str


def counts(item: dict) -> bool:
    """Whether an item's reference is a factual paraphrase of its reference chunks (see the module docstring)."""
    return not is_unanswerable(item) and item["kind"] not in SKIPPED_KINDS and bool(item["reference_context_ids"])


def source_block(n: int, chunk: Chunk, max_chars: int | None = None) -> str:
    """A chunk numbered as the LLM path numbers it; whole unless max_chars (the prompt's cut) is given."""
    return format_source(n, Hit(chunk, 1.0), max_chars or len(chunk.text) + 1)


def cite(sentence: str, markers: list[int]) -> str:
    """The sentence with `[n]` markers before its closing punctuation."""
    tail = "".join(f"[{m}]" for m in markers)
    body, end = (sentence[:-1], sentence[-1]) if sentence[-1] in ".!?" else (sentence, ".")
    return f"{body.rstrip()} {tail}{end}"


class Checker:
    """The citation check as the LLM path runs it, over the corpus chunks."""

    def __init__(self, chunks: list[Chunk], settings: Settings, prompt_cut: int | None = PROMPT_CUT) -> None:
        self.chunks = chunks
        self.by_id = {c.id: c for c in chunks}
        self.idf = alt.idf_of(chunks)
        vocabulary = {t for c in chunks for t in content_tokens(c.search_text)}
        self.is_generic = generic_checker(self.idf, lowercase_stems(c.search_text for c in chunks), vocabulary)
        self.names = alt.system_names(chunks)
        self.min_overlap = settings.answer.min_claim_overlap
        self.instructions = instructions_text()
        self.prompt_cut = prompt_cut

    def run(self, text: str, sources: list[Chunk], question: str, max_chars: int | None = None) -> tuple[bool, str]:
        """Whether the answer text passes with every sentence kept, and the checker's reason if not."""
        blocks = [source_block(i + 1, c, max_chars) for i, c in enumerate(sources)]
        checked = check_answer(text, blocks, question, self.is_generic, self.min_overlap, self.instructions)
        ok = checked.failed == 0 and bool(checked.cited) and not checked.refused
        if ok or not checked.unsupported:
            return ok, "" if ok else "no sentence kept"
        m = re.search(r"\(([^()]*)\)$", checked.unsupported[0])
        return False, m.group(1) if m else checked.unsupported[0]

    def cases(self, item: dict) -> list[Case]:
        """The correct sentences of one gold item and their altered copies, each checked."""
        refs = [self.by_id[i] for i in item["reference_context_ids"] if i in self.by_id]
        if len(refs) != len(item["reference_context_ids"]):
            log.warning("%s: reference chunk(s) not in the corpus; skipped", item["id"])
            return []
        split, question = split_of(item["id"]), item["user_input"]
        markers = list(range(1, len(refs) + 1))
        ref_text = "\n".join(source_block(m, c) for m, c in zip(markers, refs))
        forbidden = numbers_in(ref_text) | numbers_in(question)
        nearest = alt.nearest_posters(refs, self.chunks, self.idf, self.names)
        replacements = [n for c in nearest for n in self.names if self.names[n] == c.id]
        out: list[Case] = []

        def add(kind: str, sentence: str, text: str, sources: list[Chunk]) -> None:
            ok, why = self.run(text, sources, question)
            out.append(Case(item["id"], split, kind, sentence, ok, why))

        for sent in split_sentences(item["reference"]):
            add("correct", sent, cite(sent, markers), refs)
            if self.prompt_cut:
                ok, why = self.run(cite(sent, markers), refs, question, self.prompt_cut)
                out.append(Case(item["id"], split, "prompt_cut", sent, ok, why))
            if (again := alt.reformat(sent)) is not None:
                add("reformatted", again, cite(again, markers), refs)
            for changed in alt.change_numbers(sent, forbidden):
                add("number", changed, cite(changed, markers), refs)
            own = alt.names_in(sent, self.names, ref_text)
            for swapped in alt.swap_names(sent, own, replacements, ref_text + "\n" + question):
                add("name", swapped, cite(swapped, markers), refs)
            if nearest:
                add("citation", sent, cite(sent, [len(refs) + 1]), [*refs, nearest[0]])
        return out


def rates(cases: list[Case]) -> dict:
    """Pass rate of correct sentences, fail rate of altered ones (overall and per alteration), and counts."""
    def share(sel: list[Case], want_pass: bool) -> float | None:
        return sum(c.passed == want_pass for c in sel) / len(sel) if sel else None

    correct = [c for c in cases if c.alteration == "correct"]
    altered = [c for c in cases if c.alteration in ALTERATIONS]
    reformatted = [c for c in cases if c.alteration == "reformatted"]
    out = {"correct_pass": share(correct, True), "altered_fail": share(altered, False),
           "correct": len(correct), "altered": len(altered),
           "reformatted_pass": share(reformatted, True), "reformatted": len(reformatted),
           "prompt_cut_pass": share([c for c in cases if c.alteration == "prompt_cut"], True)}
    for kind in ALTERATIONS:
        sel = [c for c in cases if c.alteration == kind]
        out[f"{kind}_fail"], out[f"{kind}_n"] = share(sel, False), len(sel)
    return out


def evaluate(items: list[dict], chunks: list[Chunk], settings: Settings | None = None) -> dict:
    """Rates per split (dev, test, all), the items used, and every sentence the checker got wrong."""
    checker = Checker(chunks, settings or Settings())
    used = [i for i in items if counts(i)]
    cases = [c for i in used for c in checker.cases(i)]
    return {
        **{split: rates([c for c in cases if c.split == split]) for split in SPLITS},
        "all": rates(cases),
        "items": len(used),
        "rule": f"gold items except kinds {', '.join(SKIPPED_KINDS)} (computed counts restate no passage)",
        "correct_failing": [asdict(c) for c in cases if c.alteration in ("correct", "reformatted") and not c.passed],
        "prompt_cut_failing": [asdict(c) for c in cases if c.alteration == "prompt_cut" and not c.passed],
        "altered_passing": [asdict(c) for c in cases if c.alteration in ALTERATIONS and c.passed],
    }


def citation_check(settings: Settings | None = None, gold_path: str | Path = GOLD_PATH) -> dict:
    """The citation-check measurement over the gold set and the corpus (no index or model needed)."""
    from rag.corpus import load_corpus

    settings = settings or Settings()
    return evaluate(load_gold(gold_path), load_corpus(settings.corpus_dir), settings)


def headline(result: dict, split: str = "test") -> dict[str, float | None]:
    """The two gated rates of one split, named as eval/thresholds.toml names them."""
    return {"citation_check_correct_pass": result[split]["correct_pass"],
            "citation_check_altered_fail": result[split]["altered_fail"]}


def add_to_results(results: dict, items: list[dict], chunks: list[Chunk], settings: Settings | None = None) -> dict:
    """Put the measurement under results["citation_check"] and its test-half rates into results["headline"]."""
    results["citation_check"] = evaluate(items, chunks, settings)
    results.setdefault("headline", {}).update(headline(results["citation_check"]))
    return results["citation_check"]


COLUMNS = ["correct_pass", "altered_fail", *[f"{k}_fail" for k in ALTERATIONS], "reformatted_pass", "prompt_cut_pass"]
MISSES = (("Correct sentences that fail", "correct_failing"), ("Altered sentences that pass", "altered_passing"))


def _rates(result: dict, splits: tuple[str, ...]) -> list[list]:
    """One row per split: its counts, then each rate."""
    return [[s, result[s]["correct"], result[s]["altered"], *[result[s][c] for c in COLUMNS]] for s in splits]


def markdown_lines(result: dict) -> list[str]:
    """The report section: rates per split, then the sentences the checker got wrong."""
    lines = [f"Gold references ({result['rule']}), one sentence at a time, cited to their reference chunks; "
             "altered copies must fail. The gate reads the test half.", "",
             *markdown_table(["split", "correct", "altered", *COLUMNS], _rates(result, (*SPLITS, "all")),
                             cell=metric_cell).splitlines()]
    for title, key in MISSES:
        lines += ["", f"{title}: {len(result[key])}", ""]
        lines += [f"- `{c['item_id']}` ({c['split']}, {c['alteration']}): {c['sentence']} — {c['reason'] or 'passed'}"
                  for c in result[key]]
    return lines


def summary_lines(result: dict, splits: tuple[str, ...] = ("dev", "test", "all")) -> list[str]:
    """A plain table of the rates per split, then the sentences the checker got wrong."""
    lines = format_table(["split", "n_ok", "n_alt", *COLUMNS], _rates(result, splits), cell=metric_cell).splitlines()
    for title, key in MISSES:
        rows = [c for c in result[key] if c["split"] in splits]
        lines += ["", f"{title} ({len(rows)}):"]
        lines += [f"- {c['item_id']} [{c['split']}] {c['alteration']}: {c['sentence']} -- {c['reason']}" for c in rows]
    return lines


def main(argv: list[str] | None = None) -> int:
    """CLI: print the rates for a split (or all), as a table or JSON."""
    p = argparse.ArgumentParser(prog="python -m eval.citecheck", description=__doc__.splitlines()[0])
    p.add_argument("--split", choices=[*SPLITS, "all"], default="all", help="which half of the gold set")
    p.add_argument("--gold", type=Path, default=GOLD_PATH, help="gold questions (JSONL)")
    p.add_argument("--json", action="store_true", help="print the full result as JSON")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from rag.corpus import load_corpus

    settings = Settings()
    items = in_split(load_gold(args.gold), args.split)
    result = evaluate(items, load_corpus(settings.corpus_dir), settings)
    if args.json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        print("\n".join(summary_lines(result, (*SPLITS, "all") if args.split == "all" else (args.split,))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
