"""A news site on a loopback port for feed and page tests: an RSS feed of N entries and their
article pages, served by http.server in a thread. Tests edit `site.pages` / `site.routes` while
it runs, to model a feed that changes between syncs."""
from __future__ import annotations

import html
import threading
import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOWNS = ["Velmora", "Tarnwick", "Oskelund", "Brighmoor", "Calvaro", "Dunmere", "Eskholt",
         "Farrowby", "Glenquay", "Harrowgate", "Istel", "Jorvale", "Kestrel Bay", "Lindqvist",
         "Marrowdeep", "Northam Cross", "Orlen", "Pellingham", "Quarrendon", "Rothsay",
         "Saltmarsh", "Tollerby"]


def article_page(title: str, paragraphs: list[str], author: str = "Mira Castell") -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<meta name='author' content='{author}'></head><body><nav>Home | World | Sport</nav>"
            f"<article><h1>{html.escape(title)}</h1>{body}</article>"
            f"<footer>Copyright The Coastal Courier</footer></body></html>")


def story(i: int) -> tuple[str, list[str]]:
    town = TOWNS[i % len(TOWNS)]
    title = f"{town} council approves a new ferry pier"
    return title, [
        f"The council of {town} voted on Tuesday to build a ferry pier, ending a debate that "
        f"had run for {i + 3} years.",
        f"Harbour master Edda Lunde said the pier would carry {120 + i * 10} passengers an hour "
        f"once the work is finished next spring.",
        f"Opponents in {town} had argued that the cost, {40 + i} million crowns, was too high "
        f"for a town of its size, and they said they would appeal the vote.",
    ]


class Site:
    def __init__(self, entries: int = 20):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.pages: dict[str, str] = {}        # path -> html of an article page
        self.routes: dict[str, tuple[int, str, bytes | str, dict]] = {}   # path -> raw response
        self.links: list[str] = []             # feed entries' paths, in feed order
        self.requests: list[str] = []
        for i in range(entries):
            path = f"/news/{i:02d}-ferry.html"
            title, paragraphs = story(i)
            self.pages[path] = article_page(title, paragraphs)
            self.links.append(path)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def feed_xml(self) -> str:
        start = datetime(2024, 5, 1, 8, 0, tzinfo=timezone(timedelta(hours=2)))
        items = []
        for i, path in enumerate(self.links):
            title = story(i)[0]
            items.append(f"<item><title>{html.escape(title)}</title><link>{self.url(path)}</link>"
                         f"<guid>{self.url(path)}</guid><author>desk@courier.example (Mira "
                         f"Castell)</author><pubDate>{format_datetime(start + timedelta(hours=i))}"
                         f"</pubDate><description>Story {i}</description></item>")
        return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
                f"<title>The Coastal Courier</title><link>{self.base}/</link>"
                f"<description>News</description>{''.join(items)}</channel></rss>")

    def _handler(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                site.requests.append(self.path)
                if self.path in site.routes:
                    status, ctype, body, headers = site.routes[self.path]
                    if headers.get("delay"):
                        time.sleep(float(headers["delay"]))
                elif self.path == "/feed.xml":
                    status, ctype, body, headers = 200, "application/rss+xml", site.feed_xml(), {}
                elif self.path in site.pages:
                    status, ctype, body, headers = 200, "text/html; charset=utf-8", \
                        site.pages[self.path], {}
                else:
                    status, ctype, body, headers = 404, "text/html", "<h1>Not found</h1>", {}
                data = body.encode("utf-8") if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                for key, value in headers.items():
                    if key != "delay":
                        self.send_header(key, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def close(self):
        self.server.shutdown()
        self.server.server_close()
