"""Article record and loaders for .txt/.md news pages, .html and .jsonl; cleaning.

Loaders never raise for bad content: every problem becomes a `LoadFailure`, so one broken
file (or jsonl line) cannot stop an ingest of thousands.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import yaml


@dataclass(frozen=True)
class Article:
    id: str                      # stable id (file stem slug, or the jsonl record id)
    title: str
    text: str                    # cleaned text: every passage span and citation points into it
    published: str | None = None # ISO 8601, e.g. "2016-04-30T14:06:00+09:00" or "2016-04-30"
    modified: str | None = None
    author: str | None = None
    source: str | None = None    # publication / site, e.g. "hani.co.kr", "bbc"
    url: str | None = None
    category: str | None = None
    path: str | None = None      # where it was loaded from ("file.jsonl:12" for a jsonl line)

    @property
    def content_hash(self) -> str:
        """sha256 over what the article says (not its id or path): the same article under two
        file names hashes alike, which is how an ingest recognises it as a duplicate."""
        d = asdict(self)
        d.pop("path")
        d.pop("id")
        blob = json.dumps(d, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class LoadFailure:
    path: str      # file path (for a jsonl line: "file.jsonl:LINE")
    error: str     # human message, e.g. "empty file", "line 3: invalid JSON (...)"


ALLOWED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl")
MAX_FILE_BYTES = 50 * 1024 * 1024
TITLE_MAX_CHARS = 90
# Field names recognised in YAML front matter and jsonl records; the first non-empty wins.
_TEXT_KEYS = ("body", "text", "article", "content")
_FIELD_KEYS = {
    "title": ("title", "headline"), "author": ("author", "authors", "byline"),
    "published": ("date", "published", "published_at", "publish_date", "pubdate"),
    "modified": ("modified", "updated", "modified_at", "updated_at"),
    "source": ("source", "site", "publisher", "sitename"), "url": ("url", "link"),
    "category": ("category", "categories", "section"),
}

# ---------------------------------------------------------------- discovery


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[LoadFailure]]:
    """Expand files/folders (recursively, sorted) into the list of loadable files."""
    files: list[Path] = []
    failures: list[LoadFailure] = []
    seen: set[Path] = set()  # resolved files and dirs: symlink loops and aliases count once

    def first_visit(p: Path) -> bool:
        try:
            real = p.resolve()
        except (OSError, RuntimeError):  # RuntimeError: symlink loop on Python < 3.13
            real = p.absolute()
        if real in seen:
            return False
        seen.add(real)
        return True

    def walk(folder: Path) -> None:
        try:
            entries = sorted(folder.iterdir(), key=lambda e: e.name)
        except OSError as e:
            failures.append(LoadFailure(str(folder), f"cannot list folder ({e.strerror or e})"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir() and first_visit(entry):
                walk(entry)
            elif entry.is_file() and entry.suffix.lower() in ALLOWED_SUFFIXES and first_visit(entry):
                files.append(entry)
            elif (entry.is_symlink() and not entry.exists()
                  and entry.suffix.lower() in ALLOWED_SUFFIXES + ("",)):
                # A link that leads nowhere is an article the user meant to add: say so.
                failures.append(LoadFailure(str(entry), _broken_link(entry)))

    for p in map(Path, paths):
        if p.is_dir():
            if first_visit(p):
                walk(p)
        elif p.is_file():  # named explicitly: taken even if hidden, but the type must fit
            if p.suffix.lower() not in ALLOWED_SUFFIXES:
                failures.append(LoadFailure(str(p), _bad_suffix(p)))
            elif first_visit(p):
                files.append(p)
        elif p.is_symlink() and not p.exists():
            failures.append(LoadFailure(str(p), _broken_link(p)))
        else:
            failures.append(LoadFailure(str(p), "not a regular file or folder" if p.exists()
                                        else "no such file or folder"))
    return files, failures


def _broken_link(p: Path) -> str:
    try:
        p.resolve(strict=True)
    except FileNotFoundError:
        return f"broken symbolic link (its target {os.readlink(p)} does not exist)"
    except (OSError, RuntimeError):  # ELOOP; RuntimeError on Python < 3.13
        return "symbolic link loop (the link leads back to itself)"
    return "no such file or folder"


def _bad_suffix(p: Path) -> str:
    return f"unsupported file type '{p.suffix or '(none)'}' (allowed: {', '.join(ALLOWED_SUFFIXES)})"

# ---------------------------------------------------------------- loading


def load_file(path: Path) -> tuple[list[Article], list[LoadFailure]]:
    """Load one file: one article for .txt/.md/.html, one per line for .jsonl."""
    path = Path(path)
    suffix = path.suffix.lower()

    def failed(error: str) -> tuple[list[Article], list[LoadFailure]]:
        return [], [LoadFailure(str(path), error)]

    if suffix not in ALLOWED_SUFFIXES:
        return failed(_bad_suffix(path))
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            shown = f"{size / 2**20:.1f} MB"
            if float(shown.split()[0]) <= MAX_FILE_BYTES / 2**20:   # "50.0 MB > 50 MB" misleads
                shown = f"{size:,} bytes"
            return failed(f"file too large ({shown} > {MAX_FILE_BYTES // 2**20} MB)")
        data = path.read_bytes()
    except OSError as e:
        return failed(f"cannot read file ({e.strerror or e})")
    if _looks_binary(data):
        return failed("binary file, not text")
    text, was_utf8 = _decode(data)
    if not text.strip():
        return failed("empty file")
    if suffix == ".jsonl":
        return _load_jsonl(path, text)
    if suffix in (".html", ".htm"):
        # Non-UTF-8 HTML goes to trafilatura as bytes, so that it can honour <meta charset>.
        article, error = _load_html(path, text if was_utf8 else data)
    else:
        article, error = _load_text(path, text)
    return ([article], []) if article else failed(error or "no article text found")


def _looks_binary(data: bytes) -> bool:
    sample = data[:65536]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return b"\x00" in sample or controls > len(sample) * 0.05


def _decode(data: bytes) -> tuple[str, bool]:
    """Normalised text (no BOM, "\\n" line ends, no control chars); True if it was UTF-8."""
    try:
        return _normalise(data.decode("utf-8").lstrip("\ufeff")), True
    except UnicodeDecodeError:
        pass
    # UTF-8 with a few corrupt bytes stays UTF-8 (each bad byte becomes U+FFFD): reading the
    # whole file as cp1252 would garble every correct accent in it ("cafÃ©").
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd") - data.count("\ufffd".encode("utf-8"))
    decoded_non_ascii = sum(1 for ch in lenient if ord(ch) > 127) - lenient.count("\ufffd")
    if decoded_non_ascii > bad:
        return _normalise(lenient.lstrip("\ufeff")), True
    try:  # cp1252 is the "Latin-1" real files use: curly quotes live at 0x80-0x9F
        return _normalise(data.decode("cp1252")), False
    except UnicodeDecodeError:  # one of the five bytes cp1252 leaves undefined
        return _normalise(data.decode("latin-1")), False


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    return _CONTROL_RE.sub("", text)

# ---------------------------------------------------------------- .txt / .md news pages


_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_STAMP_RE = re.compile(
    r"(?P<label>(?:Posted|Published|Modified|Updated)(?: on)?)\s*:?\s*"
    r"(?P<y>\d{4})[-./](?P<m>\d{1,2})[-./](?P<d>\d{1,2})"
    r"(?:[ T]+(?P<time>\d{1,2}:\d{2}(?::\d{2})?))?(?:\s*(?P<tz>Z|[+-]\d{2}:?\d{2}|[A-Z]{2,5})\b)?",
    re.I)
# Only unambiguous abbreviations: CST/IST name several zones, so those stay naive.
_TZ_OFFSETS = {
    "KST": "+09:00", "JST": "+09:00", "HKT": "+08:00", "SGT": "+08:00", "UTC": "+00:00",
    "GMT": "+00:00", "Z": "+00:00", "BST": "+01:00", "CET": "+01:00", "CEST": "+02:00",
    "EST": "-05:00", "EDT": "-04:00", "PST": "-08:00", "PDT": "-07:00", "AEST": "+10:00",
}
_CONTACT_RE = re.compile(r"^Please direct questions or comments to\s*\[?\s*\S+?@([^\s\]]+?)\s*\]?\.?$", re.I)
_BUTTON_RE = re.compile(r"^button that move to original \w+ article", re.I)
_TRAILER_RE = re.compile(r"^(related stories|most viewed articles)\b", re.I)
# "By" + capitalised names joined by and/&/commas, then an optional ", role" (no full stop,
# so that a sentence such as "By Friday, the company had sold out." is not taken).
_NAME = r"[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*"
_BYLINE_RE = re.compile(rf"^By\s+(?P<names>{_NAME}(?:\s*(?:,|and|&)\s*{_NAME})*?)(?:\s*,\s*[^.!?]*)?$")


def _load_text(path: Path, text: str) -> tuple[Article | None, str | None]:
    meta: dict = {}
    front = _FRONT_MATTER_RE.match(text)
    if front:
        try:
            meta = yaml.safe_load(front.group(1) or "") or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at front-matter line {mark.line + 1}" if mark else ""
            problem = " ".join(str(getattr(e, "problem", None) or e).split())
            return None, f"invalid YAML front matter in {path.name}{where}: {problem}"
        if not isinstance(meta, dict):
            return None, f"front matter in {path.name} is not a key: value mapping"
        text = text[front.end():]

    fm_title = _meta_value(meta.get("title"))
    lines = [line.strip() for line in text.split("\n")]
    title = None
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is not None:
        candidate = re.sub(r"^#{1,6}\s+", "", lines[first])
        # With a front-matter title the first line is body text unless it repeats that
        # title; a very long first line is a paragraph, not a headline.
        if (fm_title is None and len(candidate) <= 200) or candidate == fm_title:
            title, lines = candidate, lines[first + 1:]

    fields, body = _clean_news_lines(lines)
    text = _paragraphs(body, join_wrapped=True) or (title if title != fm_title else "")
    if not text:  # (a one-line file keeps its line as the text, above)
        return None, "no article text found"
    fields["title"] = title or _title_from_text(text) or path.stem
    fields.update({k: v for k, v in _metadata(meta).items() if v})
    article_id = _meta_value(meta.get("id")) or _slug(path.stem)
    return Article(id=article_id, text=text, path=str(path), **fields), None


def _clean_news_lines(lines: list[str]) -> tuple[dict, list[str]]:
    """Pull metadata lines (dateline, byline, contact) out and drop page furniture."""
    fields: dict = {}
    body: list[str] = []
    for line in lines:
        if _TRAILER_RE.match(line):
            break  # everything after "Related stories" / "Most viewed" is site navigation
        if _BUTTON_RE.match(line):
            continue
        contact = _CONTACT_RE.match(line)
        if contact:
            fields.setdefault("source", contact.group(1).lower())
        elif line and _is_dateline(line):
            for stamp in _STAMP_RE.finditer(line):
                key = "modified" if stamp["label"][0] in "MmUu" else "published"
                fields.setdefault(key, _stamp_iso(stamp))
        elif "author" not in fields and len(line) <= 150 and _BYLINE_RE.match(line):
            fields["author"] = _BYLINE_RE.match(line)["names"].strip()
        # A photo caption is often printed twice in a row (alt text + caption): keep one.
        elif not line or line != next((b for b in reversed(body) if b), None):
            body.append(line)
    return {k: v for k, v in fields.items() if v}, body


def _is_dateline(line: str) -> bool:
    rest = _STAMP_RE.sub("", line)
    return rest != line and not rest.strip(" |·•-–—,;")


def _stamp_iso(stamp: re.Match) -> str | None:
    clock = [int(part) for part in (stamp["time"] or "").split(":") if part]
    try:
        when = datetime(int(stamp["y"]), int(stamp["m"]), int(stamp["d"]), *clock)
    except ValueError:
        return None
    if not clock:
        return when.date().isoformat()
    tz = (stamp["tz"] or "").upper()
    if re.fullmatch(r"[+-]\d{2}:?\d{2}", tz):
        return when.isoformat() + tz[:3] + ":" + tz[-2:]
    return when.isoformat() + _TZ_OFFSETS.get(tz, "")


_SENTENCE_END = tuple(".!?:;\"”’')]")


def _paragraphs(lines: Iterable[str], join_wrapped: bool = False) -> str:
    """One paragraph per line, separated by a blank line.

    With join_wrapped (plain-text files), a line starting in lower case right after a line
    that ends mid-sentence is a hard-wrapped continuation: it is joined with a space.
    """
    paras: list[str] = []
    continuing = False
    for line in lines:
        # Only ASCII spaces/tabs collapse: NBSP and friends are content and must survive.
        line = re.sub(r"[ \t]+", " ", line.strip())
        if join_wrapped and continuing and line[:1].islower() and not paras[-1].endswith(_SENTENCE_END):
            paras[-1] += " " + line
        elif line:
            paras.append(line)
        continuing = bool(line)
    return "\n\n".join(paras)

# ---------------------------------------------------------------- .html


def _load_html(path: Path, html: str | bytes) -> tuple[Article | None, str | None]:
    return html_article(html, article_id=_slug(path.stem), path=str(path),
                        fallback_title=path.stem)


def html_article(html: str | bytes, *, article_id: str, path: str, url: str | None = None,
                 fallback_title: str | None = None) -> tuple[Article | None, str | None]:
    """One web page's main text and metadata through trafilatura (a file or a fetched URL)."""
    import trafilatura  # heavy import, only needed for HTML

    try:
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True,
                                          include_comments=False, include_tables=True,
                                          favor_recall=True)
    except Exception as e:  # third-party parser on arbitrary markup: report, don't crash ingest
        return None, f"HTML extraction failed ({type(e).__name__}: {e})"
    if doc is None or not (doc.text or "").strip():
        return None, "no article text found"
    lines = _normalise(doc.text).split("\n")
    title = " ".join((doc.title or "").split()) or None
    if title and " ".join(lines[0].split()) == title:
        lines = lines[1:]  # the <h1> repeats the title
    fields, body = _clean_news_lines(lines)
    text = _paragraphs(body)
    if not text:
        return None, "no article text found"
    found = {"title": title, "published": _iso_date(doc.date), "author": doc.author,
             "source": doc.sitename, "url": doc.url or url,
             "category": ", ".join(doc.categories or [])}
    fields.update({k: v for k, v in found.items() if v})
    fields["title"] = fields.get("title") or _title_from_text(text) or fallback_title or article_id
    fields["source"] = fields.get("source") or _domain(fields.get("url"))
    return Article(id=article_id, text=text, path=path, **fields), None

# ---------------------------------------------------------------- .jsonl


def _load_jsonl(path: Path, text: str) -> tuple[list[Article], list[LoadFailure]]:
    articles: list[Article] = []
    failures: list[LoadFailure] = []
    seen_ids: set[str] = set()
    # split("\n"), not splitlines(): U+2028 and friends may appear raw inside JSON strings.
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as e:
            error = f"invalid JSON ({e.msg} at column {e.colno})"
        else:
            article, error = (_record_to_article(record, path, where) if isinstance(record, dict)
                              else (None, "not a JSON object"))
            if article and article.id in seen_ids:
                # The store is keyed by id: a second record would silently replace the first.
                article, error = None, f"duplicate id {article.id!r}"
            if article:
                seen_ids.add(article.id)
                articles.append(article)
                continue
        failures.append(LoadFailure(where, f"line {number}: {error}"))
    return articles, failures


def _record_to_article(record: dict, path: Path, where: str) -> tuple[Article | None, str | None]:
    fields = _metadata(record)
    lines = _normalise(_first(record, _TEXT_KEYS, _text_value) or "").split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    if fields["title"] and " ".join(lines[first].split()) == fields["title"]:
        lines = lines[first + 1:]  # e.g. BBC: the article repeats its headline as line 1
    text = _paragraphs(lines)
    if not text:
        return None, f"no article text (expected one of {'/'.join(_TEXT_KEYS)})"
    fields["title"] = fields["title"] or _title_from_text(text) or path.stem
    fields["source"] = fields["source"] or _domain(fields["url"]) or path.stem
    record_id = "" if record.get("id") is None else str(record["id"]).strip()
    record_id = record_id or f"{path.stem}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"
    return Article(id=record_id, text=text, path=where, **fields), None

# ---------------------------------------------------------------- shared helpers


def _metadata(mapping: dict) -> dict[str, str | None]:
    return {key: _first(mapping, names, _iso_date if key in ("published", "modified") else _meta_value)
            for key, names in _FIELD_KEYS.items()}


def _first(mapping: dict, keys: Iterable[str], convert) -> str | None:
    return next((v for v in (convert(mapping[k]) for k in keys if k in mapping) if v), None)


def _meta_value(value) -> str | None:
    """A metadata value as one clean line: lists joined by ", ", {"name": ...} unwrapped."""
    if isinstance(value, dict):
        value = value.get("name") or value.get("title")
    if isinstance(value, (list, tuple)):
        value = ", ".join(v for v in map(_meta_value, value) if v)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return " ".join(_normalise(str(value)).split()) or None


def _text_value(value) -> str | None:
    if isinstance(value, list):  # a list of paragraphs
        value = "\n\n".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) and value.strip() else None


def _iso_date(value) -> str | None:
    """ISO 8601 or None: the field's contract is ISO, so an unknown format is dropped."""
    text = _meta_value(value)  # YAML dates/datetimes come back already in ISO form
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
        return parsed.date().isoformat() if len(text) == 10 else parsed.isoformat()
    except ValueError:
        pass
    try:  # RFC 2822, as in RSS feeds: "Sat, 30 Apr 2016 14:06:00 +0900"
        return parsedate_to_datetime(text).isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def _title_from_text(text: str) -> str | None:
    """First sentence, cut on a word boundary near TITLE_MAX_CHARS (for untitled records)."""
    first = re.sub(r"^(?:[A-Z][A-Z .,'-]*)?\(CNN\)\s*(?:--\s*)?", "", text.split("\n", 1)[0])
    sentence = re.split(r"(?<=[.!?])\s+(?=[\"“‘'A-Z0-9])", first, maxsplit=1)[0].strip()
    if len(sentence) <= TITLE_MAX_CHARS:
        return sentence or None
    cut = sentence[:TITLE_MAX_CHARS + 1]  # one extra char: a space there is a clean cut
    cut = cut.rsplit(" ", 1)[0] if " " in cut else cut[:TITLE_MAX_CHARS]
    return cut.rstrip(" ,;:-–—") + "…"


def _domain(url: str | None) -> str | None:
    """Host of a url without "www."; web.archive.org wrappers give the archived site's host."""
    if not url:
        return None
    archived = re.match(r"^(?:https?://)?web\.archive\.org/web/[^/]+/(.+)$", url.strip(), re.I)
    url = archived.group(1) if archived else url.strip()
    try:
        host = urlsplit(url if "://" in url else "http://" + url).hostname or ""
    except ValueError:
        return None
    return re.sub(r"^(?:(?:www\d?|m|amp|mobile|edition)\.)+", "", host.lower()) or None


def _slug(stem: str) -> str:
    slug = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9_-]", "-", stem.lower())).strip("-")
    return slug or "doc-" + hashlib.sha1(stem.encode("utf-8")).hexdigest()[:12]
