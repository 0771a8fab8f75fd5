"""The Chat view: streamed answers whose [n] links open the cited span in the Sources panel."""
from __future__ import annotations

import logging
import queue
import threading

import gradio as gr

from .. import render
from ..errors import InputError
from .common import EXAMPLE_QUESTION, article_choices, bind, examples_now, filters_from, sources

log = logging.getLogger("rag.ui")
PANEL_TURNS = 20            # questions whose sources stay in the panel (older [n] links go stale)
STREAM_WORDS = 6            # an extractive answer arrives whole; it is shown this many words at a time


def history_turns(turns: list[dict]) -> list[dict]:
    """Earlier turns in the shape `Pipeline.ask(history=...)` takes: [{"question","answer"}]."""
    return [{"question": t["question"], "answer": t["answer"]} for t in turns]


def ask_streaming(pipeline, question: str, filters, turns: list[dict]):
    """Run `pipeline.ask` in a worker thread; yields ("token", text) while a generative backend
    streams, then ("answer", Answer) or ("error", exception)."""
    tokens: queue.Queue = queue.Queue()

    def work():
        try:
            answer = pipeline.ask(question, filters=filters, history=history_turns(turns),
                                  on_token=lambda text: tokens.put(("token", text)))
            tokens.put(("answer", answer))
        except Exception as exc:  # handed to the UI thread, which decides what to show
            tokens.put(("error", exc))

    threading.Thread(target=work, daemon=True, name="rag-ask").start()
    while True:
        kind, value = tokens.get()
        yield kind, value
        if kind != "token":
            return


def turn_record(turn: int, answer) -> dict:
    """What the session keeps of one answered question (the Sources panel is drawn from it)."""
    return {"turn": turn, "question": answer.question, "answer": answer.text,
            "standalone": answer.standalone_question,
            "citations": [c.to_dict() for c in answer.citations], "notice": answer.notice}


def error_text(exc: BaseException) -> str:
    """A user's mistake is shown as it is; anything else is logged and shown as a failure."""
    if isinstance(exc, InputError):
        return str(exc)
    log.error("question failed", exc_info=exc)
    return f"the question could not be answered ({type(exc).__name__}: {exc})"


def respond(pipeline, message, history, turns, article_ids, source, since, until):
    history, turns = list(history or []), list(turns or [])
    panel = render.sources_panel(turns, pipeline.article_text)
    if not (message or "").strip():
        yield history, panel, "", turns
        return
    history.append({"role": "user", "content": render.user_html(message)})
    history.append({"role": "assistant",
                    "content": render.notice_html("Searching the archive…", final=False)})
    yield history, panel, "", turns
    turn = (turns[-1]["turn"] + 1) if turns else 1
    streamed = ""
    try:
        filters = filters_from(article_ids, source, since, until)
    except InputError as exc:
        history[-1]["content"] = render.notice_html(f"⚠️ {exc}")
        yield history, panel, message, turns
        return
    answer = None
    for kind, value in ask_streaming(pipeline, message, filters, turns):
        if kind == "token":                 # a generative backend streams its words
            streamed += value
            history[-1]["content"] = render.answer_html(streamed, turn, final=False)
            yield history, panel, "", turns
        elif kind == "error":
            history[-1]["content"] = render.notice_html(f"⚠️ {error_text(value)}")
            yield history, panel, message, turns
            return
        else:
            answer = value
    turns = (turns + [turn_record(turn, answer)])[-PANEL_TURNS:]
    panel = render.sources_panel(turns, pipeline.article_text)
    if not streamed:
        words = answer.text.split(" ")
        for i in range(STREAM_WORDS, len(words), STREAM_WORDS):
            history[-1]["content"] = render.answer_html(" ".join(words[:i]), turn, final=False)
            yield history, panel, "", turns
    history[-1]["content"] = render.answer_html(answer.text, turn)
    yield history, panel, "", turns


def clear_chat(pipeline):
    return [], render.sources_panel([], pipeline.article_text), "", []


def ask_api(pipeline, question: str, article_id: str = "", source: str = "", since: str = "",
            until: str = "") -> dict:
    """One question -> the same JSON as `python -m rag ask --json`."""
    try:
        ids = [article_id] if article_id else []
        return pipeline.ask(question, filters=filters_from(ids, source, since, until)).to_dict()
    except InputError as exc:
        return {"error": str(exc)}


def tab(pipeline) -> dict:
    """Lay out the Chat tab and wire it (each answer saved to the session's conversation, 👍/👎
    on answers: rag/ui/conversations.py); returns the components other views use."""
    from . import conversations
    turns = gr.State([])
    conversation = gr.State(None)
    with gr.Row():
        with gr.Column(scale=3):
            chat = gr.Chatbot(label="Chat", height=460, sanitize_html=True,
                              latex_delimiters=[], elem_id="chat")
            box = gr.Textbox(label="Question", placeholder=EXAMPLE_QUESTION,
                             elem_id="question", submit_btn=False)
            with gr.Row():
                send = gr.Button("Ask", variant="primary", elem_id="ask")
                clear = gr.Button("Clear chat", elem_id="clear")
            with gr.Row():
                note = gr.Textbox(label="Note sent with your thumbs up / down on an answer (optional)",
                                  elem_id="feedback-note", scale=3)
                feedback_msg = gr.Markdown(elem_id="feedback-msg")
            examples = gr.Examples(examples_now(pipeline), inputs=box, label="Try")
            with gr.Accordion("Filters: articles, source, dates", open=False):
                f_articles = gr.Dropdown(choices=article_choices(pipeline), multiselect=True,
                                         label="Only these articles", elem_id="f-articles")
                f_source = gr.Dropdown(choices=sources(pipeline), value="", label="Source",
                                       elem_id="f-source")
                with gr.Row():
                    f_since = gr.Textbox(label="From (YYYY-MM-DD)", elem_id="f-since")
                    f_until = gr.Textbox(label="Until (YYYY-MM-DD)", elem_id="f-until")
        with gr.Column(scale=2):
            gr.Markdown("**Sources**")
            panel = gr.HTML(render.sources_panel([], pipeline.article_text), elem_id="sources")
    chat_in = [box, chat, turns, f_articles, f_source, f_since, f_until, conversation]
    chat_out = [chat, panel, box, turns, conversation]
    answered = [send.click(bind(conversations.respond, pipeline), chat_in, chat_out,
                           api_name="chat"),
                box.submit(bind(conversations.respond, pipeline), chat_in, chat_out,
                           api_visibility="private")]
    new = bind(conversations.new_conversation, pipeline)
    clear.click(new, None, chat_out, api_visibility="private")
    chat.clear(new, None, chat_out, api_visibility="private")
    chat.like(bind(conversations.on_like, pipeline), [chat, conversation, note],
              [feedback_msg, note], api_visibility="private")
    return {"chat": chat, "panel": panel, "box": box, "turns": turns, "examples": examples,
            "f_articles": f_articles, "f_source": f_source, "conversation": conversation,
            "chat_out": chat_out, "answered": answered}
