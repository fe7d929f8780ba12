"""The chat page: a Gradio Blocks app over `rag.ask_stream` (no retrieval or answering logic of its own).

    from ui.app import build_app, launch
    launch(host="127.0.0.1", port=7860)            # what `rag ui` runs
    build_app(settings).queue(default_concurrency_limit=2).launch(prevent_thread_lock=True)   # tests

Answers stream in as they are generated, then are replaced by the citation-checked final answer with footnote
links and a sources panel. The chat history (question, answer text) is kept per browser session and passed to
`ask_stream` so follow-up questions work.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Gradio reads matplotlib's backend around every event when matplotlib is installed; unset, that resolves the
# backend by importing pyplot during the first question (0.2 s on an idle 2-core machine). The server is headless.
os.environ.setdefault("MPLBACKEND", "agg")

import gradio as gr  # noqa: E402

import rag  # noqa: E402
from rag.collection import collection_for  # noqa: E402
from rag.pipeline import warm_up  # noqa: E402
from rag.types import Answer, Retrieved  # noqa: E402

from . import render  # noqa: E402
from .ticking import ticking  # noqa: E402

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
CSS = (HERE / "style.css").read_text(encoding="utf-8")
CONCURRENCY = 2          # answers computed at once (2-core machine); the rest wait in the queue, in order
QUEUE_SIZE = 64          # beyond this, new requests get Gradio's "queue is full" message
MODES = [("Auto", "auto"), ("LLM", "llm"), ("Offline extractive", "extractive")]

# Offered when the collection's collection.toml lists no examples of its own.
DEFAULT_EXAMPLES = [
    "How many papers are there?",
    "Which institutions have the most papers?",
    "Which authors have the most papers?",
]


def examples_for(collection) -> list[str]:
    """The questions the page offers to try: the collection's own, else questions any paper list answers."""
    return list(collection.examples) or DEFAULT_EXAMPLES


def placeholder_html(collection) -> str:
    """The empty chat's welcome: what the collection is and how answers are built."""
    return (f'<div class="rag-welcome"><div class="rag-welcome-title">Ask about {render.esc(collection.name)}</div>'
            f"<div>Answers are built from {render.esc(collection.description)}. Every sentence links to the passage "
            "it came from, and when the documents don’t say, the assistant says so.</div></div>")


def header_html(collection) -> str:
    """The sidebar's header: the collection's name."""
    return (f'<div class="rag-header"><div class="rag-logo">{render.esc(collection.name)}</div>'
            '<div class="rag-tagline">Cited answers from the documents</div></div>')


def _theme() -> gr.themes.Base:
    """System fonts only (nothing is fetched from a font CDN), a calm indigo/slate palette."""
    sans = ["system-ui", "-apple-system", "'Segoe UI'", "Roboto", "'Helvetica Neue'", "'Noto Sans'",
            "'Liberation Sans'", "Arial", "sans-serif"]
    mono = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "'Liberation Mono'", "monospace"]
    return gr.themes.Default(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate",
                             radius_size="md", font=sans, font_mono=mono).set(
        body_background_fill="#f5f6fa",
        block_border_width="0px",
        block_shadow="none",
    )


class ChatApp(gr.Blocks):
    """gr.Blocks whose launch() applies this app's theme, CSS and quiet defaults unless the caller overrides them.

    Gradio 6 takes theme/css in launch(), so `build_app().queue().launch(...)` must still get them.
    """

    def launch(self, *args: Any, **kwargs: Any):  # noqa: D102
        kwargs.setdefault("theme", _theme())
        kwargs.setdefault("css", CSS)
        kwargs.setdefault("footer_links", [])
        kwargs.setdefault("show_error", False)
        kwargs.setdefault("favicon_path", None)
        return super().launch(*args, **kwargs)


def _new_state() -> dict:
    """Per-session conversation: rendered chat messages and (question, answer text) pairs for follow-ups."""
    return {"messages": [], "history": [], "turn": 0}


def _status(settings: rag.Settings, mode: str | None = None):
    """`rag.llm_status` for the page's mode choice (None = the configured default); None if it fails."""
    try:
        if mode in ("auto", "llm", "extractive"):
            return rag.llm_status(settings, mode=mode)
        return rag.llm_status(settings)
    except Exception:  # the indicator must never break the page
        log.exception("llm_status failed")
        return None


def _status_html(settings: rag.Settings, mode: str | None = None) -> str:
    st = _status(settings, mode)
    if st is None:
        return render.render_status("extractive", None, "Could not determine the answer mode; see the server log.")
    return render.render_status(st.mode, st.model, st.reason, st.base_url)


def _msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def _begin(question: Any, state: dict | None, settings: rag.Settings):
    """Validate the question and add its bubble plus a pending answer bubble.

    Returns (messages, state, textbox value, question or None); None means a message was shown instead.
    """
    state = state if state and "messages" in state else _new_state()
    messages: list[dict] = list(state["messages"])
    q = question if isinstance(question, str) else ("" if question is None else str(question))
    if not q.strip():
        example = examples_for(collection_for(settings.corpus_dir))[0]
        messages.append(_msg("assistant", render.render_message(
            "Please type a question.", f"For example: “{example}”", kind="info")))
        return messages, {**state, "messages": messages}, "", None
    limit = settings.answer.max_question_chars
    if len(q.strip()) > limit:
        messages.append(_msg("user", render.render_user(q)))
        messages.append(_msg("assistant", render.render_message(
            "That question is too long.",
            f"It has {len(q.strip()):,} characters; the limit is {limit:,}. Please shorten it to the question "
            "itself.", kind="info")))
        return messages, {**state, "messages": messages}, q, None
    messages.append(_msg("user", render.render_user(q)))
    messages.append(_msg("assistant", render.render_pending(collection_for(settings.corpus_dir).name)))
    return messages, {**state, "messages": messages}, "", q


def _finish(q: str, k: Any, mode: Any, state: dict, settings: rag.Settings):
    """Stream the answer into the last (pending) bubble; yields (messages, state, textbox value)."""
    messages: list[dict] = list(state["messages"])
    try:
        k_val = max(1, min(int(k), 50)) if k is not None else None
    except (TypeError, ValueError):
        k_val = None
    if mode in ("llm", "extractive"):
        mode_val = mode
    else:  # "auto": the API's default (None) unless the settings pin another mode (RAG_MODE)
        mode, mode_val = "auto", (None if settings.llm.mode == "auto" else "auto")
    history = [tuple(p) for p in state["history"]]
    turn = state["turn"] + 1
    st = _status(settings, mode)
    expected = "llm" if mode == "llm" else (st.mode if st is not None else None)
    model = st.model if st is not None else None
    streamed, hits = "", []
    answer: Answer | None = None
    started = time.monotonic()
    try:
        items = rag.ask_stream(q, history=history, mode=mode_val, k=k_val, settings=settings, sources=True)
        for item in ticking(items):
            if isinstance(item, Retrieved):
                hits = item.hits
            elif isinstance(item, str):
                streamed += item
            elif isinstance(item, Answer):
                answer = item
                continue
            if expected == "llm":  # the time so far and the passages found, while the model reads and writes
                bubble = render.render_streaming(streamed, elapsed=time.monotonic() - started, hits=hits,
                                                 model=model, prefix=f"s{turn}")
            elif item is None or not streamed:
                continue
            else:
                bubble = render.render_streaming(streamed)
            messages = messages[:-1] + [_msg("assistant", bubble)]
            yield messages, {**state, "messages": messages}, gr.skip()
        if answer is None:
            raise RuntimeError("ask_stream ended without a final answer")
        final = render.render_answer(answer, prefix=f"a{turn}", expected_mode=expected, model=model)
        history = history + [(q.strip(), answer.text)]
    except rag.QuestionError as e:
        final = render.render_message("That question can’t be answered as asked.", str(e).capitalize() + ".",
                                      kind="info")
    except Exception as e:  # never a traceback or a blank bubble in the chat
        from rag.index import IndexError_

        if isinstance(e, IndexError_):  # the message names the fix (rag build --force)
            log.error("index problem: %s", e)
            final = render.render_message("The search index can’t be used.", str(e), kind="error")
            messages = messages[:-1] + [_msg("assistant", final)]
            yield messages, {"messages": messages, "history": history, "turn": turn}, gr.skip()
            return
        log.exception("answering %r failed", q[:200])
        final = render.render_message(
            "Something went wrong while answering.",
            f"The error ({type(e).__name__}) was logged on the server. Please try again, or rephrase the question.",
            kind="error")
    messages = messages[:-1] + [_msg("assistant", final)]
    yield messages, {"messages": messages, "history": history, "turn": turn}, gr.skip()


def make_handlers(settings: rag.Settings):
    """(respond, prepare, resume): the one-step API handler and the two UI steps around the queue.

    `respond(question, k, mode, state)` does everything (the `/ask` API endpoint). In the page, `prepare` runs
    outside the queue so the question and a pending bubble appear at once, and `resume` streams the answer
    through the queue (shared concurrency limit) once a slot is free.
    """

    def respond(question: Any, k: Any, mode: Any, state: dict | None):
        messages, state, box, q = _begin(question, state, settings)
        yield messages, state, box
        if q is not None:
            yield from _finish(q, k, mode, state, settings)

    def prepare(question: Any, state: dict | None):
        messages, state, box, q = _begin(question, state, settings)
        return messages, {**state, "pending": q}, box

    def resume(k: Any, mode: Any, state: dict | None):
        q = (state or {}).get("pending")
        if not q:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        yield from _finish(q, k, mode, {**state, "pending": None}, settings)

    return respond, prepare, resume


def build_app(settings: rag.Settings | None = None) -> gr.Blocks:
    """The chat page. `settings` (default `rag.Settings()`) is passed to every `ask_stream` call."""
    settings = settings or rag.Settings()
    respond, prepare, resume = make_handlers(settings)
    collection = collection_for(settings.corpus_dir)

    with ChatApp(title=f"{collection.name} · cited answers", analytics_enabled=False) as demo:
        state = gr.State(_new_state())
        with gr.Row(equal_height=False, elem_classes="rag-layout"):
            with gr.Column(scale=1, min_width=270, elem_classes="rag-sidebar"):
                gr.HTML(header_html(collection))
                status = gr.HTML(_status_html(settings, settings.llm.mode), elem_id="rag-status")
                gr.HTML('<div class="rag-side-title">Try asking</div>')
                example_buttons = [
                    gr.Button(q, size="sm", variant="secondary", elem_classes="rag-example")
                    for q in examples_for(collection)
                ]
                with gr.Accordion("Answer settings", open=False, elem_classes="rag-settings"):
                    k = gr.Slider(1, 10, value=min(max(settings.retrieval.k, 1), 10), step=1, label="Passages to retrieve (k)")
                    mode = gr.Radio(MODES, value=settings.llm.mode, label="Answer mode",
                                    info="Auto uses the LLM when one is configured, else the offline answerer.")
                clear = gr.Button("New conversation", size="sm", variant="secondary", elem_id="rag-clear")
            with gr.Column(scale=3, min_width=420, elem_classes="rag-main"):
                chatbot = gr.Chatbot(
                    value=[], elem_id="rag-chat", show_label=False, height="calc(100vh - 140px)", min_height=420,
                    render_markdown=False, sanitize_html=True, allow_tags=False, latex_delimiters=[],
                    feedback_options=None, buttons=[], placeholder=placeholder_html(collection), layout="bubble",
                    group_consecutive_messages=False, autoscroll=True,
                )
                with gr.Row(elem_classes="rag-inputrow"):
                    box = gr.Textbox(placeholder=f"Ask a question about {collection.name}…",
                                     show_label=False, lines=1, max_lines=6, scale=8, autofocus=True,
                                     elem_id="rag-input", container=False)
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="rag-send")
                    stop = gr.Button("Stop", variant="stop", scale=1, min_width=70, elem_id="rag-stop")

        outputs = [chatbot, state, box]
        # The API endpoint (/ask) does it all in one call; it hangs off a hidden button so the page's own
        # triggers can use the two-step prepare/resume below.
        api_button = gr.Button(visible=False, elem_id="rag-api")
        api_button.click(respond, [box, k, mode, state], outputs, api_name="ask", concurrency_id="answer",
                         show_progress="hidden")
        # While an answer is on its way the input and the question buttons are locked, so a second question
        # cannot race the first one for the conversation state.
        lockable = [box, send, *example_buttons]

        def prepare_ui(question, st):
            messages, st, box_value = prepare(question, st)
            busy = st.get("pending") is not None
            return [messages, st, gr.update(value=box_value, interactive=not busy)] + \
                [gr.update(interactive=not busy)] * (len(lockable) - 1)

        def unlock():
            return [gr.update(interactive=True)] * len(lockable)

        running = []
        triggers = [(box.submit, box), (send.click, box)] + [(b.click, b) for b in example_buttons]
        for trigger, source in triggers:
            answering = trigger(prepare_ui, [source, state], [chatbot, state, *lockable], api_visibility="private",
                                queue=False, show_progress="hidden").then(
                resume, [k, mode, state], outputs, api_visibility="private", concurrency_id="answer",
                show_progress="minimal", show_progress_on=[box])  # queue position / timer, small, in the input
            answering.then(unlock, None, lockable, api_visibility="private", queue=False, show_progress="hidden")
            running.append(answering)

        def _clear():
            return [[], _new_state()] + [gr.update(value="", interactive=True)] + \
                [gr.update(interactive=True)] * (len(lockable) - 1)

        def _stop(st):
            st = st if st and "messages" in st else _new_state()
            messages = list(st["messages"])
            if messages and messages[-1]["role"] == "assistant" and \
                    any(c in messages[-1]["content"] for c in ("rag-pending", "rag-streaming")):
                messages[-1] = _msg("assistant", render.render_message(
                    "Stopped.", "You stopped this answer before its citations were checked, so none of it is shown.",
                    kind="info"))
            return [messages, {**st, "messages": messages, "pending": None}] + [gr.update(interactive=True)] * len(lockable)

        # Stop ends the answer on its way (the model stops generating when its stream is closed).
        stop.click(_stop, [state], [chatbot, state, *lockable], api_visibility="private", queue=False, cancels=running)
        # Starting over also stops an answer that is still streaming.
        clear.click(_clear, None, [chatbot, state, *lockable], api_visibility="private", queue=False, cancels=running)
        chatbot.clear(_clear, None, [chatbot, state, *lockable], api_visibility="private", queue=False,
                      cancels=running)
        demo.load(lambda m: _status_html(settings, m), mode, status, api_visibility="private", queue=False)
        mode.change(lambda m: _status_html(settings, m), mode, status, api_visibility="private", queue=False)
    return demo


def launch(host: str = "127.0.0.1", port: int = 7860, share: bool = False, settings: rag.Settings | None = None):
    """Start the chat page and block (what `rag ui` calls)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = settings or rag.Settings()
    threading.Thread(target=warm_up, args=(settings,), name="rag-warm-up", daemon=True).start()
    demo = build_app(settings).queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    demo.launch(server_name=host, server_port=port, share=share, prevent_thread_lock=True)
    _import_matplotlib()  # the page is up; take this off the first question
    demo.block_thread()


def _import_matplotlib() -> None:
    """Import matplotlib now if it is installed: Gradio imports it on the first event otherwise (benchmarks and
    the evaluation report install it)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pass
