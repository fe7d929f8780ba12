"""Every heuristic constant of answering, named, in one place, each with the figure that chose it.

Frozen dataclasses, one per stage, and one instance of each; the stages import the instance they use. Figures
are gold `dev` figures (`python -m eval --split dev --answer-mode extractive`) unless a field says otherwise:
key-fact recall over dev's answerable questions with a refusal counting 0, refusal recall over dev's
unanswerable ones, false refusals over dev's answerable ones. Two families live next to the code they tune,
because they are part of what they describe: the citation check's rules (`rag.claims`, figures from
`python -m eval.citecheck --split dev`) and BM25's k1, b and the name-table cut-off (`rag.lexicon`; they are
baked into the index's lexicon, whose key records them).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scoring:
    """How answer sentences are scored and picked (`rag.answer`); key-fact recall 0.843 at these values when swept."""

    dense: float = 0.5  # a sentence's score: dense·cosine + lexical·IDF coverage (0.4/0.6: 0.843, 0.6/0.4: 0.835)
    lexical: float = 0.5
    rank_bonus: float = 0.04  # + rank_bonus / (passage rank + 1): the retriever's order breaks near-ties
    number_bonus: float = 0.08  # + this when a number is asked and the sentence has one
    date_bonus: float = 0.08  # + this when a date is asked and the sentence has one
    who_bonus: float = 0.06  # + this when a person is asked and the sentence names one
    margin: float = 0.25  # a chosen sentence scores at least max(best - margin, ratio · best)
    ratio: float = 0.6  # (ratio 0.5: 0.843, 0.7: 0.839)
    duplicate_jaccard: float = 0.6  # a sentence sharing more of its words with a chosen one repeats it
    per_chunk: int = 2  # sentences taken from one passage
    # A number or date is asked and no chosen sentence has one: the best sentence that does joins the answer when
    # it scores at least this share of the best (not swept: "at least half as good", a guard against noise).
    typed_floor: float = 0.5


@dataclass(frozen=True)
class Support:
    """The first, coarse check that the retrieved passages can answer at all (`rag.answer.supported`).

    Its main knob is `Settings.min_support` (0.25, swept there). These are not swept: the composer's answerability
    check decides the fine cases, so these only need to stop questions that share (almost) no words with the best
    passages.
    """

    passages: int = 3  # the best passages whose words count
    no_words_cosine: float = 0.5  # a question with no searchable word needs this cosine with the top passage
    # A question naming a number the documents never mention is refused below this coverage of its terms.
    numbers_coverage: float = 0.6


@dataclass(frozen=True)
class Answerability:
    """Whether the subject's passages hold what is asked (`rag.answerable`)."""

    # The best few candidate sentences together must hold this share of the focus terms' IDF mass ...
    union_coverage: float = 0.5
    # ... unless the best sentence's cosine with the question is at least this.
    focus_cosine: float = 0.5
    # How many of the best candidates count together (a multi-part question is answered by several sentences).
    union_of: int = 3
    # A sentence holding the asked type must hold this share of the focus or have this cosine to answer it.
    slot_coverage: float = 0.4
    slot_cosine: float = 0.55
    # A name the question uses counts as missing from the subject's passages only when it is this rare: it occurs
    # in at most this share of the chunks (on MLSys: TPU 9, GitHub 8, H100 9 of 282 chunks; CPU 16, GPU 86).
    absent_max_share: float = 0.035
    # Most of what a question without a subject asks about (this share of its focus IDF mass) is in words the
    # documents never use: they don't cover it. One unused word alone is a paraphrase ("in plain terms").
    unseen_share: float = 0.5
    unseen_min_chars: int = 4  # a question word the documents never use counts from this length ("llm" is short)
    # A refusal names what is missing in the question's own words only up to this many of them; a longer list of
    # words ("group four coherent mobile edge LLM story …") reads as noise, so the sentence says it generically.
    # Not swept (readability, no metric moves): the longest phrases on dev that read well have 4 words.
    missing_phrase_words: int = 4


@dataclass(frozen=True)
class Composer:
    """How the extractive composer shapes an answer (`rag.extractive`)."""

    max_sentences: int = 3  # a one-fact answer: one to three sentences
    compare_per_side: int = 2
    overview_items: int = 5
    refusal_context: int = 2  # sentences of what the documents do say, after a refusal
    overview_min_score: float = 0.35  # a poster's best sentence must score this to be listed
    overview_k: int = 12  # passages retrieved for an overview question (a one-fact question uses Settings.k)
    # A sentence answers one part of a multi-part question with this share of the part's focus words, and a chosen
    # one must come within part_margin of the best candidate's share, with and without its title's words. Dev
    # key-fact recall (sweep over the 168 dev questions, refusals counting 0): coverage 0.4 / 0.5 / 0.6 -> 0.859 /
    # 0.855 / 0.851 (0.4 wins by one fact: kept at the middle); margin 0.1 / 0.2 / 0.3 -> 0.855 / 0.855 / 0.851.
    # Re-swept on 271 dev questions once a sentence's own words counted apart: margin 0.05 / 0.1 / 0.15 / 0.2 ->
    # 0.862 / 0.862 / 0.862 / 0.859 (0.1, the middle of the plateau).
    part_coverage: float = 0.5
    part_margin: float = 0.1
    # A passage of at most this many sentences is read as one statement when matching the asked words (dev false
    # refusals: off 0.024, 4 or 6 sentences 0.016; refusal recall 0.864 either way).
    short_passage: int = 4
    # Two cited sentences (numbers aside) sharing this share of their words state the same result, so different
    # figures in them disagree (`rag.disagree`): the CDLM abstract and notes lines share 0.35; at 0.3 the check
    # fires on no dev answer where the figures are about different results.
    same_claim: float = 0.3


@dataclass(frozen=True)
class Subjects:
    """Which systems a question names (`rag.subjects`)."""

    max_chunks: int = 3  # a coined name (or title phrase) in at most this many chunks identifies the system it is about
    min_chars: int = 3  # "UW", "AI": two-letter acronyms name institutions and fields, not systems
    title_phrase_words: tuple[int, ...] = (4, 3, 2)  # a described system ("layered prefill") is named by this many
    # words of its title, longest first


@dataclass(frozen=True)
class Grounding:
    """How an LLM answer is read before its claims are checked (`rag.grounding`). Not swept: each guards one
    failure seen in testing, and the citation-check figures (`rag.claims`) were measured with these values."""

    echo_share: float = 0.8  # a sentence with this share of its words from the prompt's instructions parrots them
    refusal_max_words: int = 60  # a refusal longer than this (or holding numbers) is read as claims, not a refusal
    repair_candidates: int = 3  # an uncited sentence is given the first of this many best-overlapping sources
    max_marker_range: int = 10  # "[2-4]" cites 2, 3 and 4; a wider range is taken as its first number only


@dataclass(frozen=True)
class PromptBudget:
    """What a small local model is shown (`rag.budget`): the best sentences of the top passages, not whole chunks."""

    # Sentences sent, the best over the top passages, not a fixed number per passage. Measured on the dev half
    # (share of answerable questions whose evidence quotes reach the prompt; tokens ~ chars/4 of the sentences):
    # 6 -> 0.837 (~330), 8 -> 0.880 (~420), 10 -> 0.891 (~490), 14 -> 0.913 (~650); whole 5 chunks ~1,350 tokens.
    # A fixed 3 per passage over 4 passages reached only 0.793 (~560). 8 keeps the prompt near 600 tokens in all.
    sentences: int = 8
    # Passages the sentences come from: with 8 sentences, the top 4 of the 5 retrieved reached 0.880, all 5 the same.
    sources: int = 4


SCORING = Scoring()
SUPPORT = Support()
THRESHOLDS = Answerability()
WEIGHTS = Composer()
SUBJECTS = Subjects()
GROUNDING = Grounding()
BUDGET = PromptBudget()
