"""Tests for rag.articles: loaders, cleaning and discovery (no network, tmp_path only)."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from rag import articles
from rag.articles import ALLOWED_SUFFIXES, Article, LoadFailure, discover, load_file

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "corpus" / "000_066ea528e0fa7fc5.txt"
DATA = Path("/work/shared/data")
CAPTION = ("Russian Foreign Sergey Lavrov and Chinese Foreign Minister Wang Yi shake hands at a "
           "press conference after their meeting at the ministry in Beijing")
LAVROV = ("“Relevant countries shouldn't use Pyongyang's acts as a pretext to increase their "
          "military presence on the Korean Peninsula.")


def load_one(path: Path) -> Article:
    loaded, failures = load_file(path)
    assert failures == []
    assert len(loaded) == 1
    return loaded[0]


def load_error(path: Path) -> str:
    loaded, failures = load_file(path)
    assert loaded == []
    assert len(failures) == 1 and failures[0].path == str(path)
    return failures[0].error


def assert_clean_paragraphs(text: str) -> None:
    assert text == text.strip()
    assert "\n\n\n" not in text
    for para in text.split("\n\n"):
        assert para and para == para.strip()


# ---------------------------------------------------------------- .txt news pages

def test_seed_article_metadata():
    art = load_one(SEED)
    assert art.id == "000_066ea528e0fa7fc5"
    assert art.title == "Russia and China united in opposition to THAAD on the Korean peninsula"
    assert art.published == "2016-04-30T14:06:00+09:00"
    assert art.modified == "2019-10-19T20:29:00+09:00"
    assert art.author == "Kim Oi-hyun and Yi Yong-in"
    assert art.source == "hani.co.kr"
    assert art.url is None
    assert art.path == str(SEED)


def test_seed_article_text_is_cleaned():
    text = load_one(SEED).text
    for furniture in ("Please direct", "english@hani", "button that move", "클릭시",
                      "Related stories", "Most viewed", "Posted on", "Modified on",
                      "By Kim Oi-hyun", "correspondents", "Russia and China united"):
        assert furniture not in text, furniture
    assert text.count(CAPTION) == 1
    assert LAVROV in text  # curly quote preserved verbatim
    paras = text.split("\n\n")
    assert paras[0] == ("Two countries agree that a push is needed to started Six Party Talks "
                        "on North Korean nuclear issue")
    assert paras[1] == CAPTION
    assert paras[-1].endswith("do not pose a threat to North America.")
    assert len(paras) == 13  # subtitle, caption, 11 body paragraphs
    assert_clean_paragraphs(text)


def test_front_matter_overrides_parsed_values(tmp_path):
    page = tmp_path / "My Story (draft).md"
    page.write_text(
        "---\ntitle: The Real Title\ndate: 2020-05-01\nmodified: 2020-05-02T10:00:00+02:00\n"
        "author: [Ann Lee, Bo Kim]\nsource: Example Times\nurl: https://example.com/a\n"
        "category: world\n---\n"
        "# The Real Title\n\nPosted on : 2016-04-30 14:06 KST\n\nBy Someone Else, staff\n\n"
        "First paragraph of the body.\n\nPlease direct questions or comments to [news@hani.co.kr]\n",
        encoding="utf-8")
    art = load_one(page)
    assert art.id == "my-story-draft"  # slug of the stem
    assert (art.title, art.published, art.modified) == (
        "The Real Title", "2020-05-01", "2020-05-02T10:00:00+02:00")
    assert (art.author, art.source, art.url, art.category) == (
        "Ann Lee, Bo Kim", "Example Times", "https://example.com/a", "world")
    assert art.text == "First paragraph of the body."


def test_front_matter_id_and_title_without_heading(tmp_path):
    page = tmp_path / "x.txt"
    page.write_text("---\nid: 42\ntitle: Given\n---\nThe body starts right away.\nSecond line.\n")
    art = load_one(page)
    assert (art.id, art.title) == ("42", "Given")
    assert art.text == "The body starts right away.\n\nSecond line."


def test_invalid_front_matter_names_the_file(tmp_path):
    page = tmp_path / "broken.md"
    page.write_text("---\ntitle: [unclosed\n---\nBody text.\n")
    error = load_error(page)
    assert "broken.md" in error and "YAML" in error


@pytest.mark.parametrize("line, expected", [
    ("Posted on : 2020-01-02 03:04 UTC", "2020-01-02T03:04:00+00:00"),
    ("Published: 2020-01-02 03:04:05 +0530", "2020-01-02T03:04:05+05:30"),
    ("Posted on 2020.01.02 03:04 CST", "2020-01-02T03:04:00"),  # ambiguous zone: naive
    ("Posted on : 2020-01-02", "2020-01-02"),
])
def test_dateline_variants(tmp_path, line, expected):
    page = tmp_path / "d.txt"
    page.write_text(f"Title\n{line}\nBody paragraph.\n")
    art = load_one(page)
    assert art.published == expected
    assert art.text == "Body paragraph."


def test_sentence_starting_with_by_is_not_a_byline(tmp_path):
    page = tmp_path / "b.txt"
    page.write_text("Title\nBy Friday, the company had sold out.\nBy Jane Roe\n")
    art = load_one(page)
    assert art.author == "Jane Roe"
    assert art.text == "By Friday, the company had sold out."


def test_crlf_control_chars_and_hard_wraps(tmp_path):
    page = tmp_path / "w.txt"
    page.write_bytes(b"Title\r\n\r\nA hard-wrapped paragraph that goes\r\non here.\x07\r\n"
                     b"  Next\tparagraph\xc2\xa0keeps NBSP.  \r\n")
    art = load_one(page)
    assert art.text == ("A hard-wrapped paragraph that goes on here.\n\n"
                        "Next paragraph\u00a0keeps NBSP.")


def test_one_line_file_keeps_its_text(tmp_path):
    page = tmp_path / "one.txt"
    page.write_text("\ufeffJust one line.\n", encoding="utf-8")
    art = load_one(page)
    assert (art.title, art.text) == ("Just one line.", "Just one line.")


# ---------------------------------------------------------------- decoding and bad files

def test_latin1_file_decodes(tmp_path):
    page = tmp_path / "latin.txt"
    page.write_bytes("Café society\n\nThe café opened in Montréal, «enfin».\n".encode("latin-1"))
    art = load_one(page)
    assert art.title == "Café society"
    assert art.text == "The café opened in Montréal, «enfin»."


def test_cp1252_smart_quotes_decode(tmp_path):
    page = tmp_path / "cp.txt"
    page.write_bytes(b"Title\n\x93Quoted\x94 text \x96 dash.\n")
    assert load_one(page).text == "“Quoted” text – dash."


@pytest.mark.parametrize("content", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x08\x06\x00\x00\x00",  # PNG header
    b"Mostly ordinary words, but one NUL byte \x00 means this is not a text file at all.",
])
def test_binary_bytes_named_txt_fail(tmp_path, content):
    page = tmp_path / "image.txt"
    page.write_bytes(content)
    assert load_error(page) == "binary file, not text"


@pytest.mark.parametrize("content", [b"", b"   \n\t\n  \r\n", b"\xef\xbb\xbf\n"])
def test_empty_or_whitespace_fails(tmp_path, content):
    page = tmp_path / "empty.md"
    page.write_bytes(content)
    assert load_error(page) == "empty file"


def test_too_large_file_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(articles, "MAX_FILE_BYTES", 1024 * 1024)
    page = tmp_path / "big.txt"
    page.write_text("Title\n" + "word " * 300_000)
    assert load_error(page) == "file too large (1.4 MB > 1 MB)"


def test_wrong_suffix_and_missing_file_fail(tmp_path):
    (tmp_path / "doc.pdf").write_text("x")
    assert "unsupported file type '.pdf'" in load_error(tmp_path / "doc.pdf")
    assert load_error(tmp_path / "missing.txt").startswith("cannot read file")


# ---------------------------------------------------------------- .html

HTML_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Council approves new bridge | The Riverside Gazette</title>
<meta property="og:site_name" content="The Riverside Gazette">
<meta name="author" content="Jane Doe">
<meta property="article:published_time" content="2021-03-04T09:30:00+00:00">
<link rel="canonical" href="https://gazette.example.com/news/bridge">
<script>var tracking = "SCRIPT_TEXT";</script></head>
<body><nav><ul><li><a href="/">Home</a></li><li><a href="/sport">Sport section</a></li></ul></nav>
<article><h1>Council approves new bridge</h1>
<p>The city council voted 7-2 on Wednesday to approve a new pedestrian bridge across the river,
ending a decade of debate.</p>
<p>“This is a great day for the town,” said the mayor, who had campaigned for the crossing since
2012 and promised it would open next year.</p>
<p>Construction is expected to begin in the spring and cost about 4 million euros, paid from
regional and national funds.</p>
</article>
<footer><p>© 2021 The Riverside Gazette. All rights reserved.</p></footer>
<script>console.log("SCRIPT_TEXT")</script></body></html>"""


def test_html_page_via_trafilatura(tmp_path):
    page = tmp_path / "Bridge Vote.html"
    page.write_text(HTML_PAGE, encoding="utf-8")
    art = load_one(page)
    assert art.id == "bridge-vote"
    assert art.title == "Council approves new bridge"
    assert art.author == "Jane Doe"
    assert art.published == "2021-03-04"
    assert art.source == "The Riverside Gazette"
    assert art.url == "https://gazette.example.com/news/bridge"
    paras = art.text.split("\n\n")
    assert len(paras) == 3
    assert paras[0].startswith("The city council voted 7-2 on Wednesday")
    assert paras[1].startswith("“This is a great day for the town,” said the mayor")
    for junk in ("SCRIPT_TEXT", "Sport section", "All rights reserved", "Council approves"):
        assert junk not in art.text
    assert_clean_paragraphs(art.text)


def test_script_only_html_fails_cleanly(tmp_path):
    page = tmp_path / "script.htm"
    page.write_text("<html><head><script>var a = 1;</script></head>"
                    "<body><script>document.write('hello world');</script></body></html>")
    assert load_error(page) == "no article text found"


# ---------------------------------------------------------------- .jsonl

def test_jsonl_good_malformed_and_missing_text_lines(tmp_path):
    feed = tmp_path / "feed.jsonl"
    long_first = ("The committee met on Tuesday to discuss the new budget proposals for the "
                  "coming fiscal year amid protests. More text follows here.")
    lines = [
        json.dumps({"id": 7, "headline": "Seven", "body": "Seven\n\nBody seven.\r\nLine two.",
                    "authors": ["A One", "B Two"], "published_at": "2020-01-02T03:04:05Z",
                    "section": "tech", "link": "https://www.example.org/x"}),
        "",
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"title": "No text here", "summary": "only a summary"}),
        json.dumps({"text": long_first,
                    "url": "http://web.archive.org/web/2015id_/http://www.dailymail.co.uk/a.html"}),
        "   ",
        json.dumps({"content": "Untitled record with no url.", "publisher": {"name": "Wire"}}),
        json.dumps({"article": "Plain record.", "date": "not a date"}),
    ]
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    loaded, failures = load_file(feed)

    assert [(f.path, f.error.split(":")[0]) for f in failures] == [
        (f"{feed}:3", "line 3"), (f"{feed}:4", "line 4"), (f"{feed}:5", "line 5")]
    assert failures[0].error.startswith("line 3: invalid JSON (")
    assert failures[1].error == "line 4: not a JSON object"
    assert failures[2].error == "line 5: no article text (expected one of body/text/article/content)"

    assert len(loaded) == 4
    seven, archived, wire, plain = loaded
    assert (seven.id, seven.title, seven.text) == ("7", "Seven", "Body seven.\n\nLine two.")
    assert (seven.author, seven.published, seven.category) == (
        "A One, B Two", "2020-01-02T03:04:05+00:00", "tech")
    assert (seven.source, seven.url, seven.path) == ("example.org", "https://www.example.org/x",
                                                     f"{feed}:1")
    assert archived.source == "dailymail.co.uk"
    assert archived.title.endswith("…") and len(archived.title) <= 91
    assert archived.title == ("The committee met on Tuesday to discuss the new budget proposals "
                              "for the coming fiscal…")
    assert archived.id.startswith("feed-") and len(archived.id) == len("feed-") + 12
    assert (wire.source, wire.title) == ("Wire", "Untitled record with no url.")
    assert (plain.source, plain.published) == ("feed", None)


def test_jsonl_duplicate_id_is_reported(tmp_path):
    feed = tmp_path / "dup.jsonl"
    feed.write_text('{"id": "a", "text": "one"}\n{"id": "a", "text": "two"}\n')
    loaded, failures = load_file(feed)
    assert [a.text for a in loaded] == ["one"]
    assert failures == [LoadFailure(f"{feed}:2", "line 2: duplicate id 'a'")]


@pytest.mark.skipif(not DATA.is_dir(), reason="shared datasets not available")
def test_bbc_news_summary_loads_fully():
    path = DATA / "bbc-news-summary" / "bbc_news_summary.jsonl"
    loaded, failures = load_file(path)
    assert failures == []
    assert len(loaded) == 2225
    assert len({a.id for a in loaded}) == 2225
    first = loaded[0]
    assert (first.id, first.title, first.category) == (
        "business/001", "Ad sales boost Time Warner profit", "business")
    assert first.text.startswith("Quarterly profits at US media giant TimeWarner jumped 76%")
    assert all(not a.text.startswith(a.title) for a in loaded)
    assert all(a.text and a.title for a in loaded)


@pytest.mark.skipif(not DATA.is_dir(), reason="shared datasets not available")
def test_frank_cnndm_subset_loads_fully():
    path = DATA / "frank-cnndm-xsum" / "cnndm_test_subset.jsonl"
    loaded, failures = load_file(path)
    assert failures == []
    assert len(loaded) == 250
    assert len({a.id for a in loaded}) == 250
    assert {a.source for a in loaded} <= {"dailymail.co.uk", "cnn.com", "edition.cnn.com"}
    assert {"dailymail.co.uk", "cnn.com"} <= {a.source for a in loaded}
    assert all(0 < len(a.title) <= articles.TITLE_MAX_CHARS + 1 for a in loaded)
    assert loaded[0].title == ("Gary Locke will be confirmed as Kilmarnock’s permanent manager "
                               "on Friday - exactly eight…")
    assert all(not a.title.startswith("(CNN)") for a in loaded)


# ---------------------------------------------------------------- discovery

def test_discover_recurses_sorted_skips_hidden_and_survives_symlink_loop(tmp_path):
    root = tmp_path / "corpus"
    (root / "b_sub" / "deeper").mkdir(parents=True)
    (root / ".hidden_dir").mkdir()
    for name in ("z.txt", "a.md", "c.HTML", "notes.pdf", ".secret.txt", "b_sub/x.jsonl",
                 "b_sub/deeper/y.htm", ".hidden_dir/h.txt"):
        (root / name).write_text("Title\nBody.\n")
    os.symlink(root, root / "b_sub" / "loop")        # points back up: a cycle
    os.symlink(root / "a.md", root / "b_sub" / "alias.md")  # same file twice

    files, failures = discover([root])
    rel = [str(p.relative_to(root)) for p in files]
    assert rel == ["a.md", "b_sub/deeper/y.htm", "b_sub/x.jsonl", "c.HTML", "z.txt"]
    assert failures == []
    assert discover([root]) == (files, failures)  # deterministic


def test_discover_explicit_paths(tmp_path):
    good = tmp_path / ".hidden.txt"
    good.write_text("x")
    bad = tmp_path / "report.pdf"
    bad.write_text("x")
    missing = tmp_path / "nope"
    files, failures = discover([good, bad, missing, good])
    assert files == [good]
    assert failures[0].path == str(bad) and "unsupported file type '.pdf'" in failures[0].error
    assert failures[1] == LoadFailure(str(missing), "no such file or folder")
    assert ".jsonl" in ALLOWED_SUFFIXES


# ---------------------------------------------------------------- Article contract

def test_content_hash_tracks_content_not_path():
    art = Article(id="a", title="T", text="Body one.", path="x/a.txt")
    assert dataclasses.replace(art, path="elsewhere/a.txt").content_hash == art.content_hash
    assert dataclasses.replace(art, text="Body two.").content_hash != art.content_hash
    assert dataclasses.replace(art, author="Someone").content_hash != art.content_hash
    assert len(art.content_hash) == 64
