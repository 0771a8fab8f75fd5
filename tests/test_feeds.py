"""Pages and RSS feeds from a loopback news site (tests/feed_site.py): sync, re-sync, edits,
dead links, malformed feeds, the fetch limits and the SSRF guard of the web UI's path."""
import json

import pytest

from feed_site import Site, article_page, story
from rag.config import Settings
from rag.errors import InputError
from rag.fetch import FetchError, Fetcher


@pytest.fixture
def site():
    s = Site(entries=20)
    yield s
    s.close()


def stored(pipeline) -> dict[str, str]:
    """url -> text of every stored article."""
    return {r.article.url: pipeline.article_text(r.article.id) for r in pipeline.articles()}


def test_feed_sync_adds_all_then_writes_nothing_then_replaces_an_edit(fake_pipeline, site):
    feed = site.url("/feed.xml")
    first = fake_pipeline.ingest(urls=[feed])
    assert (first.added, first.updated, first.failed) == (20, 0, [])
    assert len(stored(fake_pipeline)) == 20
    record = next(r for r in fake_pipeline.articles() if r.article.url == site.url(site.links[4]))
    a = record.article
    assert a.title == story(4)[0]
    assert a.published == "2024-05-01T12:00:00+02:00"        # the entry's pubDate, zone kept
    assert (a.author, a.source) == ("Mira Castell", "The Coastal Courier")
    assert a.path == a.url and "Home | World" not in a.text  # page furniture left out

    calls = fake_pipeline.embedder.calls
    second = fake_pipeline.ingest(urls=[feed])
    assert (second.added, second.updated, second.unchanged) == (0, 0, 20)
    assert fake_pipeline.embedder.calls == calls, "an unchanged feed must embed nothing"

    title, paragraphs = story(7)
    site.pages[site.links[7]] = article_page(title, paragraphs + [
        "On Wednesday the appeal was rejected by the regional court in a short hearing."])
    third = fake_pipeline.ingest(urls=[feed])
    assert (third.added, third.updated, third.unchanged) == (0, 1, 19)
    assert third.changes[0]["change"] == "updated"
    assert "appeal was rejected" in stored(fake_pipeline)[site.url(site.links[7])]
    assert fake_pipeline.store.article_count() == 20       # replaced, not added beside


def test_dead_link_and_malformed_feed_give_one_clear_line_and_lose_nothing(fake_pipeline, site,
                                                                          capsys):
    from rag.cli import main
    feed = site.url("/feed.xml")
    fake_pipeline.ingest(urls=[feed])
    before = stored(fake_pipeline)
    dead = site.links[3]
    del site.pages[dead]
    assert main(["ingest", feed], pipeline=fake_pipeline) == 1
    out = capsys.readouterr().out
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert failed == [f"FAILED {site.url(dead)}: HTTP 404 Not Found (feed entry 4 of {feed})"]
    assert "unchanged 19" in out
    assert stored(fake_pipeline) == before                  # the earlier copy is kept

    site.routes["/feed.xml"] = (200, "application/rss+xml", "<rss><channel><item><title>x", {})
    assert main(["ingest", feed, "--json"], pipeline=fake_pipeline) == 1
    report = json.loads(capsys.readouterr().out)
    assert len(report["failed"]) == 1
    assert report["failed"][0]["path"] == feed
    assert report["failed"][0]["error"].startswith("malformed feed (")
    assert stored(fake_pipeline) == before


def test_a_page_url_is_one_article_with_an_id_stable_per_url(fake_pipeline, site):
    page = site.url(site.links[2])
    report = fake_pipeline.ingest(urls=[page])
    assert report.added == 1
    [record] = fake_pipeline.articles()
    assert record.article.title == story(2)[0] and record.article.url == page
    # the same page reached through the feed is the same article (updated with the entry's
    # date and author), not a second copy
    again = fake_pipeline.ingest(urls=[site.url("/feed.xml")])
    assert (again.added, again.updated) == (19, 1) and fake_pipeline.store.article_count() == 20
    assert fake_pipeline.article(record.article.id).article.published == "2024-05-01T10:00:00+02:00"


def test_ui_fetches_refuse_loopback_unless_allowed(fake_pipeline, site):
    feed = site.url("/feed.xml")
    report = fake_pipeline.ingest(urls=[feed], refuse_private_urls=True)
    assert report.added == 0 and fake_pipeline.store.article_count() == 0
    assert report.failed == [{"path": feed, "error": "refused, 127.0.0.1 is a loopback address "
                              "(127.0.0.1); set RAG_ALLOW_PRIVATE_URLS=true to allow it"}]
    assert site.requests == [], "a refused URL must not be requested at all"
    fake_pipeline.settings = fake_pipeline.settings.with_(allow_private_urls=True)
    assert fake_pipeline.ingest(urls=[feed], refuse_private_urls=True).added == 20


@pytest.mark.parametrize("ip,kind", [("10.1.2.3", "private"), ("192.168.0.9", "private"),
                                     ("169.254.169.254", "link-local"), ("::1", "loopback"),
                                     ("::ffff:127.0.0.1", "loopback"), ("fe80::1", "link-local"),
                                     ("100.64.0.7", "non-public")])
def test_guard_names_every_internal_address_kind(monkeypatch, ip, kind):
    import socket
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(None, None, None, "", (ip, 80))])
    with pytest.raises(FetchError, match=f"internal.example is a {kind} address"):
        Fetcher(Settings(), refuse_private=True).fetch("http://internal.example/")


def test_fetch_limits(site):
    fetch = Fetcher(Settings(fetch_timeout=1.0, fetch_max_mb=1, fetch_max_redirects=2),
                    refuse_private=False).fetch
    site.routes["/pdf"] = (200, "application/pdf", b"%PDF-1.4", {})
    site.routes["/big"] = (200, "text/html", b"<p>" + b"x" * (2 * 2**20), {})
    site.routes["/slow"] = (200, "text/html", "<p>late</p>", {"delay": "2.5"})
    for i in range(4):
        site.routes[f"/hop{i}"] = (302, "text/html", "", {"Location": f"/hop{i + 1}"})
    site.routes["/hop4"] = (200, "text/html", "<p>there</p>", {})
    site.routes["/to-file"] = (302, "text/html", "", {"Location": "file:///etc/passwd"})
    with pytest.raises(FetchError, match="content type 'application/pdf' is not a web page"):
        fetch(site.url("/pdf"))
    with pytest.raises(FetchError, match="over the 1 MB limit"):
        fetch(site.url("/big"))
    with pytest.raises(FetchError, match="timed out"):
        fetch(site.url("/slow"))
    with pytest.raises(FetchError, match="more than 2 redirects"):
        fetch(site.url("/hop0"))
    assert fetch(site.url("/hop2")).body == b"<p>there</p>"
    with pytest.raises(FetchError, match="only http and https .*redirected to file:///etc/passwd"):
        fetch(site.url("/to-file"))
    with pytest.raises(FetchError, match="only http and https"):
        fetch("ftp://127.0.0.1/x")


def test_redirect_to_loopback_is_refused_on_the_ui_path(monkeypatch, site):
    """A public-looking host that redirects inward is checked again at every hop."""
    import socket
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "public.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80))]
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    fetcher = Fetcher(Settings(), refuse_private=True)
    monkeypatch.setattr(fetcher, "_open", _redirecting_open(fetcher._open, site))
    with pytest.raises(FetchError, match="127.0.0.1 is a loopback address"):
        fetcher.fetch("http://public.example/story")


def _redirecting_open(real_open, site):
    """Stands in for the public server: its answer is a redirect to the loopback site."""
    def fake_open(url, deadline, original):
        if url.startswith("http://public.example"):
            class Conn:
                def close(self):
                    pass
            return 302, {"location": site.url("/news/00-ferry.html")}, None, Conn()
        return real_open(url, deadline, original)
    return fake_open


def test_watch_prints_one_line_per_change_and_nothing_when_unchanged(fake_pipeline, site):
    from rag.watch import describe, parse_interval, watch
    assert parse_interval("15m") == 900 and parse_interval("30s") == 30
    with pytest.raises(InputError, match="watch interval 'soon'"):
        parse_interval("soon")
    feed = site.url("/feed.xml")
    events = []
    edits = iter([
        lambda: None,                                            # round 2: nothing changes
        lambda: site.pages.update({site.links[5]: article_page(story(5)[0], ["Edited: the "
                                   "vote was postponed until the autumn session."] * 2)}),
        lambda: site.pages.pop(site.links[6]),                   # round 4: a dead link
        lambda: None,                                            # round 5: still dead: silent
    ])
    rounds = watch(fake_pipeline, [], [feed], 900, rounds=5, emit=events.append,
                   sleep=lambda seconds: next(edits)())
    assert rounds == 5
    lines = [describe(e) for e in events]
    assert len(lines) == 20 + 1 + 1
    assert all(line.startswith("added ") for line in lines[:20])
    assert lines[20].startswith("updated ") and story(5)[0] in lines[20]
    assert lines[21] == f"FAILED {site.url(site.links[6])}: HTTP 404 Not Found (feed entry 7 " \
                        f"of {feed})"


@pytest.mark.slow
def test_feed_articles_answer_with_real_model(real_pipeline, site):
    report = real_pipeline.ingest(urls=[site.url("/feed.xml")])
    assert report.added == 20
    answer = real_pipeline.ask("What did opponents in Oskelund argue about the pier's cost?")
    assert not answer.refused and "42 million crowns" in answer.text
    c = answer.citations[0]
    assert c.url == site.url(site.links[2]) and c.source == "The Coastal Courier"
    assert c.published.startswith("2024-05-01T10:00")
    assert real_pipeline.article_text(c.article_id)[c.start:c.end] == c.quote


def test_https_is_verified_against_the_host_name(tmp_path):
    """A loopback HTTPS server with a self-signed certificate: the pinned connection speaks TLS
    with the URL's host name and refuses the untrusted certificate with a clear error."""
    import shutil
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.handle_request, daemon=True).start()
    try:
        with pytest.raises(FetchError, match="certificate verify failed"):
            Fetcher(Settings(fetch_timeout=5), refuse_private=False).fetch(
                f"https://localhost:{server.server_address[1]}/")
    finally:
        server.server_close()


def test_watch_command_prints_json_lines(fake_pipeline, site, capsys):
    from rag.cli import main
    feed = site.url("/feed.xml")
    assert main(["watch", feed, "--every", "1s", "--rounds", "2", "--json"],
                pipeline=fake_pipeline) == 0
    captured = capsys.readouterr()
    events = [json.loads(line) for line in captured.out.splitlines()]
    assert len(events) == 20, "round 2 found nothing changed and printed nothing"
    assert {e["change"] for e in events} == {"added"}
    assert all(e["path"].startswith(site.base) and e["time"] for e in events)
    assert "watch: syncing" in captured.err
    assert main(["watch", feed, "--every", "soon"], pipeline=fake_pipeline) == 2
