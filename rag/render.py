"""HTML for the UI, built from our dataclasses. Every piece of article text is escaped here:
an article containing <script> or <img onerror=...> shows as text and runs nothing."""
from __future__ import annotations

import html
import re

from .citations import Citation

CONTEXT_CHARS = 400


def esc(text: str | None) -> str:
    return html.escape(text or "", quote=True)


def safe_url(url: str | None) -> str | None:
    """Only http(s) links are rendered; javascript: and data: URLs from an article are not."""
    return url if url and re.match(r"https?://", url, re.I) else None


def answer_markdown(text: str) -> str:
    """The answer for the chat: escaped, each [n] a link to its source card."""
    safe = esc(text)
    return re.sub(r"\[(\d+)\]", r'<a href="#cite-\1" class="cite-link">[\1]</a>', safe)


def citation_card(c: Citation, article_text: str | None) -> str:
    """One cited passage in its article context, the quoted span highlighted."""
    meta = " · ".join(esc(x) for x in ((c.published or "undated")[:10], c.source or "", ) if x)
    url = safe_url(c.url)
    link = f' · <a href="{esc(url)}" target="_blank" rel="noopener noreferrer">link</a>' if url else ""
    if article_text and article_text[c.start:c.end] == c.quote:
        before = article_text[max(0, c.start - CONTEXT_CHARS):c.start]
        after = article_text[c.end:c.end + CONTEXT_CHARS]
        body = (f'<span class="ctx">{"…" if c.start > CONTEXT_CHARS else ""}{esc(before)}</span>'
                f'<mark class="quote">{esc(c.quote)}</mark>'
                f'<span class="ctx">{esc(after)}{"…" if c.end + CONTEXT_CHARS < len(article_text) else ""}</span>')
    else:
        body = f'<mark class="quote">{esc(c.quote)}</mark>'
    return (f'<div class="cite-card" id="cite-{c.n}"><div class="cite-head"><b>[{c.n}]</b> '
            f'{esc(c.title)}</div><div class="cite-meta">{meta}{link} · '
            f'<code>{esc(c.article_id)}</code> chars {c.start}–{c.end}</div>'
            f'<div class="cite-body">{body.replace(chr(10), "<br>")}</div></div>')


def sources_panel(citations, article_text_of, notice: str | None = None) -> str:
    parts = [f'<div class="notice">{esc(notice)}</div>'] if notice else []
    if not citations:
        parts.append('<div class="cite-empty">No passages cited.</div>')
    parts += [citation_card(c, article_text_of(c.article_id)) for c in citations]
    return "\n".join(parts)


def article_page(record, summary_html: str = "") -> str:
    a = record.article
    meta = " · ".join(esc(x) for x in ((a.published or "undated")[:16], a.author, a.source) if x)
    paragraphs = "".join(f"<p>{esc(p)}</p>" for p in a.text.split("\n\n"))
    url = safe_url(a.url)
    link = f'<p><a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{esc(url)}</a></p>' if url else ""
    return (f'<article class="article-page"><h2>{esc(a.title)}</h2><div class="cite-meta">{meta}'
            f' · <code>{esc(a.id)}</code> · {record.passages} passages</div>{link}{summary_html}'
            f'<div class="article-text">{paragraphs}</div></article>')


CSS = """
.cite-card { border: 1px solid #ddd; border-radius: 8px; padding: 8px 10px; margin: 6px 0; }
.cite-card:target { border-color: #e8a100; box-shadow: 0 0 0 2px #ffd66b; }
.cite-meta { color: #666; font-size: 0.85em; margin: 2px 0 6px; }
.cite-body .ctx { color: #777; }
mark.quote { background: #ffe58a; color: #000; padding: 0 1px; }
.notice { background: #fff4e5; border-left: 4px solid #e8a100; padding: 6px 10px; margin: 4px 0; }
.unsupported { text-decoration: underline wavy #d33; }
"""
