"""The citation check on paraphrased prose: alteration generators, paraphrases that must pass or fail, the harness.

Fast and pure: tiny hand-made chunks, no index and no model.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `eval/` is a top-level folder, not part of the installed `rag` package
    sys.path.insert(0, str(ROOT))

from eval import alterations as alt  # noqa: E402
from eval import citecheck  # noqa: E402
from rag.generate import CorpusWords  # noqa: E402
from rag.grounding import check_answer  # noqa: E402
from rag.text import numbers_in, stem  # noqa: E402
from rag.types import Chunk  # noqa: E402


def poster(pid: int, title: str, text: str, **meta) -> Chunk:
    return Chunk(f"poster:{pid}", "poster", title, text, {"name": title.split(":")[0], **meta})


FOO = poster(1, "FooServe: Fast Serving", "FooServe cuts latency by 30% and reaches 2.5× throughput on A100 GPUs.")
BAR = poster(2, "BarTrain: Training Bars", "BarTrain trains bar models on 1,024 TPUs with 12% better goodput.")
BAZ = poster(3, "BazCache: Caching Baz", "BazCache caches serving latency results for bar models on GPUs.")


# ---------------------------------------------------------------- alteration generators
def test_other_numbers_keep_decimals_avoid_forbidden_values_and_move_years_by_one():
    assert alt.other_numbers("2.37", set())[0] == "3.56"  # x1.5, two decimals kept
    assert "45" not in alt.other_numbers("30", {"45"})
    assert alt.other_numbers("2026", set())[:2] == ["2027", "2025"]
    assert all(numbers_in(n) != {"30"} for n in alt.other_numbers("30", set()))


def test_change_numbers_makes_one_copy_per_distinct_number_and_none_without_numbers():
    out = alt.change_numbers("From 51 to 21 minutes, 21 again.", forbidden={"51", "21"})
    assert len(out) == 2 and all(o != "From 51 to 21 minutes, 21 again." for o in out)
    assert out[0].startswith("From 76.5") is False and "51" not in out[0].split(" to")[0]
    assert alt.change_numbers("No numbers here.", set()) == []


def test_swap_names_replaces_an_own_name_with_one_absent_from_the_sources():
    own = alt.names_in("FooServe is fast.", ["FooServe", "BarTrain"], FOO.text)
    assert own == ["FooServe"]
    assert alt.swap_names("FooServe is fast.", own, ["FooServe2", "BarTrain"], FOO.text) == ["BarTrain is fast."]
    assert alt.swap_names("It is fast.", [], ["BarTrain"], FOO.text) == []
    # A replacement the sources or the question already name would not be an alteration.
    assert alt.swap_names("FooServe is fast.", own, ["BarTrain"], FOO.text + " BarTrain") == []


def test_reformat_writes_the_same_facts_differently():
    assert alt.reformat("Up to 2.37x more users.") == "Up to 2.37 × more users."
    assert alt.reformat("Scales to 30,000 GPUs with 3 posters.") == "Scales to 30K GPUs with three posters."
    assert alt.reformat("On 2026-02-26.") == "On February 26, 2026."
    assert alt.reformat("Nothing to change.") is None


def test_nearest_posters_skip_the_reference_its_linked_posters_and_posters_it_names():
    linked = poster(4, "FooLink: Linked", "FooServe latency serving GPUs throughput.")
    notes = Chunk("notes:foo", "notes", "FooServe", "FooServe serving latency; see BazCache.", {"poster_id": "poster:4"})
    chunks = [FOO, BAR, BAZ, linked, notes]
    names = alt.system_names(chunks)
    assert [c.id for c in alt.nearest_posters([FOO], chunks, lambda t: 1.0, names)][:2] == ["poster:4", "poster:3"]
    ranked = [c.id for c in alt.nearest_posters([notes], chunks, lambda t: 1.0, names)]
    assert ranked == ["poster:2"]  # poster 4 is linked to the entry; it names FooServe and BazCache


# ---------------------------------------------------------------- paraphrases: must pass / must fail
COMMON = {"gpu", "model", "latenc", "serv", "llm", "nvidia"}
RARE_NAME = {"blasst"}  # generic by frequency, but too rare to pass unchecked as a capitalised name
WORDS = CorpusWords(lambda t: 1.0 if t in COMMON else 3.0 if t in RARE_NAME else 6.0,
                    frozenset(stem(w) for w in ("prompts", "models", "serving")),
                    {stem(w) for w in ("kitty", "fooserve", "bartrain", "prompts", "models", "serving")})
SOURCES = [
    "[1] (poster abstract) FooServe: Fast Serving\nFooServe cuts time-to-first-token by 30% and reaches 2.5× "
    "throughput on 30,000 TPU cores at the Korea Advanced Institute of Science and Technology, in three weeks "
    "(2026-02-01). It uses structured prompts, beating One\u2011Shot Private Aggregation and ThunderKittens.",
    "[2] (poster abstract) BarTrain: Training Bars\nBarTrain trains CDLM models on 1,024 GPUs with 12% better goodput.",
]


@pytest.mark.parametrize("answer", [
    "FooServe reaches 2.5 × throughput [1].",
    "FooServe reaches 2.5x throughput on 30K TPU cores [1].",
    "FooServe reaches 2.5x throughput on TPUs [1].",
    "FooServe was built at the Korea Advanced Institute of Science and Technology (KAIST) [1].",
    "FooServe cuts TTFT by 30% [1].",
    "FooServe reaches 2.5x throughput in 3 weeks (February 2026) [1].",
    "FooServe cuts latency by 30%, while BarTrain improves goodput by 12% [1][2].",
    "NVIDIA's FooServe reaches 2.5x throughput [1].",  # a common name needs no support
    "Because FooServe uses structured prompts, it reaches 2.5x throughput [1].",  # an unknown first word
    "FooServe beats One-Shot Private Aggregation (OPA) with ThunderKittens-style prompts [1].",
])
def test_faithful_paraphrases_pass(answer):
    c = check_answer(answer, SOURCES, "What does FooServe do?", WORDS)
    assert c.failed == 0 and c.cited, c.unsupported


@pytest.mark.parametrize("answer,reason", [
    ("FooServe reaches 3.5x throughput [1].", "number 3.5"),
    ("FooServe took four weeks [1].", "number 4"),
    ("FooServe reaches 2.5x throughput on 40K TPU cores [1].", "number 40"),
    ("BarTrain reaches 2.5x throughput [1].", "name BarTrain"),
    ("BarTrain trains DLM models [2].", "name DLM"),  # DLM is inside CDLM, not a word of its own
    ("BarTrain uses PROMPTS for goodput [2].", "name PROMPTS"),  # a system named by a plain word
    ("FooServe reaches 2.5x throughput with BLASST [1].", "name BLASST"),
    ("FooServe cuts latency by 30%, while BazCache improves goodput by 12% [1][2].", "name BazCache"),
    ("Kitty reaches 2.5x throughput [1].", "name Kitty"),  # known only capitalised: a name even first
])
def test_altered_claims_fail_with_the_reason(answer, reason):
    c = check_answer(answer, SOURCES, "What does FooServe do?", WORDS)
    assert c.failed == 1 and not c.cited
    assert reason in c.unsupported[0]


def test_a_name_in_the_question_does_not_make_the_cited_source_about_it():
    c = check_answer("BarTrain reaches 2.5x throughput [1].", SOURCES, "What does BarTrain do?", WORDS)
    assert c.failed == 1 and "name BarTrain" in c.unsupported[0]


# ---------------------------------------------------------------- the harness
def gold_item(iid: str, reference: str, refs: list[str], kind: str = "fact_abstract") -> dict:
    return {"id": iid, "user_input": "What does FooServe achieve?", "reference": reference,
            "reference_context_ids": refs, "must_include": [], "evidence": [], "kind": kind}


def test_evaluate_counts_correct_and_altered_sentences_per_split():
    items = [gold_item("a1", "FooServe cuts latency by 30% on A100 GPUs. It reaches 2.5x throughput.", ["poster:1"]),
             gold_item("a2", "Not in the documents.", [], kind="unanswerable"),
             gold_item("a3", "2 posters (rule: ...): FooServe and BarTrain.", ["poster:1", "poster:2"], "aggregate")]
    filler = [Chunk(f"tweets:{i}", "tweet", "Tweet", f"Unrelated chatter about the weather, day {i}.") for i in range(40)]
    result = citecheck.evaluate(items, [FOO, BAR, BAZ, *filler])  # enough chunks for names to be rare words
    assert result["items"] == 1
    total = result["all"]
    assert total["correct"] == 2 and total["correct_pass"] == 1.0
    assert total["number_n"] == 2 and total["name_n"] >= 1 and total["citation_n"] == 2
    assert total["altered_fail"] == 1.0 and not result["altered_passing"]
    assert result[citecheck.split_of("a1")]["correct"] == 2
    assert "Altered sentences that pass (0)" in "\n".join(citecheck.summary_lines(result))
    assert any("correct_pass" in line for line in citecheck.markdown_lines(result))


def test_rates_are_none_without_cases_and_headline_reads_the_test_half():
    empty = citecheck.rates([])
    assert empty["correct_pass"] is None and empty["altered_fail"] is None
    result = {"test": {"correct_pass": 0.9, "altered_fail": 1.0}}
    assert citecheck.headline(result) == {"citation_check_correct_pass": 0.9, "citation_check_altered_fail": 1.0}


def test_cite_puts_markers_before_the_closing_stop():
    assert citecheck.cite("Fast.", [1, 2]) == "Fast [1][2]."
    assert citecheck.cite("Fast", [3]) == "Fast [3]."


def test_corpus_words_threshold_is_between_the_generic_and_the_maximum_idf():
    from rag.claims import COMMON_NAME_IDF
    from rag.generate import GENERIC_IDF

    assert 0 < COMMON_NAME_IDF < GENERIC_IDF < math.log(1 + 282.5 / 0.5)
