"""Question intents and answerability: pure functions, no index (table-driven)."""
from __future__ import annotations

import math

import pytest

from rag import answerable as ans
from rag.intents import Asked, asked, holds_slot, named_kinds


@pytest.mark.parametrize("question, slot, unit", [
    ("What GPU was BLASST evaluated on?", "hardware", None),
    ("Is the code for LEANN available on GitHub?", "link", None),
    # the question word names the type, not the topic word after it
    ("On what date did Acme put FooMesh on GitHub?", "date", None),
    ("Who gave the opening keynote at MLSys 2026?", "person", None),
    ("How many GPUs were used in the test?", "number", "count:gpus"),
    ("By how many milliseconds does Hippocampus reduce retrieval latency?", "number", "time"),
    ("What was the paper acceptance rate at MLSys 2026?", "number", "percent"),
    ("When is the poster session?", "date", None),
    ("Which benchmarks was FooServe evaluated on?", "dataset", None),
    ("Which baselines did RAGBoost compare against?", "baseline", None),
    ("Which company co-hosted a luncheon with a16z?", "org", None),
    ("How accurate is the simulator?", "number", None),
    ("What average TTFT in milliseconds does X achieve?", "number", "time"),
    ("What does OPKV do?", None, None),
    ("How does BOA search for jailbreaks when solving the oracle problem?", None, None),  # "when" as a conjunction
    ("How do GhostServe and RaidServe compare on recovery after GPU failures?", None, None),  # "GPU" not asked for
    ("Which four multi-agent embodied benchmarks did AgenticCache use?", "dataset", None),  # a count word, 3 more
    ("When an LLM writes tuning code, does extra context help?", None, None),  # "when" opens a clause
    ("When and where did MLSys 2026 take place?", "date", None),
    ("What took about 40 minutes on my laptop?", None, None),  # the figure is given, not asked for
    ("What GPU throughput gain did it deliver in production?", "number", "relative"),  # "GPU" modifies the amount
    ("Which dataset size did X use?", None, None),
    ("How much energy savings does FooServe report?", "number", "relative"),  # a change: a factor or a share
    ("Which company is 'AcmeCo', whose scheduler FooServe is compared against?", "org", None),  # the head noun
    ("Who gave the open-source talk on behalf of FooServe?", "person", None),  # "who" first, not the link cue
    ("Which open-source LLMs does FooServe run?", "model", None),  # "open-source" describes the asked models
    ("Is FooServe's code open-sourced?", "link", None),
    ("Which posters test how LLMs behave under attack?", None, None),  # posters are asked for, not models
    # a how-clause that a verb takes as its object says what the system does; it asks for no figure
    ("What does FooSched weigh when predicting how long upgrades will run?", None, None),
    ("What does the abstract say about how much memory FooServe saves?", "number", "memory"),
    ("Which microcontroller board was FooNet deployed on?", "hardware", None),
    ("What kind of failure protocol do the notes credit FooBench with?", None, None),  # a description is asked
    ("Which protocol does FooBench use?", "name", None),  # ... a name is asked
])
def test_asked_slot(question, slot, unit):
    a = asked(question)
    assert (a.slot, a.unit) == (slot, unit)


def test_model_slot_asks_for_a_name_or_a_size():
    which, size = asked("Which pretrained model is behind X?"), asked("What model sizes did X train?")
    assert (which.slot, size.slot, size.unit) == ("model", "model", "size")
    assert not holds_slot("It renders 58 FPS with a 1.3B-parameter model on four H100 GPUs.", which)
    assert holds_slot("It is built on Wan2.1.", which)
    assert holds_slot("We train models of 1.3B and 14B parameters.", size)


def test_question_forms():
    assert asked("compare OPKV and SkipKV").compare
    assert asked("How do X and Y differ?").compare
    assert asked("Which posters tackle RL training efficiency?").overview
    assert asked("What are the main approaches to KV cache compression?").overview
    assert asked("Which poster proposes a 2-bit KV cache?").identify
    assert not asked("What does OPKV do?").overview


@pytest.mark.parametrize("sentence, ask, expected", [
    ("We measure on 8 H100 GPUs.", Asked("hardware"), True),
    ("It runs fast on modern GPUs.", Asked("hardware"), False),
    ("Evaluations on GH200 show gains.", Asked("hardware"), True),  # a superchip, by its model number
    ("It targets the new SM120 architecture.", Asked("hardware"), True),
    ("Code is available at https://github.com/x/y.", Asked("link"), True),
    ("LEANN reduces index size by 50x.", Asked("link"), False),
    ("Latency drops by 40 ms.", Asked("number", "time"), True),
    ("Latency drops by 40%.", Asked("number", "time"), False),
    ("Held at MLSys 2026.", Asked("number"), False),  # a year is not the number asked for
    ("It reached 74.7% sparsity.", Asked("number"), True),
    ("Anything at all.", Asked(None), True),
    ("In embodied tasks, it reuses plans through a background LLM process.", Asked("dataset"), False),  # generic
    ("It scores 61% on the ALFWorld tasks.", Asked("dataset"), True),
    ("It spans four datasets—Counting, Graph, and Spatial Reasoning.", Asked("dataset"), True),  # a named list
    ("It spans four datasets and many tasks.", Asked("dataset"), False),
])
def test_holds_slot(sentence, ask, expected):
    assert holds_slot(sentence, ask) is expected


def test_named_kinds():
    assert named_kinds("What do the poster notes say about OPKV?") == {"notes"}
    assert named_kinds("Which tweet announced a booth?") == {"tweet"}
    assert named_kinds("What does OPKV do?") == set()
    # a set-up statement names the notes; the asking sentence names no kind, so every passage may answer
    assert named_kinds("The notes group OPKV with two posters. How does its design cut overhead?") == set()
    assert named_kinds("OPKV is in the notes. According to the tweets, who presented it?") == {"tweet"}
    # "the poster itself" is the abstract; "the poster notes" and "the poster sessions" are not
    assert named_kinds("Acme claimed 50%. What does the poster itself claim?") == {"poster"}
    assert named_kinds("According to the poster-session notes, who presented OPKV?") == {"notes"}


def test_focus_terms_drop_subject_frame_and_slot_words():
    q = "Which GPU was BLASST evaluated on in the paper?"
    focus = ans.focus_terms(q, ["BLASST"], asked(q))
    assert "blasst" not in focus and "gpu" not in focus and "paper" not in focus
    assert "evalu" in focus or "evaluat" in focus


def test_focus_of_a_whose_work_question_drops_words_of_authorship():
    q = "Which company is behind FooServe, and who built its scheduler?"
    focus = ans.focus_terms(q, ["FooServe"], asked(q))
    assert "behind" not in focus and "built" not in focus and "schedul" in " ".join(focus)


def test_named_terms_skip_question_openers():
    assert ans.named_terms("What was BLASST's accuracy on LongBench?") == ["BLASST", "LongBench"]
    assert ans.named_terms("How does it work?") == []


def test_unknown_names_and_numbers():
    corpus = "blasst reaches 1.62x on longbench v2 at mlsys 2026"
    assert ans.unknown_names("What did the LoongServe poster report?", corpus) == ["LoongServe"]
    assert ans.unknown_names("Where will MLSys 2027 be held?", corpus) == ["2027"]
    assert ans.unknown_names("What did BLASST report on LongBench?", corpus) == []


def test_absent_names_only_counts_rare_names():
    scope = "blasst maintains accuracy on modern gpus"
    df = {"LongBench": 0.004, "GPU": 0.3}.get  # shares of chunks mentioning each
    assert ans.absent_names("What was BLASST's accuracy on LongBench?", scope, ["BLASST"], lambda n: df(n, 0.0)) == ["LongBench"]
    assert ans.absent_names("Did BLASST use a GPU cluster?", scope, ["BLASST"], lambda n: df(n, 0.0)) == []


def test_an_edition_the_documents_mention_widely_is_not_an_absent_figure():
    scope = "fooserve cuts latency by 2x"
    df = {"MLSys 2026": 0.16, "MLSys 2019": 0.0}.get
    assert ans.absent_names("Was FooServe accepted to MLSys 2026?", scope, ["FooServe"], lambda n: df(n, 0.0)) == []
    assert ans.absent_names("Was FooServe accepted to MLSys 2019?", scope, ["FooServe"], lambda n: df(n, 0.0)) == \
        ["2019"]


def test_a_number_inside_a_given_name_is_no_figure():
    question = "What training throughput does FooZeRO reach on GPT-100B?"
    known = ans.given(question, [], asked(question))
    assert not holds_slot(ans.blank("It scales the model size, e.g. to GPT-100B.", known), asked(question))
    assert holds_slot(ans.blank("It reaches 1.5x higher throughput on GPT-100B.", known), asked(question))


def test_a_known_name_joined_to_plain_words_is_a_description_not_an_unknown_name():
    corpus = "pd disaggregation extends gpu useful lives fooserve serves deepseek-v3"
    assert ans.unknown_names("Is PD disaggregation a GPU-lifespan argument?", corpus) == []
    assert ans.unknown_names("Does FooServe run DeepSeek-V5?", corpus) == ["DeepSeek-V5"]  # a coined part is new


def test_words_that_name_the_documents_own_form_are_not_focus_or_unseen():
    assert ans.focus_terms("What is the full title of the CAD work?", ["CAD"]) == []
    assert ans.unseen_asked("Which hashtags did the tweet end with?", {"tweet", "end"}) == []


def test_which_organizations_asks_about_people():
    from rag.intents import answer_type, asks_about_people

    question = "Which organizations developed FooServe?"
    assert asks_about_people(question) and answer_type(question) == "who"


def test_coverage_is_idf_weighted():
    idf = {"rare": 3.0, "common": 1.0}.get
    assert math.isclose(ans.coverage(["rare", "common"], {"rare"}, idf), 0.75)
    assert ans.coverage([], set(), idf) == 1.0


def test_covered_uses_the_best_few_sentences_together():
    idf = lambda t: 1.0  # noqa: E731
    focus = ["prune", "throughput", "model"]
    sents = [("we prune the model", set(), 0.1), ("throughput rises 2x", set(), 0.1)]
    assert ans.covered(sents, focus, idf)
    assert not ans.covered(sents[1:], focus, idf)
    assert ans.covered([("the model is unrelated", set(), 0.9)], focus, idf)  # close in meaning, one word shared
    assert not ans.covered([("unrelated", set(), 0.9)], focus, idf)  # similarity alone is not enough


@pytest.mark.parametrize("question, ask, subject, absent, unknown, expected", [
    ("What GPU was BLASST evaluated on?", Asked("hardware"), "BLASST", [], [],
     "The documents don't say which hardware BLASST was measured on."),
    ("What was BLASST's accuracy on LongBench?", Asked(None), "BLASST", ["LongBench"], [],
     "The documents don't mention LongBench for BLASST."),
    ("Who gave the opening keynote at MLSys 2026?", Asked("person"), None, [], [],
     "The documents don't say who gave the opening keynote at MLSys 2026."),
    ("What did LoongServe report?", Asked(None), None, [], ["LoongServe"], "The documents don't mention LoongServe."),
    ("How much energy does BLASST save?", Asked("number"), "BLASST", [], [],
     "The documents don't give a figure for energy save for BLASST."),
    # too many asked words to read as a phrase: said generically
    ("How much does the poster the notes single out as the shipping side cut VRAM demand?", Asked("number"), "X", [],
     [], "The documents don't give the figure asked for X."),
    ("Which shipping-side mobile edge story do the notes tell about coherent groups?", Asked(None), None, [], [],
     "The documents don't say what this question asks."),
])
def test_missing_sentence(question, ask, subject, absent, unknown, expected):
    focus = ans.focus_terms(question, [subject] if subject else [], ask)
    assert ans.missing_sentence(question, ask, subject, focus, absent=absent, unknown=unknown) == expected


@pytest.mark.parametrize("question, where, match", [
    ("How many poster titles contain the substring 'LLM'?", "title", "substring"),
    ("How many abstracts mention 'GPU' as a word?", "abstract", "word"),
    ("Which posters have 'Serve' in the title?", "title", "word"),
    ("How many papers contain the string “KV” anywhere?", "both", "substring"),
])
def test_a_rule_stated_in_the_question_is_used_as_stated(question, where, match):
    from rag.structured import Poster, answer, route

    r = route(question, [], [])
    assert (r.field, r.where, r.match) == ("text", where, match)
    table = [Poster("poster:1", "ServeLLM: fast", "ServeLLM", (), (), "We cut GPU time."),
             Poster("poster:2", "Serve it", "", (), (), "GPUs and KV caches.")]
    text = answer(r, table)
    assert ("as a substring" if match == "substring" else "as a word") in text  # the answer restates the rule


def test_rule_matching_word_versus_substring():
    from rag.structured import Poster, Route, matches

    table = [Poster("poster:1", "ServeLLM: fast", "ServeLLM", (), (), "x"), Poster("poster:2", "Serve it", "", (), (), "y")]
    assert [p.chunk_id for p in matches(Route("count", "text", "serve", where="title", match="word"), table)] == ["poster:2"]
    assert len(matches(Route("count", "text", "serve", where="title", match="substring"), table)) == 2


@pytest.mark.parametrize("question", [
    "How many posters have authors from systems companies?",  # "systems" names no institution
    "Which posters tackle RL training efficiency?",  # an overview, answered from passages
    "Which poster proposes a 2-bit KV cache?",  # asks which one it is
])
def test_router_leaves_questions_that_are_not_table_questions(question):
    from rag.structured import Poster, route

    table = [Poster("poster:1", "X", "X", ("Ann Lee",), ("Foo Systems Inc",), "RL training on KV cache")]
    assert route(question, table, []) is None


def test_counted_noun_is_the_unit():
    a = asked("How many TPU chips has CATWILD saved Google?")
    assert a.unit == "count:tpu"
    assert holds_slot("It saved 1,000 TPU chips.", a) and not holds_slot("It optimizes 70% of TPU jobs; chips saved.", a)
    assert ans.focus_terms("How many autotuned kernels are there?", [], asked("How many autotuned kernels?"))


@pytest.mark.parametrize("question, expected", [
    ("Which storage device does GriNNder use, and what speedup does it claim?",
     ["Which storage device does GriNNder use", "what speedup does it claim?"]),
    ("In LinkedIn's deployment, how much did pruning shrink the model and how much did throughput go up?",
     ["In LinkedIn's deployment, how much did pruning shrink the model", "how much did throughput go up?"]),
    ("When and where did MLSys 2026 take place?",
     ["When did MLSys 2026 take place?", "where did MLSys 2026 take place?"]),
    ("What does OPKV do?", ["What does OPKV do?"]),
    ("Can FooServe run with Megatron-LM, and how big a model was it tested on?",  # a yes/no part is a part
     ["Can FooServe run with Megatron-LM", "how big a model was it tested on?"]),
    # a lead-in phrase belongs to the part it leads into
    ("Which checks does FooSweep say miss slowdowns, and besides MFU and variance, which metric does it improve?",
     ["Which checks does FooSweep say miss slowdowns", "besides MFU and variance, which metric does it improve?"]),
])
def test_parts_of_a_multi_part_question(question, expected):
    from rag.intents import parts

    assert parts(question) == expected


def test_slot_cues_leave_the_asked_topic_in_focus():
    q = "What was the paper acceptance rate at MLSys 2026?"
    assert "accept" in " ".join(ans.focus_terms(q, [], asked(q)))
    q = "How much faster is NexSpec?"
    assert ans.focus_terms(q, ["NexSpec"], asked(q)) == []  # "how much faster" asks for a factor, nothing more
    q = "What throughput gain does TriInfer claim?"
    assert ans.focus_terms(q, ["TriInfer"], asked(q)) == ["throughput"]


def test_two_sources_that_give_different_figures_for_one_result_are_flagged():
    from rag.disagree import disagreement

    a = ("Experiments show CDLM achieves 3.6×-12.8× lower latency on math and coding tasks.", "poster:1")
    b = ("Results: 3.6×–14.5× lower latency, competitive accuracy on math and coding.", "notes:1")
    said = disagreement([a, b], {"poster:1": 1, "notes:1": 2})
    assert said and "3.6×-12.8× [1]" in said and "3.6×–14.5× [2]" in said
    same = ("Results: 3.6×-12.8× lower latency on math and coding.", "notes:1")
    assert disagreement([a, same], {"poster:1": 1, "notes:1": 2}) is None  # same figure
    other = ("The cluster holds 14.5× more GPUs than last year.", "notes:1")
    assert disagreement([a, other], {"poster:1": 1, "notes:1": 2}) is None  # a different result
    assert disagreement([a, (b[0], "poster:1")], {"poster:1": 1}) is None  # one source


def test_a_part_is_answered_by_a_sentence_that_says_it_not_one_that_borrows_its_title():
    """Every sentence of a poster shares its title's words; the part's sentence must hold them itself."""
    import numpy as np

    from rag.answer import Candidate
    from rag.extractive import Passage
    from rag.multipart import cover_parts
    from rag.types import Chunk, Hit

    sentences = ["FooDec reaches a 5.5x speed-up over standard decoding.",
                 "It exploits a lossless draft-then-verify procedure.",
                 "It uses discrete diffusion as a non-autoregressive drafter."]
    chunk = Chunk("poster:1", "poster", "FooDec: Diffusion Drafter Alignment", " ".join(sentences), {"name": "FooDec"})
    passage = Passage(Hit(chunk, 1.0), sentences, np.zeros((3, 4), dtype=np.float32), frozenset({"poster:1"}),
                      "poster:1")
    cands = [Candidate(0, s, score, 0.5, 0.5) for s, score in zip(sentences, (0.8, 0.7, 0.5))]
    chosen = cover_parts("What kind of drafter does FooDec use, and what speed-up over standard decoding does it "
                          "report?", cands[:2], cands, [passage], ["FooDec"], lambda t: 1.0, limit=3)
    assert cands[2] in chosen and cands[0] in chosen


@pytest.mark.parametrize("sentence, holds", [
    ("Huizi Mao confirms the award.", True),
    ("Thanks to @achowdhery for the duel.", True),
    ("I will be around in Bellevue May 18-21.", False),  # a place and a month
    ("The Results: FooServe wins.", False),
])
def test_a_person_is_a_name_or_an_account_not_any_two_capitalised_words(sentence, holds):
    assert holds_slot(sentence, asked("Who presented FooServe?")) is holds


def test_the_questions_own_account_is_given_not_an_answer():
    question = "Who spoke on behalf of the vLLM project?"
    known = ans.given(question, [], asked(question))
    assert "@vllm_project" not in ans.blank("A talk on behalf of @vllm_project by @someone_else.", known)
    assert "@someone_else" in ans.blank("A talk on behalf of @vllm_project by @someone_else.", known)


def test_a_which_noun_no_document_uses_cannot_be_answered():
    vocabulary = {"talk", "gpu", "benchmark", "speed-up", "speed", "decod", "time"}
    assert ans.unseen_asked("In which room and at what exact time was the FooServe talk?", vocabulary) == ["room"]
    assert ans.unseen_asked("Which GPUs and which benchmarks did FooServe use?", vocabulary) == []
    assert ans.unseen_asked("On what date did FooServe ship?", vocabulary) == []  # a date answers, not the word
    assert ans.unseen_asked("Which company co-hosted the luncheon?", vocabulary) == []  # a name answers
    assert ans.unseen_asked("What decode-time speed-up does FooServe get?", vocabulary) == []  # a part is used


def test_examples_the_question_names_that_no_document_mentions_are_unknown():
    corpus = "shannonic codec compression ans quantized weights h100 gpus"
    assert ans.unknown_names("How does Shannonic compare with compressors such as zstd or gzip?", corpus) == \
        ["zstd", "gzip"]
    assert ans.unknown_names("Does it beat codecs such as ANS or zstd?", corpus) == []  # one of them is there


def test_initials_of_words_the_documents_use_are_not_unknown_names():
    texts = ["Authors from Lawrence Berkeley National Laboratory and the Korea Advanced Institute of Science & Technology"]
    from rag.corpustext import initialisms

    known = initialisms(texts)
    assert {"lbnl", "kaist"} <= known and "lbl" not in known
    folded = "accelopt lawrence berkeley national laboratory"
    assert ans.unknown_names("How does the LBNL study compare with AccelOpt?", folded, [], known) == []
    assert ans.unknown_names("How does the LBNL study compare with AccelOpt?", folded, [], lambda: known) == []
    assert ans.unknown_names("How does the ORNL study compare with AccelOpt?", folded, [], known) == ["ORNL"]


@pytest.mark.parametrize("sentence, holds", [
    ("It picks the split after a single training epoch.", True),
    ("It runs on two GPUs.", True),
    ("(1) a unified scheduler, (2) delayed verification and (3) KV-cache management.", False),
    ("It is one of the best systems.", False),
    ("It targets the Cosmos-Reason-1 VLM and Llama-2 models.", False),  # digits inside a name are no figure
    ("It attains 1.36-1.77x higher decoding throughput.", True),
])
def test_a_figure_is_a_number_or_a_count_in_words_not_an_enumeration(sentence, holds):
    assert holds_slot(sentence, asked("How much training does FooServe need?")) is holds


def test_a_name_matches_however_its_joints_are_written():
    assert ans.mentions("the cosmos-reason1 physical-ai vlm", "Cosmos-Reason-1")
    assert ans.mentions("served with llama 3.1 70b", "Llama-3.1-70B")
    assert not ans.mentions("the cosmos physical-ai vlm", "Cosmos-Reason-1")


def test_a_compared_side_leads_with_the_figure_of_the_asked_quantity():
    """Side B's best-scored sentence shares more words with the question, but its figure is not the one asked."""
    import numpy as np

    from rag.comparison import compare
    from rag.extractive import Passage, Subject
    from rag.types import Chunk, Hit

    def passage(key: str, name: str, sentences: list[str]) -> Passage:
        chunk = Chunk(key, "poster", f"{name}: A System", " ".join(sentences), {"name": name})
        return Passage(Hit(chunk, 1.0), sentences, np.zeros((len(sentences), 4), dtype=np.float32),
                       frozenset({key}), key)

    a = passage("poster:1", "FooGen", ["FooGen reaches up to 2.13× throughput speedup."])
    b = passage("poster:2", "BarKV", ["BarKV targets long reasoning traces of large reasoning models.",
                                      "On long reasoning traces BarKV keeps 26.7% higher accuracy.",
                                      "BarKV improves throughput up to 1.7×."])
    subjects = [Subject("poster:1", "FooGen", ("FooGen",)), Subject("poster:2", "BarKV", ("BarKV",))]
    question = "For long reasoning traces, which claims the bigger throughput gain: FooGen or BarKV?"
    composed = compare(question, np.zeros(4, dtype=np.float32), [a, b], subjects, asked(question), lambda t: 1.0)
    assert "2.13×" in composed.text and "1.7×" in composed.text


def _fake_passage(key: str, name: str, sentences: list[str]):
    import numpy as np

    from rag.extractive import Passage
    from rag.types import Chunk, Hit

    chunk = Chunk(key, "poster", f"{name}: A System", " ".join(sentences), {"name": name})
    return Passage(Hit(chunk, 1.0), sentences, np.zeros((len(sentences), 4), dtype=np.float32),
                   frozenset({key}), key)


def _compare(question: str, passages: list) -> str:
    import numpy as np

    from rag.comparison import compare
    from rag.extractive import Subject

    subjects = [Subject(p.owner, p.hit.chunk.metadata["name"], (p.hit.chunk.metadata["name"],)) for p in passages]
    return compare(question, np.zeros(4, dtype=np.float32), passages, subjects, asked(question), lambda t: 1.0).text


def test_each_compared_side_answers_every_part_of_a_two_part_question():
    """Side B's two best-scored sentences both answer the first part; its figure answers the second."""
    a = _fake_passage("poster:1", "FooGen", ["FooGen targets Trainium kernels.", "FooGen reaches a 2.1× speedup."])
    b = _fake_passage("poster:2", "BarOpt", ["BarOpt targets H100 GPU kernels written by agents.",
                                             "BarOpt agents target H100 GPU kernels in PyTorch.",
                                             "The best result is 2.88× on average."])
    text = _compare("What hardware does each of FooGen and BarOpt target, and what speedup does each report?",
                    [a, b])
    assert "2.1×" in text and "2.88×" in text and "H100" in text


def test_a_compared_side_says_what_it_does_not_the_problem_it_starts_from():
    a = _fake_passage("poster:1", "FooKV", ["However, KV caches grow with context and use much memory.",
                                            "FooKV compresses KV caches with learned codes."])
    b = _fake_passage("poster:2", "BarKV", ["BarKV evicts KV cache pages that attention ignores."])
    text = _compare("How do FooKV and BarKV reduce KV cache memory?", [a, b])
    assert "learned codes" in text and "However" not in text
    asked_problem = _compare("What problem with KV cache memory do FooKV and BarKV each address?", [a, b])
    assert "However, KV caches grow" in asked_problem  # asked for the problem: it is the answer
