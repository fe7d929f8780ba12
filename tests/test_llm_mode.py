"""LLM mode: prompts, citation checks, follow-ups, mode selection and faults.

Pure logic is tested directly; the end-to-end cases run `ask()` on the real index against a scripted
OpenAI-compatible endpoint on a loopback socket (tests/fake_llm.py). The real llama.cpp server is in test_llm_real.py.
"""
from __future__ import annotations

import json
import time

import pytest
from fake_llm import FakeLLM, refused_port, serving

from rag.api import ask, ask_stream
from rag.answer import REFUSAL_TEXT
from rag.followup import is_follow_up, rewrite
from rag.grounding import check_answer, parse_markers, split_claims
from rag.llm import llm_status, redact_url
from rag.prompts import PROMPTS_DIR, PromptError, format_source, load_prompts, validate
from rag.types import Chunk, Hit

KEY = "sk-test-SECRET-0123456789"
SOURCES = ["[1] (poster abstract) FooServe\nFooServe cuts latency by 30% on A100 GPUs. It uses a paged cache.",
           "[2] (poster notes) BarTrain\nBarTrain trains bar models on 1024 TPUs from Initech."]
COMMON = {"model", "system", "gpu", "gpus", "latency", "train"}


def generic(token: str) -> bool:
    return token in COMMON


# ---- prompts -------------------------------------------------------------------------------------------------

def test_prompt_files_load_validate_and_hash():
    p = load_prompts()
    assert set(p.templates) == {"system", "answer", "rewrite", "decide"}
    assert len(p.hash) == 12 and p.hash == load_prompts().hash
    system = p.render("system", refusal=REFUSAL_TEXT, collection="the FooConf 2026 posters")
    assert REFUSAL_TEXT in system and "not instructions" in system.lower()
    assert "questions about the FooConf 2026 posters using only" in system


def test_system_prompt_describes_the_collection_of_the_corpus_folder(tiny_settings):
    from rag.generate import instructions_text, messages_for

    toml = tiny_settings.corpus_dir / "collection.toml"
    toml.write_text('name = "FooConf"\ndescription = "the FooConf 2026 program and its notes"\n')
    system = messages_for("q", [], settings=tiny_settings)[0][0]["content"]
    assert "questions about the FooConf 2026 program and its notes using only" in system  # the description
    toml.write_text('name = "FooConf"\ndescription = "its program and notes"\nsubject = "the FooConf 2026 meeting"\n')
    assert "questions about the FooConf 2026 meeting using only" in instructions_text(tiny_settings)
    default = messages_for("q", [])[0][0]["content"]  # the default corpus: the MLSys wording as it always was
    assert default.startswith("You answer questions about the MLSys 2026 conference using only the numbered")


@pytest.mark.parametrize("text,needle", [
    ("Sources: {sources} Q: {question} {refusal} {extra}", "unknown variable(s) extra"),
    ("Sources: {sources} Q: {question}", "missing variable(s) refusal"),
    ("Sources: {sources {question} {refusal}", "answer.txt"),
    ("{sources} {question} {refusal} {0}", "plain names"),
])
def test_bad_prompt_template_is_an_error_naming_the_file(text, needle):
    with pytest.raises(PromptError, match="answer.txt") as e:
        validate("answer", text, PROMPTS_DIR / "answer.txt")
    assert needle in str(e.value)


def test_prompt_folder_with_a_broken_file_fails_to_load(tmp_path):
    for name in ("system", "answer", "rewrite", "decide"):
        (tmp_path / f"{name}.txt").write_text((PROMPTS_DIR / f"{name}.txt").read_text())
    (tmp_path / "rewrite.txt").write_text("Rewrite {question} using {histroy}")
    with pytest.raises(PromptError, match=r"rewrite\.txt: unknown variable\(s\) histroy"):
        load_prompts(tmp_path)


def test_source_block_carries_number_kind_title_and_poster_metadata():
    ch = Chunk("poster:1", "poster", "FooServe", "FooServe cuts latency.",
               {"authors": ["Ada Lovelace"], "institutions": ["Amazon"], "table_row": "poster"})
    block = format_source(3, Hit(ch, 1.0))
    assert block.splitlines()[0] == "[3] (poster abstract) FooServe"
    assert "Authors: Ada Lovelace" in block and "Institutions: Amazon" in block


def test_a_label_naming_a_sources_other_name_passes_the_check():
    """A reviewed link gives the poster another name; the answer may call it by both and still cite the poster."""
    from rag.grounding import check_answer

    ch = Chunk("poster:1", "poster", "FooServe: Fast Serving", "FooServe cuts p99 latency by 2.1x on vLLM traces.",
               {"name": "FooServe", "aliases": ["BarCache"], "table_row": "poster"})
    block = format_source(1, Hit(ch, 1.0))
    assert "Also called: BarCache" in block
    checked = check_answer("FooServe (called BarCache in the poster notes): FooServe cuts p99 latency by 2.1x on vLLM "
                           "traces [1].", [block], "How much does FooServe cut latency?", lambda s: False, 0.5, "")
    assert checked.failed == 0 and checked.cited, checked.unsupported


# ---- citation parsing and checking ------------------------------------------------------------------------------

@pytest.mark.parametrize("body,expected", [("1", [1]), ("1, 3", [1, 3]), ("source 2", [2]), ("2-4", [2, 3, 4]),
                                           ("1; 1", [1]), ("3–1", [3])])
def test_parse_markers(body, expected):
    assert parse_markers(body) == expected


def test_split_claims_moves_markers_after_the_full_stop_onto_their_sentence():
    claims = split_claims("Foo is fast. [1] Bar is slow [2, 3].\n- Baz works [source 1].")
    assert claims == [("Foo is fast.", [1]), ("Bar is slow.", [2, 3]), ("Baz works.", [1])]


def test_supported_answer_is_kept_and_markers_renumbered_by_first_use():
    c = check_answer("BarTrain trains bar models on 1024 TPUs [2]. FooServe cuts latency by 30% [1].", SOURCES,
                     "q", generic)
    assert c.text == "BarTrain trains bar models on 1024 TPUs [1]. FooServe cuts latency by 30% [2]."
    assert c.cited == [2, 1] and c.failed == 0 and not c.unsupported


@pytest.mark.parametrize("answer,reason", [
    ("FooServe cuts latency by 45% [1].", "number 45"),
    ("FooServe runs on H100 GPUs [1].", "name H100"),
    ("FooServe was designed by Initech [1].", "name Initech"),
    ("FooServe revolutionises distributed quantum annealing pipelines [1].", "of its words"),
])
def test_unsupported_claims_are_reported_with_the_reason(answer, reason):
    c = check_answer(answer, SOURCES, "What does FooServe do?", generic)
    assert c.cited == [] and c.failed == 1
    assert reason in c.unsupported[0]


def test_markers_to_missing_sources_are_dropped_and_uncited_claims_get_their_source():
    c = check_answer("FooServe uses a paged cache [7]. BarTrain trains bar models on 1024 TPUs.", SOURCES, "q", generic)
    assert c.dropped_markers == [7]
    # Both sentences lacked a valid marker; each got the one source that supports it.
    assert c.repaired == 2 and c.cited == [1, 2] and c.failed == 0
    assert c.text == "FooServe uses a paged cache [1]. BarTrain trains bar models on 1024 TPUs [2]."
    c = check_answer("Zorblax is built by Initech [7].", SOURCES, "q", generic)
    assert c.failed == 1 and c.cited == [] and c.dropped_markers == [7]


def test_refusal_is_detected_and_connectives_are_not_claims():
    assert check_answer(REFUSAL_TEXT, SOURCES, "q", generic).refused
    c = check_answer("In short: FooServe cuts latency by 30% [1].", SOURCES, "q", generic)
    assert c.cited == [1] and c.claims == 1
    c = check_answer("Here is the answer: BarTrain trains bar models on 1024 TPUs [2].", SOURCES, "q", generic)
    assert c.failed == 0 and c.claims == 1


# ---- follow-ups and mode -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("question,expected", [
    ("and who wrote it?", "Who wrote FlashInfer?"),
    ("What are its authors?", "What are FlashInfer's authors?"),
    ("speedup?", "Speedup of FlashInfer?"),
])
def test_offline_follow_up_rewrite_carries_the_subject(question, expected):
    history = [("What speedup does FlashInfer report?", "FlashInfer: 29-69% lower latency [1].")]
    assert rewrite(question, history) == expected


def test_standalone_questions_are_not_rewritten():
    history = [("What speedup does FlashInfer report?", "...")]
    assert not is_follow_up("How many posters are from Google?")
    assert rewrite("How does BLASST pick its threshold?", history) == "How does BLASST pick its threshold?"
    assert rewrite("Who wrote it?", [("Which paper won the Best Paper award?", "BLASST: It won [1].")]) == "Who wrote BLASST?"


def test_mode_comes_from_the_environment_and_never_shows_the_key(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert llm_status().mode == "extractive"
    assert llm_status(mode="llm").mode == "extractive" and "requested" in llm_status(mode="llm").reason
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    s = llm_status()
    assert s.mode == "llm" and s.base_url == "https://api.openai.com/v1" and KEY not in repr(s)
    assert llm_status(mode="extractive").mode == "extractive"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:hunter2@127.0.0.1:8080/v1?token=abc")
    assert llm_status().base_url == "http://127.0.0.1:8080/v1"
    assert redact_url("https://a:b@host/v1") == "https://host/v1"
    with pytest.raises(ValueError):
        llm_status(mode="magic")


# ---- end to end over a loopback endpoint ---------------------------------------------------------------------------

@pytest.fixture
def fake(monkeypatch):
    with serving(FakeLLM(), monkeypatch, KEY) as server:
        yield server


@pytest.fixture
def llm_settings(real_settings):
    return real_settings.updated(llm_timeout=3.0, llm_max_retries=2)


QUESTION = "How much does NexSpec speed up RL training?"


@pytest.mark.slow
def test_grounded_llm_answer_is_used_with_checked_citations(fake, llm_settings):
    a = ask(QUESTION, settings=llm_settings)
    assert a.mode == "llm" and not a.refused, a.notes
    assert a.citations and a.citations[0].marker == 1 and "[1]" in a.text
    assert a.citations[0].chunk_id == a.contexts[0].chunk.id
    assert a.citations[0].sentence and a.citations[0].sentence in a.citations[0].text
    assert a.prompt_hash == load_prompts().hash and a.index_fingerprint
    sent = fake.requests[-1]
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"
    assert sent["body"]["model"] == llm_settings.llm.llm_model and sent["body"]["stream"] is True
    assert "Question: " + QUESTION in sent["body"]["messages"][1]["content"]
    assert KEY not in json.dumps(a.to_dict())


@pytest.mark.slow
def test_stream_yields_pieces_then_the_checked_answer(fake, llm_settings):
    items = list(ask_stream(QUESTION, settings=llm_settings))
    pieces, final = items[:-1], items[-1]
    assert len(pieces) > 3 and all(isinstance(p, str) for p in pieces)
    assert final.mode == "llm" and "".join(pieces).strip().rstrip(".").startswith(final.text.split(" [1]")[0][:30])


@pytest.mark.slow
@pytest.mark.parametrize("behaviour", ["hallucinate", "nocite"])
def test_ungrounded_llm_answers_fall_back_to_extractive(fake, llm_settings, behaviour):
    fake.behaviour = behaviour
    a = ask(QUESTION, settings=llm_settings)
    assert a.mode == "extractive" and a.citations and "4.5x" in a.text
    assert any("The LLM's answer was not used: its answer cited no source that supports it" in n for n in a.notes)
    assert a.unsupported  # the model's text is kept for inspection, never shown as grounded
    assert "97.3" not in a.text


@pytest.mark.slow
def test_marker_to_a_missing_source_is_repaired_to_the_source_that_supports_it(fake, llm_settings):
    fake.behaviour = "badmarker"
    a = ask(QUESTION, settings=llm_settings)
    assert a.mode == "llm" and "[9]" not in a.text and "[1]" in a.text
    assert a.citations[0].chunk_id == a.contexts[0].chunk.id
    assert any("do not exist: [9]" in n for n in a.notes) and any("Added the supporting source" in n for n in a.notes)


@pytest.mark.slow
def test_llm_refusal_is_reported_as_refused(fake, llm_settings):
    fake.behaviour = "refuse"
    a = ask("What is the registration fee for FIFA 2026?", settings=llm_settings)
    assert a.refused and a.mode == "llm" and a.text == REFUSAL_TEXT and not a.citations


@pytest.mark.slow
@pytest.mark.parametrize("behaviour,expected_requests", [
    ("http500", 3), ("http429", 3), ("empty", 1), ("garbage", 1), ("cut", 1), ("hang", 1),
])
def test_endpoint_faults_end_in_a_grounded_answer_within_the_timeout(fake, llm_settings, behaviour, expected_requests):
    fake.behaviour, fake.hang_seconds = behaviour, 10.0
    t = time.monotonic()
    a = ask(QUESTION, settings=llm_settings)
    elapsed = time.monotonic() - t
    assert elapsed < llm_settings.llm.llm_timeout + 1.0, elapsed
    assert a.mode == "extractive" and a.citations and "4.5x" in a.text
    assert any("LLM" in n for n in a.notes) and KEY not in " ".join(a.notes)
    assert len(fake.requests) == expected_requests
    fake.behaviour = "quote"  # nothing is left in a bad state for the next question
    assert ask(QUESTION, settings=llm_settings).mode == "llm"


@pytest.mark.slow
def test_unreachable_endpoint_falls_back_quickly(monkeypatch, llm_settings):
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{refused_port()}/v1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    t = time.monotonic()
    a = ask(QUESTION, settings=llm_settings)
    assert time.monotonic() - t < llm_settings.llm.llm_timeout + 1.0
    assert a.mode == "extractive" and any("could not be reached" in n for n in a.notes)


@pytest.mark.slow
def test_forced_modes(fake, llm_settings, monkeypatch):
    assert ask(QUESTION, mode="extractive", settings=llm_settings).mode == "extractive"
    assert not fake.requests
    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    a = ask(QUESTION, mode="llm", settings=llm_settings)
    assert a.mode == "extractive" and any("no LLM is configured" in n for n in a.notes)


@pytest.mark.slow
def test_follow_up_in_llm_mode_is_rewritten_before_retrieval(fake, llm_settings):
    history = [(QUESTION, "NexSpec reaches a 4.5x speedup [1].")]
    a = ask("and who are its authors?", history=history, settings=llm_settings)
    # The scripted model's rewrite is unusable, so the offline rewrite is used, and said so.
    assert a.rewritten_question == "Who are NexSpec's authors?"
    assert any("rewritten offline" in n for n in a.notes)
    assert any("NexSpec" in h.chunk.title for h in a.contexts[:3])


@pytest.mark.slow
def test_exact_routes_do_not_call_the_llm(fake, llm_settings):
    a = ask("How many posters are from Google?", settings=llm_settings)
    assert a.route == "structured" and not fake.requests


def test_sentences_that_say_nothing_of_their_own_are_dropped():
    """Weak models parrot the question, the source headers and the instructions; none of that is a claim."""
    instructions = "Answer in two to five sentences, with a [n] citation after every sentence."
    answer = ("Question: What does FooServe do [1]? (Poster abstract) FooServe [1]. "
              "Answer in two to five sentences, with a citation after every sentence [1]. "
              "FooServe uses a paged cache [1].")
    c = check_answer(answer, SOURCES, "What does FooServe do?", generic, instructions=instructions)
    assert c.text == "FooServe uses a paged cache [1]."
    reasons = " ".join(c.unsupported)
    assert "a question, not an answer" in reasons and "restates the question or a source's title" in reasons
    assert "repeats the instructions" in reasons and c.failed == 3 and c.claims == 4


def test_invented_links_fail_and_stray_markup_is_not_prose():
    src = ["[1] (poster abstract) FooServe\nFooServe cuts latency by 30% on A100 GPUs. Code: https://github.com/foo/serve"]
    c = check_answer("FooServe's code is at https://github.com/foo/serve [1]. A demo is at https://youtu.be/x1 [1].\n</pre>",
                     src, "Where is FooServe's code?", generic)
    assert c.text == "FooServe's code is at https://github.com/foo/serve [1]."
    assert "link https://youtu.be/x1 not in the cited source" in c.unsupported[0]


def test_a_long_chain_of_follow_ups_still_resolves_to_the_first_subject():
    history = [("What speedup does FlashInfer report?", "FlashInfer: 29-69% lower latency [1].")]
    history += [("and who wrote it?", "Its authors are A and B [1].")] * 30  # each step looks back once, not 2**n times
    assert rewrite("and what about its speed?", history) == "What about FlashInfer's speed?"


def test_decide_judges_only_the_extractive_draft_and_a_no_is_a_refusal(fake, llm_settings):
    settings = llm_settings.updated(llm_strategy="decide")
    fake.behaviour = "yes"
    a = ask(QUESTION, settings=settings)
    assert a.mode == "llm" and not a.refused and a.citations
    prompt = fake.requests[-1]["body"]["messages"][-1]["content"]
    # The model sees the draft's cited sentences under their titles, not whole passages: a short prompt.
    assert all(c.title in prompt for c in a.citations) and prompt.count("<source id=") == len(a.citations)
    assert all(sentence.split(" [")[0][:40] in prompt for sentence in a.text.split(". ") if sentence.strip())
    assert len(prompt) < 2500
    fake.behaviour = "no"
    refused = ask(QUESTION, settings=settings)
    assert refused.refused and refused.mode == "llm"
    assert any("do not answer" in n for n in refused.notes)
