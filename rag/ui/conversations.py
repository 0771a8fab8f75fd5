"""Saved conversations and answer feedback in the UI: a sidebar to resume, rename, delete and
export conversations, the chat's 👍/👎 with an optional note, and the same over the API.

Every handler acts as the logged-in user (`gr.Request.username`; "" without RAG_AUTH) and
reaches the store only through `rag.conversations.Conversations`, which treats another user's
conversation exactly like a missing one. Each answered question is saved as it is answered.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import gradio as gr

from .. import render
from ..errors import InputError
from ..conversations import (Conversations, NotFound, answer_settings, cited, citation_status,
                             export_markdown)
from . import chat
from .common import bind

log = logging.getLogger("rag.ui")


def user_of(request: gr.Request | None) -> str:
    return (getattr(request, "username", None) or "") if request is not None else ""


def store_of(pipeline) -> Conversations:
    return Conversations.under(pipeline.settings.home)


def save_turn(pipeline, user: str, conversation: str | None, turn: dict) -> str:
    """Append an answered question to `conversation` (a new one if None or not this user's)."""
    store = store_of(pipeline)
    record = {**turn, "citations": cited(turn["citations"], pipeline.article_hash)}
    settings = answer_settings(pipeline.settings)
    if conversation:
        try:
            store.add_turn(user, conversation, record, settings)
            return conversation
        except NotFound:
            pass
    conversation = store.create(user, turn["question"])
    store.add_turn(user, conversation, record, settings)
    return conversation


def conversation_choices(pipeline, user: str) -> list[tuple[str, str]]:
    return [(f"{c['title']} ({render.plural(c['turns'], 'question')}, {c['updated'][:10]})",
             c["id"]) for c in store_of(pipeline).list(user)]


def resumed_turns(pipeline, conversation: dict) -> list[dict]:
    """Saved turns as the chat keeps them, each citation marked current, edited or deleted."""
    return [{**t, "citations": [{**c, "status": citation_status(c, pipeline.article_hash)}
                                for c in t["citations"]]}
            for t in conversation["turns"]]


# ---------------------------------------------------------------- chat with saving

def respond(pipeline, message, history, turns, article_ids, source, since, until, conversation,
            request: gr.Request):
    """`chat.respond`, and the answered question saved to the session's conversation."""
    before = turns[-1]["turn"] if turns else 0
    out = None
    for out in chat.respond(pipeline, message, history, turns, article_ids, source, since, until):
        yield (*out, conversation)
    answered = out[3] if out else []
    if answered and answered[-1]["turn"] > before:
        try:
            conversation = save_turn(pipeline, user_of(request), conversation, answered[-1])
        except Exception:      # the answer is shown either way; saving failed and says so
            log.exception("saving the conversation failed")
            history = list(out[0]) + [{"role": "assistant", "content": render.notice_html(
                "⚠️ This answer could not be saved to your conversations.")}]
            out = (history, *out[1:])
        yield (*out, conversation)


def new_conversation(pipeline):
    return (*chat.clear_chat(pipeline), None)


def resume(pipeline, conversation_id: str, request: gr.Request):
    """(chat history, sources panel, question box, turns, conversation id) of a saved one."""
    try:
        conv = store_of(pipeline).get(user_of(request), conversation_id)
    except NotFound as exc:
        return ([{"role": "assistant", "content": render.notice_html(f"⚠️ {exc}")}],
                render.sources_panel([], pipeline.article_text), "", [], None)
    turns = resumed_turns(pipeline, conv)
    history = []
    for t in turns:
        history.append({"role": "user", "content": render.user_html(t["question"])})
        history.append({"role": "assistant", "content": render.answer_html(t["answer"],
                                                                           t["turn"])})
    return (history, render.sources_panel(turns[-chat.PANEL_TURNS:], pipeline.article_text), "",
            turns[-chat.PANEL_TURNS:], conv["id"])


def rename(pipeline, conversation_id: str, title: str, request: gr.Request):
    user = user_of(request)
    try:
        store_of(pipeline).rename(user, conversation_id, title)
        msg = "Renamed."
    except (NotFound, InputError) as exc:
        msg = str(exc)
    return msg, gr.update(choices=conversation_choices(pipeline, user))


def delete(pipeline, conversation_id: str, current: str | None, request: gr.Request):
    user = user_of(request)
    if not conversation_id:       # nothing picked, or the confirmation was cancelled
        return "Nothing deleted.", gr.update(), current
    try:
        store_of(pipeline).delete(user, conversation_id)
        msg = "Deleted."
    except NotFound as exc:
        msg = str(exc)
    return (msg, gr.update(choices=conversation_choices(pipeline, user), value=None),
            None if current == conversation_id else current)


def export(pipeline, conversation_id: str, request: gr.Request):
    """(Markdown text, a downloadable .md file) of one of this user's conversations."""
    try:
        conv = store_of(pipeline).get(user_of(request), conversation_id)
    except NotFound as exc:
        return str(exc), None
    text = export_markdown(conv, pipeline.article_hash)
    folder = Path(tempfile.mkdtemp(prefix="rag-export-"))
    path = folder / f"conversation-{conv['id']}.md"
    path.write_text(text, encoding="utf-8")
    return text, str(path)


def refresh_list(pipeline, current: str | None, request: gr.Request):
    return gr.update(choices=conversation_choices(pipeline, user_of(request)), value=current)


# ---------------------------------------------------------------- feedback

def answered_turn_of(history: list[dict], index: int) -> int:
    """The turn number of the answer at chat `index`: answers (not notices) counted up to it."""
    return sum(1 for m in history[:index + 1] if m.get("role") == "assistant"
               and 'class="answer final"' in str(m.get("content")))


def whole_number(field: str, value) -> int:
    """An API field that must be a whole number (the JSON may carry it as text)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(f"{field}: expected a whole number, got {value!r}") from None


def give_feedback(pipeline, user: str, conversation_id: str, turn: int, rating: int,
                  note: str) -> int:
    """Store a rating of one saved answer with its question, answer, citations and settings."""
    store = store_of(pipeline)
    saved = store.get(user, conversation_id)
    match = [t for t in saved["turns"] if t["turn"] == int(turn)]
    if not match:
        raise NotFound(f"no answer {turn} in conversation {conversation_id!r}")
    return store.add_feedback(user, rating, note, match[0], match[0]["settings"],
                              conversation_id, int(turn))


def on_like(pipeline, history, conversation, note, evt: gr.LikeData, request: gr.Request):
    """The chat's 👍/👎 on an answer: stored with the note typed beside it."""
    if not isinstance(evt.liked, bool) or not conversation:   # nothing saved yet
        return "", note
    turn = answered_turn_of(history or [], evt.index if isinstance(evt.index, int)
                            else evt.index[0])
    try:
        give_feedback(pipeline, user_of(request), conversation, turn, 1 if evt.liked else -1,
                      note)
    except (NotFound, InputError) as exc:
        return str(exc), note
    return f"Thank you: thumbs {'up' if evt.liked else 'down'} recorded for answer {turn}.", ""


# ---------------------------------------------------------------- API (JSON)

def api_conversations(pipeline, request: gr.Request) -> list[dict]:
    return store_of(pipeline).list(user_of(request))


def api_conversation(pipeline, conversation_id: str, request: gr.Request) -> dict:
    try:
        conv = store_of(pipeline).get(user_of(request), conversation_id)
    except NotFound as exc:
        return {"error": str(exc)}
    return {**conv, "turns": resumed_turns(pipeline, conv)}


def api_export(pipeline, conversation_id: str, request: gr.Request) -> dict:
    try:
        conv = store_of(pipeline).get(user_of(request), conversation_id)
    except NotFound as exc:
        return {"error": str(exc)}
    return {"markdown": export_markdown(conv, pipeline.article_hash)}


def api_rename(pipeline, conversation_id: str, title: str, request: gr.Request) -> dict:
    try:
        store_of(pipeline).rename(user_of(request), conversation_id, title)
    except (NotFound, InputError) as exc:
        return {"error": str(exc)}
    return {"renamed": conversation_id}


def api_delete(pipeline, conversation_id: str, request: gr.Request) -> dict:
    try:
        store_of(pipeline).delete(user_of(request), conversation_id)
    except NotFound as exc:
        return {"error": str(exc)}
    return {"deleted": conversation_id}


def api_feedback(pipeline, conversation_id: str, turn: int, rating: int, note: str = "",
                 request: gr.Request = None) -> dict:
    """Rate answer `turn` of a saved conversation: rating 1 (👍) or -1 (👎), optional note."""
    try:
        turn, rating = whole_number("turn", turn), whole_number("rating", rating)
        return {"feedback_id": give_feedback(pipeline, user_of(request), conversation_id,
                                             turn, rating, note)}
    except (NotFound, InputError) as exc:
        return {"error": str(exc)}


def api_my_feedback(pipeline, request: gr.Request) -> list[dict]:
    return store_of(pipeline).feedback(user_of(request))


# ---------------------------------------------------------------- layout

API = ((api_conversations, "conversations"), (api_conversation, "conversation"),
       (api_export, "export_conversation"), (api_rename, "rename_conversation"),
       (api_delete, "delete_conversation"), (api_feedback, "feedback"),
       (api_my_feedback, "my_feedback"))


def sidebar(pipeline) -> dict:
    """The conversations sidebar's components (wired to the chat by `wire`)."""
    gr.Markdown("**Conversations**")
    new_btn = gr.Button("New conversation", elem_id="conv-new")
    listed = gr.Radio(choices=[], label="Saved, newest first", elem_id="conv-list")
    with gr.Row():
        resume_btn = gr.Button("Resume", variant="primary", elem_id="conv-resume")
        delete_btn = gr.Button("Delete", variant="stop", elem_id="conv-delete")
    title = gr.Textbox(label="Rename to", elem_id="conv-title")
    rename_btn = gr.Button("Rename", elem_id="conv-rename")
    export_btn = gr.Button("Export as Markdown", elem_id="conv-export-btn")
    exported = gr.File(label="Download", elem_id="conv-file")
    export_text = gr.Textbox(label="Exported Markdown", lines=6, elem_id="conv-export")
    msg = gr.Markdown(elem_id="conv-msg")
    return {"new_btn": new_btn, "listed": listed, "resume_btn": resume_btn,
            "delete_btn": delete_btn, "title": title, "rename_btn": rename_btn,
            "export_btn": export_btn, "exported": exported, "export_text": export_text,
            "msg": msg}


def wire(pipeline, s: dict, c: dict, demo: gr.Blocks) -> None:
    """Connect the sidebar `s` to the chat `c` (chat.tab's components) and add the API."""
    conversation, listed = c["conversation"], s["listed"]
    refresh = bind(refresh_list, pipeline)
    for event in c["answered"]:
        event.then(refresh, conversation, listed, api_visibility="private")
    s["new_btn"].click(bind(new_conversation, pipeline), None, c["chat_out"],
                       api_visibility="private").then(refresh, conversation, listed,
                                                      api_visibility="private")
    s["resume_btn"].click(bind(resume, pipeline), listed, c["chat_out"],
                          api_visibility="private")
    s["rename_btn"].click(bind(rename, pipeline), [listed, s["title"]], [s["msg"], listed],
                          api_visibility="private")
    s["delete_btn"].click(
        bind(delete, pipeline), [listed, conversation], [s["msg"], listed, conversation],
        js="(id, cur) => [(id && confirm('Delete this conversation?')) ? id : '', cur]",
        api_visibility="private")
    s["export_btn"].click(bind(export, pipeline), listed, [s["export_text"], s["exported"]],
                          api_visibility="private")
    demo.load(refresh, conversation, listed, api_visibility="private")
    for fn, name in API:
        gr.api(bind(fn, pipeline), api_name=name)
