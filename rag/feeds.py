"""Articles from URLs: an article page, or an RSS/Atom feed whose entries' pages are fetched.

A fetched article becomes an ordinary `Article` fed to the same sync as files, so the content
hash decides added / updated / unchanged. Its id is derived from its URL alone (the entry's
link for a feed), so the same page keeps one id whether it comes from a feed or is given
directly, and an edited page replaces its earlier version. Its `path` is the URL.

Like the file loaders this never raises for bad input: a dead link, a page without text or a
malformed feed becomes a `LoadFailure` naming the URL, and the other entries still come through.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import datetime, timezone
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit
from xml.sax import SAXException

from .articles import Article, LoadFailure, _domain, _iso_date, _meta_value, _slug, html_article
from .fetch import Fetched, FetchError, Fetcher

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
_FEED_ROOTS = (b"<rss", b"<feed", b"<rdf:rdf")
_EMAIL_NAME = re.compile(r"^\S+@\S+\s+\((.+)\)$")


def url_article_id(url: str) -> str:
    """A stable id per URL: readable host and path, plus a short hash of the whole URL."""
    parts = urlsplit(url.strip())
    normal = urlunsplit((parts.scheme.lower(), (parts.netloc or "").lower(), parts.path or "/",
                         parts.query, ""))
    readable = _slug(f"{_domain(normal) or 'web'}-{parts.path.strip('/')}")[:60].strip("-")
    return f"{readable}-{hashlib.sha1(normal.encode('utf-8')).hexdigest()[:10]}"


def is_feed(fetched: Fetched) -> bool:
    if fetched.content_type in FEED_TYPES:
        return True
    if fetched.content_type == "text/html":
        return False
    head = fetched.body[:2048].lstrip().lower()
    while head.startswith((b"<?", b"<!--")):     # XML declaration, stylesheet, comments
        head = head[head.find(b">") + 1:].lstrip()
    return head.startswith(_FEED_ROOTS)


def articles_from_url(url: str, fetcher: Fetcher) -> Iterator[Article | LoadFailure]:
    """The article at `url`, or every entry of the feed at `url`, one at a time."""
    try:
        fetched = fetcher.fetch(url)
    except FetchError as exc:
        yield LoadFailure(url, str(exc).removeprefix(f"{url}: "))
        return
    if is_feed(fetched):
        yield from _feed_articles(url, fetched, fetcher)
    else:
        yield _page_article(url, fetched)


def _page_article(url: str, fetched: Fetched, entry: dict | None = None) -> Article | LoadFailure:
    html = fetched.body.decode(fetched.charset or "utf-8", errors="replace") \
        if fetched.charset else fetched.body
    article, error = html_article(html, article_id=url_article_id(url), path=url, url=url)
    if article is None:
        return LoadFailure(url, error or "no article text found")
    if entry:   # what the feed says about its entry wins over what was guessed from the page
        article = replace(article, **{k: v for k, v in entry.items() if v})
    return article


def _feed_articles(url: str, fetched: Fetched, fetcher: Fetcher) -> Iterator[Article | LoadFailure]:
    import feedparser  # only needed for feeds

    feed = feedparser.parse(fetched.body, response_headers={"content-location": fetched.url})
    problem = feed.get("bozo_exception")
    if isinstance(problem, SAXException):
        # Not well-formed XML: what a lenient parser salvages may be cut short or garbled, so
        # the whole feed is refused and the stored articles stay as they are.
        yield LoadFailure(url, f"malformed feed ({problem.getMessage()}, line "
                               f"{getattr(problem, 'getLineNumber', lambda: '?')()})")
        return
    if not feed.entries:
        yield LoadFailure(url, "the feed has no entries")
        return
    source = _meta_value(feed.feed.get("title")) or _domain(url)
    for number, entry in enumerate(feed.entries, start=1):
        link = entry.get("link")
        if not link:
            yield LoadFailure(f"{url}#entry-{number}", f"feed entry {number} has no link")
            continue
        try:
            page = fetcher.fetch(link)
        except FetchError as exc:
            yield LoadFailure(link, f"{str(exc).removeprefix(f'{link}: ')} (feed entry "
                                    f"{number} of {url})")
            continue
        yield _page_article(link, page, {
            "title": _meta_value(entry.get("title")), "published": _entry_date(entry),
            "author": _entry_author(entry), "source": source, "url": link})


def _entry_author(entry) -> str | None:
    """RSS writes "email (Name)": the name alone (feedparser's own split of it garbles both)."""
    author = _meta_value(entry.get("author"))
    named = _EMAIL_NAME.match(author or "")
    return named.group(1).strip() if named else author


def _entry_date(entry) -> str | None:
    """The entry's own date string when it parses (its time zone kept), else feedparser's UTC."""
    for key in ("published", "updated"):
        found = _iso_date(entry.get(key))
        if found:
            return found
        parsed = entry.get(f"{key}_parsed")
        if parsed:
            return datetime(*parsed[:6], tzinfo=timezone.utc).isoformat()
    return None
