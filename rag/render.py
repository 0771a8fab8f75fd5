"""HTML for the UI, built from our dataclasses. Every piece of article text is escaped here:
an article containing <script> or <img onerror=...> shows as text and runs nothing.

Chat messages are wrapped in one `<div>` with no blank line inside: Markdown treats such a block
as raw HTML and leaves it alone, so `*`, `_`, `[x](javascript:...)` or `$$` in an article cannot
turn into formatting, links or LaTeX either.
"""
from __future__ import annotations

import html
import re

from .citations import CITE, Citation

CONTEXT_CHARS = 400


def esc(text: str | None) -> str:
    return html.escape(text or "", quote=True)


def _lines(escaped: str) -> str:
    # No raw newline may survive: a blank line would end the HTML block (see module docstring).
    return escaped.replace("\r", "").replace("\n", "<br>")


def safe_url(url: str | None) -> str | None:
    """Only http(s) links are rendered; javascript: and data: URLs from an article are not."""
    return url if url and re.match(r"https?://", url, re.I) else None


def cite_anchor(turn: int, n: int) -> str:
    """The id of a source card: unique per question, so [1] of an older answer still finds its
    own passage after later questions."""
    return f"cite-{turn}-{n}"


def user_html(text: str) -> str:
    return f'<div class="user-q">{_lines(esc(text))}</div>'


def answer_html(text: str, turn: int, final: bool = True) -> str:
    """An answer for the chat: escaped, each [n] (also [n, m]) a link to its source card.
    `final=False` while it streams (class "final" tells a watcher the answer is complete)."""
    def links(match: re.Match) -> str:
        nums = [p.strip() for p in match.group(1).split(",")]
        return "".join(f'<a href="#{cite_anchor(turn, int(n))}" class="cite-link" '
                       f'data-cite="{turn}-{int(n)}">[{int(n)}]</a>' for n in nums)
    done = " final" if final else ""
    return f'<div class="answer{done}">{_lines(CITE.sub(links, esc(text)))}</div>'


def notice_html(text: str, final: bool = True) -> str:
    done = " final" if final else ""
    return f'<div class="answer notice{done}">{_lines(esc(text))}</div>'


STALE_NOTES = {"edited": "This article was edited after the answer: the quote is shown as "
                         "it was cited.",
               "deleted": "This article was deleted after the answer: the quote is shown as "
                          "it was cited."}


def citation_card(c: Citation, article_text: str | None, turn: int = 1,
                  status: str = "current") -> str:
    """One cited passage in its article context, the quoted span highlighted. A saved citation
    whose article was since edited or deleted (`status`) shows its quote alone, with a note."""
    if status in STALE_NOTES:
        article_text = None
    meta = " · ".join(esc(x) for x in ((c.published or "undated")[:10], c.source or "") if x)
    url = safe_url(c.url)
    link = (f' · <a href="{esc(url)}" target="_blank" rel="noopener noreferrer">source link</a>'
            if url else "")
    if article_text and article_text[c.start:c.end] == c.quote:
        before = article_text[max(0, c.start - CONTEXT_CHARS):c.start]
        after = article_text[c.end:c.end + CONTEXT_CHARS]
        body = (f'<span class="ctx">{"…" if c.start > CONTEXT_CHARS else ""}{esc(before)}</span>'
                f'<mark class="quote">{esc(c.quote)}</mark><span class="ctx">{esc(after)}'
                f'{"…" if c.end + CONTEXT_CHARS < len(article_text) else ""}</span>')
    else:       # the article was deleted or changed since: show the quote alone
        body = f'<mark class="quote">{esc(c.quote)}</mark>'
    stale = (f'<div class="notice cite-stale">{esc(STALE_NOTES[status])}</div>'
             if status in STALE_NOTES else "")
    return (f'<div class="cite-card" id="{cite_anchor(turn, c.n)}" tabindex="-1">'
            f'<div class="cite-head"><b>[{c.n}]</b> {esc(c.title)}</div>'
            f'<div class="cite-meta">{meta}{link} · <code>{esc(c.article_id)}</code> '
            f'chars {c.start}–{c.end}</div>{stale}'
            f'<div class="cite-body">{_lines(body)}</div></div>')


def sources_panel(turns: list[dict], article_text_of) -> str:
    """The cited passages of every question in this chat, newest first.

    `turns`: [{"turn", "question", "standalone", "citations": [Citation.to_dict()], "notice"}]
    ("standalone": the question as retrieved for, when a follow-up was rewritten; a resumed
    conversation's citations also carry "status": current | edited | deleted).
    """
    if not turns:
        return '<div class="cite-empty">Cited passages appear here.</div>'
    parts = []
    for t in reversed(turns):
        cards = [citation_card(Citation.from_dict(c),
                               article_text_of(c["article_id"]), t["turn"],
                               c.get("status", "current"))
                 for c in t["citations"]]
        notice = f'<div class="notice">{esc(t["notice"])}</div>' if t.get("notice") else ""
        standalone = t.get("standalone")
        searched = (f'<div class="cite-meta">searched as: {esc(standalone)}</div>'
                    if standalone and standalone != t["question"] else "")
        parts.append(f'<section class="cite-turn" id="turn-{t["turn"]}">'
                     f'<div class="turn-q">Q{t["turn"]}: {esc(t["question"])}</div>'
                     f'{searched}{notice}'
                     f'{"".join(cards) or "<div class=cite-empty>No passages cited.</div>"}'
                     f'</section>')
    return "\n".join(parts)


SUMMARY_TURN = 0   # the Summaries view's cards live beside the chat's turns 1, 2, ...


def summary_view(summary, article_text_of) -> str:
    """A summary for the Summaries view: its [n] link to source cards, quotes highlighted."""
    notice = f'<div class="notice">{esc(summary.notice)}</div>' if summary.notice else ""
    cards = "".join(citation_card(c, article_text_of(c.article_id), SUMMARY_TURN)
                    for c in summary.citations)
    cached = " (cached)" if summary.cached else ""
    return (f'<div class="summary"><b>Summary{cached}</b><br>'
            f'{answer_html(summary.text, SUMMARY_TURN)}</div>{notice}{cards}')


def summary_anchor(n: int) -> str:
    return f"sum-{n}"


def summary_html(summary) -> str:
    """A summary from `pipeline.summarize([id])`: its [n] link to the sentences highlighted in
    the article below (`article_page(..., marks=summary.citations)`)."""
    text = getattr(summary, "text", summary)
    body = CITE.sub(lambda m: "".join(
        f'<a href="#{summary_anchor(int(n))}" class="cite-link">[{int(n)}]</a>'
        for n in m.group(1).split(",")), esc(str(text)))
    notice = getattr(summary, "notice", None)
    notice = f'<div class="notice">{esc(notice)}</div>' if notice else ""
    return f'<div class="summary"><b>Summary</b><br>{_lines(body)}</div>{notice}'


def _marked_text(text: str, marks) -> str:
    """The article text escaped, with each cited span wrapped in <mark id="sum-n">."""
    out, pos = [], 0
    for c in sorted(marks, key=lambda c: c.start):
        if c.start < pos or text[c.start:c.end] != c.quote:
            continue                    # overlapping or stale: the summary still lists it
        out += [esc(text[pos:c.start]), f'<mark class="quote" id="{summary_anchor(c.n)}">'
                f'{esc(text[c.start:c.end])}</mark>']
        pos = c.end
    out.append(esc(text[pos:]))
    return "".join(out)


def article_page(record, summary: str = "", marks=()) -> str:
    """A whole article for reading. `summary`: HTML from `summary_html`; `marks`: citations
    into this article to highlight."""
    a = record.article
    meta = " · ".join(esc(x) for x in ((a.published or "undated")[:16], a.author, a.source) if x)
    marks = [c for c in marks if c.article_id == a.id]
    paragraphs = _marked_text(a.text, marks).replace("\n\n", "</p><p>").replace("\n", "<br>")
    url = safe_url(a.url)
    link = (f'<p><a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{esc(url)}</a></p>'
            if url else "")
    return (f'<article class="article-page"><h2>{esc(a.title)}</h2><div class="cite-meta">{meta}'
            f' · <code>{esc(a.id)}</code> · {plural(record.passages, "passage")}</div>'
            f'{link}{summary}<div class="article-text"><p>{paragraphs}</p></div></article>')


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def message_html(text: str) -> str:
    return f'<div class="msg">{_lines(esc(text))}</div>'


CSS = """
#sources { max-height: 78vh; overflow-y: auto !important; }  /* cards scroll beside the chat */
.cite-turn { margin-bottom: 14px; }
.turn-q { font-weight: 600; font-size: 0.9em; color: #555; border-bottom: 1px solid #eee; }
.cite-card { border: 1px solid #ddd; border-radius: 8px; padding: 8px 10px; margin: 6px 0;
             scroll-margin: 40px; }
.cite-card:target, .cite-card.cite-active { border-color: #e8a100; box-shadow: 0 0 0 3px #ffd66b; }
mark.quote:target, mark.quote.cite-active { outline: 2px solid #e8a100; }
.cite-meta { color: #666; font-size: 0.85em; margin: 2px 0 6px; }
.cite-body .ctx { color: #777; }
mark.quote { background: #ffe58a; color: #000; padding: 0 1px; }
a.cite-link { font-weight: 600; text-decoration: none; padding: 0 1px; }
.notice { background: #fff4e5; border-left: 4px solid #e8a100; padding: 6px 10px; margin: 4px 0; }
.summary { background: #f4f8ff; border-left: 4px solid #4a7bd0; padding: 6px 10px; margin: 8px 0; }
.article-text p { margin: 0 0 0.8em; }
"""

# Clicking [n] in an answer: the browser follows "#cite-t-n" itself (the card becomes :target);
# this also marks the card (the :target state is lost when Gradio re-renders the panel) and
# centres it inside the scrolling panel.
JS = """
() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a.cite-link');
    if (!link) return;
    const card = document.getElementById(link.getAttribute('href').slice(1));  // card or mark
    if (!card) return;
    event.preventDefault();
    document.querySelectorAll('.cite-active')
      .forEach(c => c.classList.remove('cite-active'));
    card.classList.add('cite-active');
    if (location.hash !== '#' + card.id) location.hash = card.id;
    card.scrollIntoView({block: 'center'});
    card.focus({preventScroll: true});
  }, true);
}
"""
