"""Named, precompiled question patterns: what form a question has and what kind of detail it asks for.

Pure functions over the question's text. The slot is the type of the asked detail (a number with a unit, a date,
a person, a hardware model, a link, a dataset, a baseline, a model); an answer sentence must hold that type.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .text import fold, split_sentences
from .types import KIND_LABELS

# --- question forms ----------------------------------------------------------------------------------------------
COMPARE = re.compile(r"\bcompar\w*\b|\bdiffer\w*\b|\bvs\.?\b|\bversus\b|\bcontrast\b|\bwhich (?:one )?(?:is|claims|reports"
                     r"|achieves|gives|has) (?:the )?(?:larger|bigger|higher|lower|smaller|more|less|better|faster)\b"
                     r"|\b(?:larger|bigger|higher|lower|smaller|better|faster)\b.*:\s*\w+ or \w+|\bboth\b")
OVERVIEW = re.compile(r"\bwhich (?:posters|papers|works|systems|submissions|projects|abstracts)\b"
                      r"|\b(?:main|key|common|different|major) (?:approaches|techniques|methods|ideas|strategies|themes|directions)\b"
                      r"|\bwhat (?:approaches|techniques|methods|strategies|kinds of|sorts of)\b"
                      r"|\bhow do (?:the )?(?:posters|papers|works|systems)\b|\boverview\b|\bsurvey\b|\blandscape\b")
IDENTIFY = re.compile(r"\b(?:which|what) (?:poster|paper|work|system|submission|project|abstract)\b")

# A coined name: CamelCase, an acronym, a letter-digit mix.
# Acronyms every ML-systems text uses: they name a field or a part, never the benchmark or tool a question asks for
# (dev refusal recall 0.864 -> 0.886 with them excluded, no new false refusal).
GENERIC_ACRONYMS = r"(?:LLMs?|GPUs?|CPUs?|TPUs?|AI|ML|KV|APIs?|RL|MoE|NLP|SLOs?|QPS|FLOPS?|DNNs?|HPC)"
# A coined name in the sentence: CamelCase, an acronym (not a generic one), or a name with a digit.
_CODENAME = (r"(?=.*\b(?:[A-Z][a-z]+[A-Z]\w*|(?!" + GENERIC_ACRONYMS + r"\b)[A-Z]{2,}[\w-]*|[A-Z][\w]*-?\d[\w.-]*)\b)")

_COUNT_WORD = r"(?:\d+|two|three|four|five|six|seven|eight|nine|ten|several|many|other)\s+"


# A noun that, after a slot noun, makes it a modifier of an amount: "what GPU throughput gain", "which dataset size".
_AMOUNT_HEAD = (r"throughput|gains?|speed ?ups?|hours?|utili[sz]ation|memory|time|costs?|efficiency|savings?|sizes?|"
                r"rates?|latency|overhead|bandwidth|energy|power|counts?")


# "Which posters test how LLMs behave …" asks for posters: a slot noun after them describes what they study.
_LISTED = r"(?:posters?|papers?|works?|talks?|abstracts?)"


def _which(nouns: str, gap: int) -> str:
    """'which/what' followed, within `gap` words (a count word aside), by one of the nouns: "which two GPUs",
    "what test sets", "which four multi-agent embodied benchmarks"; not a noun that modifies an amount ("what
    GPU throughput gain")."""
    return (rf"\b(?:which|what)\s+(?:{_COUNT_WORD})?(?:(?!{_LISTED}\b)[\w-]+\s+){{0,{gap}}}(?:{nouns})\b"
            rf"(?!\s+(?:{_AMOUNT_HEAD})\b)")


# --- asked-for slots: (question cue, what an answering sentence must hold) ---------------------------------------
HARDWARE_MODEL = (r"\b(?:[AHBLTV]\d{2,3}[A-Z]?|G[BH]\d{3}|SM_?\d{2,3}|\d+-(?:TPU|GPU)|MI\d{3}[A-Z]?|TPU ?v?\d\w*"
                   r"|RTX ?\d{4}\w*|A\d{4}|L40S?|T4"
                   r"|Jetson[\w ]{0,12}|Gaudi ?\d?|Trainium\d?|Inferentia\d?|Ascend ?\d+\w*|Grace Hopper|Hopper|"
                   r"Blackwell|Ampere|Quest(?: Pro| \d)|Snapdragon ?\w*|iPhone ?\w*|Pixel ?\d+|Raspberry Pi ?\d?|Apple M\d|"
                   r"Xeon\w*|EPYC\w*|Trillium|Ironwood|Cerebras\w*|Groq|LPU|WSE-?\d|NVMe|SSDs?|HDDs?|HBM\d?e?|DRAM|CXL|FPGAs?|"
                   r"STM32\w*|ESP32\w*|nRF\d+\w*|Arduino[\w ]{0,10}|Cortex-[AM]\d+\w*)\b")
# Capitalised words that do not make a person's name with their neighbour ("Bellevue May", "The Results").
_NOT_A_NAME = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Monday|"
               r"Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|The|A|An|This|These|That|Our|We|In|On|At|For|"
               r"With|From|Full|New)")
SLOTS: dict[str, tuple[re.Pattern, re.Pattern]] = {
    "link": (re.compile(r"\b(?:github|repo(?:sitory)?|url|link|website|arxiv|doi)\b|\bcode\b(?=.*\b(?:available|released|public|open)\b)"
                        # "which open-source LLMs": the adjective of an asked noun, not a question about code
                        r"|\bopen[- ]?sourced?\b(?!\s+(?:llms?|models?|weights|alternatives?|baselines?|systems?|tools?"
                        r"|frameworks?|librar))|\bwhere can (?:i|one|we) (?:find|get|download)\b"),
             re.compile(r"https?://|\bgithub\b|\barxiv[ .:]*\d{4}\.\d{4,5}|\b\d{4}\.\d{4,5}\b|\bcode (?:is |are )?(?:available|released|public)|\bopen[- ]sourced?\b"
                        r"|\b(?:is|are) (?:publicly )?(?:available|released)\b|\brepository\b", re.I)),
    "hardware": (re.compile(_which("gpus?|tpus?|hardware|chips?|accelerators?|devices?|headsets?|phones?|smartphones?|"
                                    "processors?|cpus?|platforms?|boards?|microcontrollers?|mcus?", 2) + r"|\bon what hardware\b"),
                 re.compile(HARDWARE_MODEL)),
    "dataset": (re.compile(_which("datasets?|benchmarks?|test sets?", 2) + r"|\b(?:evaluated|tested|benchmarked) on\b"),
                re.compile(r"(?=.*\b(?:benchmarks?|datasets?|suites?|corpus|corpora|workloads?|tasks)\b)" + _CODENAME
                           # or a list of capitalised names right after the word: "datasets—Counting, Graph, and …"
                           + r"|\b(?:benchmarks?|datasets?|suites?|tasks)\W{1,3}(?:[A-Z][\w-]*(?: [A-Z][\w-]*)?,? "
                             r"(?:and )?){2,}")),
    "baseline": (re.compile(r"\bbaselines?\b|\bcompared? (?:against|with|to)\b|\bagainst which\b|\bwhich \w+ does\b(?=.* (?:beat|outperform))"),
                 re.compile(r"\b(?:over|than|compared|versus|vs\.?|baselines?|outperform\w*|against|state-of-the-art|"
                            r"relative to)\b", re.I)),
    "name": (re.compile(_which("algorithms?|librar(?:y|ies)|frameworks?|compilers?|languages?|tools?|optimi[sz]ers?|"
                                "protocols?|engines?|agents?|kernels?|formats?|schedulers?", 3)),
             re.compile(_CODENAME)),
    "model": (re.compile(_which("llms?|models?|model sizes?", 3) + r"|\bmodel sizes?\b|\bparameters?\b"),
              re.compile(r"\b(?:Llama|LLaMA|Qwen|GPT|Mistral|Mixtral|DeepSeek|Gemma|Phi|OPT|BERT|T5|Claude|Gemini|Kimi)\w*"
                         r"|\b\d+(?:\.\d+)?\s?[BM]\b|\bbillion\b|\bmillion parameters\b")),
    # "When is/did …" asks for a date; "When an LLM writes X, does Y help?" opens a clause and asks yes or no.
    "date": (re.compile(r"^\W*when(?:['’]s|\s*\?|$| (?:and|or)\b)|\bwhen (?:is|was|were|are|did|does|do|will|would|can|could|should|has|"
                        r"have|had)\b|\bwhat (?:date|day|year|month|time)\b"
                        r"|\bwhich (?:date|day|year|month)\b"),
             re.compile(r"\b\d{4}-\d\d-\d\d\b|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}\b|"
                        r"\b\d{1,2}(?:–|-)\d{1,2}\b|\b(?:19|20)\d\d\b|\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*day\b|"
                        r"\b\d{1,2}(?::\d\d)? ?(?:am|pm)\b|\btomorrow\b|\btoday\b", re.I)),
    # "Which company …": a name that does not open the sentence (and that the question did not give).
    "org": (re.compile(r"\bwhich (?:compan(?:y|ies)|institutions?|universit(?:y|ies)|labs?|organi[sz]ations?|"
                       r"firms?|startups?)(?:['’]s)?\b"),
            re.compile(r"(?<=[\w,;:)] )(?:[A-Z][\w&.-]*[A-Za-z0-9]|[a-z]+[A-Z][\w-]*)")),
    "person": (re.compile(r"\bwho\b|\bwhich (?:person|people|researchers?|speakers?|authors?)\b|\bwhose\b"),
               re.compile(rf"@\w+|\b(?!{_NOT_A_NAME}\b)[A-Z][a-z]+(?: [A-Z]\.)? (?!{_NOT_A_NAME}\b)[A-Z][a-z]+\b"
                          r"|\b(?:University|Institute|Inc|Labs?|Research|"
                          r"Google|Meta|NVIDIA|Microsoft|Amazon|Apple|ByteDance|Alibaba|OpenAI|Anthropic|team)\b")),
    "number": (re.compile(r"\bhow (?:many|much|fast|large|big|long|often|far|high|low|small|accurate)\b|\bspeed ?ups?\b|\bpercent\w*\b|"
                          r"\bby what (?:factor|margin|percentage)\b|\bwhat(?= (?:fraction|share|ratio|speedup|throughput|"
                          r"latency|accuracy|overhead|reduction|improvement|gain|size|rate|number)\b)|\bhow much faster\b"
                          r"|\bwhat(?= (?:[\w-]+ ){0,4}(?:latency|throughput|speedup|accuracy|overhead|bandwidth|ttft|tpot|"
                          r"utili[sz]ation|resolve rate|hit rate|success rate|error rate|pass rate)\b)"
                          r"|^what (?:is|was|are|were)\b(?=.*\b(?:accuracy|latency|throughput|speedup|overhead|rate|"
                          r"bandwidth|utili[sz]ation)\b)"),
               # a number that is not a year, or a magnitude in words ("hundreds of billions of tokens")
               re.compile(r"(?<![\w.-])(?!(?:19|20)\d\d\b)\d|\b(?:hundreds|thousands|millions|billions|trillions|dozens)\b"
                          r"|\b(?:a|one) (?:hundred|thousand|million|billion|trillion)\b"
                          # a count in words: "a single training epoch", "two GPUs"
                          r"|\ba single\b|\b(?:two|three|four|five|six|seven|eight|nine|ten|twelve)\s+[a-z-]+s\b", re.I)),
}
# "Which model": a model family or a coined name; "what model size" / "how many parameters": a size.
_MODEL_NAME = re.compile(r"\b(?:Llama|LLaMA|Qwen|GPT|Mistral|Mixtral|DeepSeek|Gemma|Phi|OPT|BERT|T5|Claude|Gemini|Kimi)\w*"
                         r"|\b(?:[A-Z][a-z]+[A-Z]\w*|[A-Za-z]+-?\d[\w.-]*)\b")
_MODEL_SIZE_CUE = re.compile(r"\bsizes?\b|\bparameters?\b|\bparams\b|\bhow (?:big|large)\b")
SLOT_ORDER = ("link", "hardware", "model", "dataset", "org", "baseline", "name", "date", "person", "number")
# "How many GPUs", "how much memory": a count or amount is asked, whatever noun follows.
_ENUMERATION = re.compile(r"\((?:\d|[ivx]{1,4}|[a-h])\)|^\s*\d[.)]\s", re.M)
_WHO_FIRST = re.compile(r"\s*(?:who|whom|whose)\b")
_AMOUNT = re.compile(r"\bhow (?:many|much)\b|\bby how\b|\bwhat (?:percentage|fraction|share)\b")
# "On what date did X put Y on GitHub?": the question word names the type, whatever topic words follow.
_DATE_FIRST = re.compile(r"^\W*(?:on |in )?(?:what|which) (?:date|day|year|month)\b|^\W*when (?:did|was|were|is|will)\b")

# A unit the question asks for: the number in the answer must carry it.
UNITS: dict[str, tuple[re.Pattern, re.Pattern]] = {
    "time": (re.compile(r"\b(?:milli)?seconds?\b|\bms\b|\bminutes?\b|\bhours?\b|\bhow long\b"),
             re.compile(r"\d\s?(?:ms|s|sec\w*|seconds?|milliseconds?|minutes?|mins?|hours?|h|µs|us|days?)\b", re.I)),
    "memory": (re.compile(r"\b(?:gb|mb|tb|gib|gigabytes?|megabytes?|bytes)\b|\bhow much memory\b"),
               re.compile(r"\d\s?(?:[KMGT]i?B|bytes?|gigabytes?)\b", re.I)),
    "percent": (re.compile(r"\bpercent\w*\b|%|\brates?\b"), re.compile(r"\d\s?%|\bpercent", re.I)),
    "factor": (re.compile(r"\bspeed ?ups?\b|\bhow much faster\b|\bby what factor\b|\bhow many times\b"),
               re.compile(r"\d\s?(?:×|x\b|times\b|-fold)|\border(?:s)? of magnitude", re.I)),
    # a change asked for ("what throughput gain", "how much energy savings"): a factor or a percentage
    "relative": (re.compile(r"\b(?:gains?|improvements?|reductions?|savings?|faster|slower)\b"),
                 re.compile(r"\d\s?(?:×|x\b|times\b|-fold|%)|\border(?:s)? of magnitude|\bpercent", re.I)),
    "parameters": (re.compile(r"\bparameters?\b|\bparams\b"),
                   re.compile(r"\d\s?[BMT]\b|\b(?:billion|million|trillion)\b|\d[\d.,]*\s?(?:parameters|params)\b")),
    "energy": (re.compile(r"\benergy\b|\bpower\b|\bwatts?\b|\bjoules?\b"),
               re.compile(r"\d\s?(?:%|W|kW|J|kWh|watts?|joules?)|\benergy\b|\bpower\b", re.I)),
}


_UNIT_ALONE = ("time", "memory")  # units whose words ask for a figure on their own (not "energy", "rate")
_GIVEN_FIGURE = re.compile(r"\d")  # a question that states a figure itself asks about it, not for one


@dataclass(frozen=True)
class Asked:
    """What a question asks for: its slot (None for an open question) and, for numbers, the unit.

    `multipart`: the question asks two things ("which X …, and what Y?"); its slot speaks for one part only."""

    slot: str | None
    unit: str | None = None
    compare: bool = False
    overview: bool = False
    identify: bool = False
    multipart: bool = False


# A later part: "…, and what …", "…, and with how many …", "…, and besides X and Y, which …" (a lead-in phrase).
MULTIPART = re.compile(r"(?:,|\band\b|;)\s*(?:and\s+)?(?:from |in |on |at |by |with )?(?:what|which|who|whom|how|where|when|why)\b"
                       r"|[,;]\s*and\s+[^,?]{1,60},\s*(?:what|which|who|whom|how|where|when|why)\b"
                       r"|\?\s*\w")


_PART_CUT = re.compile(MULTIPART.pattern, re.I)
_ASKS = re.compile(r"\b(?:what|which|who|whom|whose|how|where|when|why)\b|\?"
                   r"|^\s*(?:can|could|does|do|did|is|are|was|were|has|have|had|will|would|should)\b", re.I)
_PART_LEAD = re.compile(r"^[\s,;?]*(?:and\s+)?", re.I)


def parts(question: str) -> list[str]:
    """A multi-part question's parts, in order ("Which X does A use, and what speedup?" has two); else [question]."""
    cuts = [0, *(m.start() for m in _PART_CUT.finditer(question)), len(question)]
    pieces = [_PART_LEAD.sub("", question[a:b]).strip() for a, b in zip(cuts, cuts[1:])]
    pieces = [p for p in pieces if re.search(r"\w{3}", p)]
    # "In X's deployment, how much …": a leading phrase that asks nothing is context for the next part.
    while len(pieces) > 1 and not _ASKS.search(pieces[0]):
        pieces[:2] = [f"{pieces[0]}, {pieces[1]}"]
    # "When and where did X happen?": a lone question word shares the rest of the next part.
    for i, p in enumerate(pieces[:-1]):
        if " " not in p:
            pieces[i] = f"{p} {pieces[i + 1].split(' ', 1)[-1]}"
    return pieces or [question]


# "… when predicting how long upgrades run", "… to decide how many replicas": a how-clause that is the object of a
# verb describes what the subject does; it asks for no figure (a reporting verb's does: "saying how much").
_EMBEDDED_HOW = re.compile(r"\b(?!(?:saying|reporting|showing|telling|stating|describing|explaining)\b)\w{3,}ing how\b"
                           r"|\bto (?!(?:say|report|show|tell|state|describe|explain)\b)\w+ how\b")


_KIND_OF = re.compile(r"\b(?:what|which) (?:kind|type|sort|form)s? of\b")


def asked(question: str) -> Asked:
    """The form of a question and the type of detail it asks for."""
    q = _EMBEDDED_HOW.sub(lambda m: m.group(0)[: -len("how")] + "the way", fold(question))
    if _AMOUNT.search(q):
        slot = "number"
    elif _WHO_FIRST.match(q):  # "Who gave the open-source talk …?" asks for a person, whatever else it mentions
        slot = "person"
    elif _DATE_FIRST.match(q):
        slot = "date"
    else:
        # "what kind of protocol" asks for a description of it, "which protocol" for its name
        slot = next((name for name in SLOT_ORDER if SLOTS[name][0].search(q)
                     and not (name == "name" and _KIND_OF.search(q))), None)
    if slot is None and not _GIVEN_FIGURE.search(q) and any(cue.search(q) for name, (cue, _) in UNITS.items()
                                                            if name in _UNIT_ALONE):
        slot = "number"  # "… in milliseconds", "… in GB": a unit named alone asks for a figure (not "took 40 minutes")
    unit = next((name for name, (cue, _) in UNITS.items() if cue.search(q)), None) if slot == "number" else None
    if slot == "model" and _MODEL_SIZE_CUE.search(q):
        unit = "size"
    counted = _HOW_MANY.search(q)
    if slot == "number" and unit is None and counted and counted.group(1) not in _NOT_COUNTED:
        unit = "count:" + counted.group(1)
    return Asked(slot, unit, bool(COMPARE.search(q)), bool(OVERVIEW.search(q)), bool(IDENTIFY.search(q)),
                 bool(MULTIPART.search(q)))


def holds_slot(sentence: str, ask: Asked) -> bool:
    """Whether a sentence holds the type of detail asked for (always True for an open question)."""
    if ask.slot is None:
        return True
    if ask.slot == "model" and ask.unit != "size":  # "which model": a named model, not a size or a chip
        return any(not re.fullmatch(HARDWARE_MODEL, m.group(0)) for m in _MODEL_NAME.finditer(sentence))
    if ask.slot == "number":  # "(1) a scheduler, (2) …" enumerates; it gives no figure
        sentence = _ENUMERATION.sub(" ", sentence)
    if not SLOTS[ask.slot][1].search(sentence):
        return False
    if ask.unit and ask.unit.startswith("count:"):
        return bool(_count_of(ask.unit[6:]).search(sentence))

    return ask.unit not in UNITS or bool(UNITS[ask.unit][1].search(sentence))


# "How many GPUs": the answer counts that noun ("1,024 GPUs", "thousands of GPUs").
_HOW_MANY = re.compile(r"\bhow many ([a-z][\w-]+)")
_NOT_COUNTED = frozenset({"times", "more", "fewer", "less", "of", "people"})


def _count_of(noun: str) -> re.Pattern:
    stem_ = noun[:-1] if noun.endswith("s") and len(noun) > 3 else noun
    return re.compile(r"(?:\d[\d.,]*\s?[KMBk]?\+?|hundreds|thousands|millions|billions|dozens|tens)[×x]?\s*(?:of\s+)?"
                      r"(?:[\w-]+\s+){0,2}" + re.escape(stem_), re.I)


def without_cues(question: str, ask: Asked) -> str:
    """The question with the words that only name its slot or unit removed ("which GPU", "baselines", "ms")."""
    q = fold(question)
    if ask.unit in UNITS:  # the unit's cue first: "how much faster" holds the slot's "how much"
        q = UNITS[ask.unit][0].sub(" ", q)
    if ask.slot:
        q = SLOTS[ask.slot][0].sub(" ", q)
    return q


# "the poster notes", "the tweets", "the abstract": a question that names a kind of document asks about that kind.
_KIND_WORDS = {label.split()[-1]: kind for kind, label in KIND_LABELS.items()} | {"twitter": "tweet"}
_KIND_RE = re.compile(r"\b(" + "|".join(map(re.escape, _KIND_WORDS)) + r")s?\b")
# "the poster itself", "according to its poster": the abstract, not the notes on it ("poster notes") nor the sessions
_OWN_POSTER = re.compile(r"\b(?:the|its|their) (?:mlsys )?poster\b(?![ -](?:notes|sessions?))")


# "which room", "what convention center", "what kind of drafter": the noun a which/what question asks for, up to
# the verb or preposition that ends its phrase.
_WH_END = (r"does|did|do|is|was|were|are|has|have|had|can|could|will|would|of|in|on|at|for|from|to|and|or|that|"
           r"which|be|been|made|held|used|hosted|the|a|an|it|its|they|their")
_WH_HEAD = re.compile(rf"\b(?:which|what)\s+(?:(?:kind|type|sort|form)s?\s+of\s+)?(?!(?:{_WH_END})\b)"
                      rf"((?:[a-z][\w-]*\s+){{0,2}}?[a-z][\w-]*)(?=\s+(?:{_WH_END})\b|\s*[?,]|$)")


def asked_nouns(question: str) -> list[str]:
    """The nouns a which/what question asks for ("In which room and at what time …?": room, time)."""
    return [m.group(1) for m in _WH_HEAD.finditer(fold(question))]


def named_kinds(question: str) -> set[str]:
    """The kinds of document a question's asking sentences name ("what do the notes say …" names the notes; "The
    notes list X among … How does its design …?" names none)."""
    q = fold(asking(question))
    kinds = {_KIND_WORDS[m.group(1)] for m in _KIND_RE.finditer(q)}
    return kinds | ({"poster"} if _OWN_POSTER.search(q) else set())


def asking(question: str) -> str:
    """The sentences that ask (end in "?"), without a statement that sets them up: "The notes list X among posters
    that … How does its poster …?" asks how, not for a list. The whole text when no sentence ends in "?"."""
    asks = [s for s in split_sentences(question.strip()) if s.rstrip().endswith("?")]
    return " ".join(asks) if asks else question


# --- the coarse answer type a sentence scorer rewards (a number, a date, a person) --------------------------------
ANSWER_NUMBER = re.compile(r"\bhow (many|much|fast|large|big|long|often)\b|\bspeed ?ups?\b|\bhow fast\b|\bpercent|\bfaster\b"
                           r"|\bby what factor\b|\bwhat (fraction|share|ratio)\b")
ANSWER_DATE = re.compile(r"\bwhen\b|\bwhat (date|day|year|month|time)\b")
ANSWER_WHO = re.compile(r"\bwho\b|\bwhich (company|companies|lab|labs|institution|institutions|group|team|organi[sz]ations?"
                        r"|university|universities|authors?)\b|\bauthors?\b|\baffiliat")
# A question about people: author and institution facts only answer these.
PEOPLE = re.compile(r"\b(authors?|wrote|written|institutions?|affiliat\w*|universit\w*|compan\w*|labs?|organi[sz]ations?)\b")


def asks_about_people(question: str) -> bool:
    """Whether the question asks about people or institutions (who, authors, affiliations, labs)."""
    return answer_type(question) == "who" or bool(PEOPLE.search(fold(question)))


def answer_type(question: str) -> str:
    """Coarse expected answer type from the question's wording: number, date, who or other."""
    q = fold(question)
    if ANSWER_NUMBER.search(q):
        return "number"
    if ANSWER_DATE.search(q):
        return "date"
    return "who" if ANSWER_WHO.search(q) else "other"
