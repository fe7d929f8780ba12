"""Unit and property tests of the pure text helpers."""
from hypothesis import given, settings as hsettings, strategies as st

from rag.text import clean_latex, content_tokens, normalize_question, numbers_in, split_sentences, tokenize


def test_clean_latex_turns_escapes_into_unicode():
    assert clean_latex(r"cuts 30\% and 1.7$\times$ faster") == "cuts 30% and 1.7× faster"
    assert clean_latex(r"\textbf{bold} and \emph{it} with $\mathbf{26.7}\%$") == "bold and it with 26.7%"
    assert clean_latex(r"$R^2 \geq 0.76$ and $\sim$5") == "R^2 ≥ 0.76 and ~5"
    assert clean_latex("Korea &amp; Tech") == "Korea & Tech"


def test_clean_latex_replaces_custom_macros_with_the_system_name():
    assert clean_latex(r"Results show that \sys outperforms", macro_name="FooServe") == "Results show that FooServe outperforms"


def test_split_sentences_keeps_abbreviations_and_decimals():
    text = "We reach 1.7× speedups, e.g. on Llama. The next one is here! Finally a third."
    assert split_sentences(text) == ["We reach 1.7× speedups, e.g. on Llama.", "The next one is here!", "Finally a third."]


def test_tokenize_keeps_numbers_and_hyphenated_names():
    assert tokenize("FP8-Flow-MoE gets 1.7× on GPT-3.5") == ["fp8-flow-moe", "gets", "1.7", "on", "gpt-3.5"]


def test_content_tokens_drop_stopwords_and_stem():
    assert content_tokens("How much does NexSpec speed up RL training?") == ["nexspec", "speed", "rl", "train"]
    assert "win" in content_tokens("Which paper won?") and "win" in content_tokens("BLASST wins")


def test_numbers_in_normalises():
    assert numbers_in("1,000 GPUs and 2.50× and 30%") == {"1000", "2.5", "30"}


def test_normalize_question_cleans_and_truncates():
    q, notes = normalize_question("hi\x00 there\n\n what?", 2000)
    assert q == "hi there what?" and notes
    q, notes = normalize_question("word " * 1000, 100)
    assert len(q) <= 100 and any("truncated" in n for n in notes)


@hsettings(max_examples=200, deadline=None)
@given(st.text())
def test_normalize_question_never_crashes_and_is_idempotent(raw):
    q, _ = normalize_question(raw, 300)
    assert len(q) <= 300
    assert "\x00" not in q and "\n" not in q
    assert normalize_question(q, 300)[0] == q


@hsettings(max_examples=200, deadline=None)
@given(st.text())
def test_split_sentences_loses_no_words(text):
    joined = " ".join(split_sentences(text))
    assert joined.split() == " ".join(text.split()).split() or set(joined.split()) <= set(text.split())


def test_short_forms_a_text_defines_map_to_their_long_form_words():
    from rag.passage import short_forms

    forms = short_forms("It targets the Cosmos-Reason-1 (CR1) VLM and time to first token (TTFT).")
    assert set(forms) == {"CR1", "TTFT"}
    assert {"cosmos", "reason"} <= forms["CR1"]
    assert {"time", "first", "token"} <= forms["TTFT"]
