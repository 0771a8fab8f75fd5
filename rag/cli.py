"""`python -m rag ...`: readable output by default, exactly one JSON document with --json.

Progress and logs go to stderr, so scripts can parse stdout as it is.
"""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from .config import Settings, apply_offline_env
from .errors import InputError, RagError


def _emit(args, payload, human) -> None:
    if args.json:
        json.dump(payload, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(human(payload))


def _progress_bar(args):
    from tqdm import tqdm
    bar = {"tqdm": None}

    def update(done: int, total: int) -> None:
        if bar["tqdm"] is None:
            bar["tqdm"] = tqdm(total=total, unit="passage", file=sys.stderr, dynamic_ncols=True,
                               desc="embedding")
        bar["tqdm"].total = max(total, done)   # grows while files are still being read
        bar["tqdm"].update(done - bar["tqdm"].n)

    update.close = lambda: bar["tqdm"] is not None and bar["tqdm"].close()
    return update


def _filters(args):
    from .retrieve import Filters
    return Filters(article_ids=tuple(args.article or ()), source=args.source,
                   since=args.since, until=args.until)


def cmd_ingest(args, pipeline) -> int:
    from .fetch import is_url
    urls = [p for p in args.paths if is_url(p)]
    paths = [Path(p) for p in args.paths if not is_url(p)]
    progress = _progress_bar(args)
    report = pipeline.ingest(paths, prune=args.prune, progress=progress, urls=urls)
    progress.close()

    def human(d):
        lines = [f"added {d['added']}, updated {d['updated']}, unchanged {d['unchanged']}, "
                 f"removed {d['removed']}; store: {d['articles']} articles, {d['passages']} passages"]
        lines += [f"duplicate: {x['path']} is the same article as {x['same_as']}" for x in d["duplicates"]]
        lines += [f"FAILED {x['path']}: {x['error']}" for x in d["failed"]]
        return "\n".join(lines)
    _emit(args, report.to_dict(), human)
    return 1 if report.failed else 0


def cmd_articles(args, pipeline) -> int:
    rows = [{"id": r.article.id, "title": r.article.title, "published": r.article.published,
             "author": r.article.author, "source": r.article.source, "url": r.article.url,
             "passages": r.passages} for r in pipeline.articles()]
    _emit(args, rows, lambda rs: "\n".join(
        f"{r['id']}  {(r['published'] or '')[:10]:10}  {r['title']}  ({r['passages']} passages)"
        for r in rs) or "(no articles)")
    return 0


def cmd_show(args, pipeline) -> int:
    record = pipeline.article(args.id)
    if record is None:
        print(f"no article with id {args.id!r}", file=sys.stderr)
        return 1
    a = record.article
    payload = {"id": a.id, "title": a.title, "published": a.published, "modified": a.modified,
               "author": a.author, "source": a.source, "url": a.url, "category": a.category,
               "text": a.text}
    _emit(args, payload, lambda d: f"{d['title']}\n{d['published'] or ''}  {d['author'] or ''}  "
                                   f"{d['source'] or ''}\n\n{d['text']}")
    return 0


def _read_history(path: str | None):
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"--history {path}: {exc}") from None


def cmd_ask(args, pipeline) -> int:
    answer = pipeline.ask(args.question, k=args.k, filters=_filters(args),
                          history=_read_history(args.history))

    def human(d):
        out = [textwrap.fill(d["answer"], 100)]
        for c in d["citations"]:
            out.append(f"[{c['n']}] {c['title']} ({(c['published'] or 'undated')[:10]}, "
                       f"{c['source'] or 'unknown source'}) chars {c['start']}-{c['end']}")
        return "\n".join(out)
    _emit(args, answer.to_dict(), human)
    return 0


def cmd_quotes(args, pipeline) -> int:
    """One person's quotations across the archive, oldest first (undated last)."""
    from .quotes.people import AmbiguousSpeaker
    try:
        person, quotes = pipeline.quotes_by(args.name, args.about, _filters(args), args.limit)
    except AmbiguousSpeaker as exc:
        if args.json:
            print(json.dumps({"error": str(exc), "candidates": exc.candidates}, ensure_ascii=False))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if person is None:
        if args.json:
            print(json.dumps({"error": f"no quotations by {args.name!r}", "speaker": None,
                              "quotes": []}, ensure_ascii=False))
        print(f"no quotations by {args.name!r}", file=sys.stderr)
        return 1
    payload = {"speaker": person.name, "quotes": [q.to_dict() for q in quotes]}

    def human(d):
        out = [f"{d['speaker']}: {len(d['quotes'])} quotations"]
        for q in d["quotes"]:
            out.append(f"{(q['published'] or 'undated')[:10]}  {q['title']} ({q['source'] or ''}, "
                       f"{q['article_id']} chars {q['start']}-{q['end']})")
            out.append(textwrap.indent(textwrap.fill(f"{q['cue'] or 'said'}: “{q['quote']}”", 96), "    "))
        return "\n".join(out)
    _emit(args, payload, human)
    return 0


def cmd_people(args, pipeline) -> int:
    """Everyone quoted: quotation counts, first and last date, sources, roles."""
    people = [p.to_dict() for p in pipeline.people(args.about)]
    _emit(args, people, lambda ps: "\n".join(
        f"{p['quotes']:5}  {p['name']}  {(p['first'] or '')[:10]}..{(p['last'] or '')[:10]}  "
        f"{', '.join(p['roles'][:2])}  [{', '.join(p['sources'])}]" for p in ps) or "(nobody quoted)")
    return 0


def cmd_delete(args, pipeline) -> int:
    ok = pipeline.delete(args.id)
    _emit(args, {"id": args.id, "deleted": ok},
          lambda d: f"deleted {d['id']}" if d["deleted"] else f"no article with id {d['id']!r}")
    return 0 if ok else 1


def cmd_check(args, pipeline) -> int:
    from .store import consistency_problems
    problems = consistency_problems(pipeline.store)
    _emit(args, {"ok": not problems, "problems": problems},
          lambda d: "store is consistent" if d["ok"] else "\n".join(d["problems"]))
    return 0 if not problems else 1


def cmd_summarize(args, pipeline) -> int:
    def human(d):
        head = ", ".join(d["ids"]) + (" (cached)" if d["cached"] else "")
        cites = [f"[{c['n']}] {c['title']} ({(c['published'] or 'undated')[:10]}) "
                 f"chars {c['start']}-{c['end']}" for c in d["citations"]]
        return "\n".join([head, d["summary"], *cites])

    if args.each:
        # One JSON object per line, one process: scripts don't pay the start-up per article.
        status = 0
        for article_id in args.each:
            try:
                row = {"id": article_id, **pipeline.summarize([article_id], args.sentences).to_dict()}
            except InputError as exc:
                row, status = {"id": article_id, "error": str(exc)}, 1
            if args.json:
                print(json.dumps(row, ensure_ascii=False), flush=True)
            else:
                print(row.get("error") or human(row), end="\n\n", flush=True)
        return status
    if args.query:
        summary = pipeline.summarize_topic(args.query, args.sentences, _filters(args))
    else:
        summary = pipeline.summarize(args.ids, args.sentences)
    _emit(args, summary.to_dict(), human)
    return 0


def cmd_timeline(args, pipeline) -> int:
    timeline = pipeline.timeline(args.topic, _filters(args), args.period)

    def human(d):
        lines = [f"timeline: {d['topic']}"]
        for e in d["entries"] + d["undated"]:
            also = f" (also: {', '.join(a['source'] or a['article_id'] for a in e['also'])})" \
                if e["also"] else ""
            lines.append(f"{(e['published'] or 'undated')[:10]}  {e['source'] or '-'}  "
                         f"{e['title']} [{e['article_id']} {e['start']}-{e['end']}]{also}\n"
                         f"    {e['sentence']}")
        lines += [f"{c['period']}  {c['source']}: {c['articles']}" for c in d["coverage"]]
        if len(lines) == 1:
            return f"nothing in the archive about {d['topic']!r}"
        return "\n".join(lines)
    _emit(args, timeline.to_dict(), human)
    return 0


def cmd_watch(args, pipeline) -> int:
    """Re-sync until interrupted; one line per change (one JSON object per line with --json)."""
    from .fetch import is_url
    from .watch import describe, parse_interval, watch
    every = parse_interval(args.every)
    urls = [p for p in args.paths if is_url(p)]
    paths = [Path(p) for p in args.paths if not is_url(p)]

    def emit(event: dict) -> None:
        print(json.dumps(event, ensure_ascii=False) if args.json
              else f"{event['time']}  {describe(event)}", flush=True)

    print(f"watch: syncing {', '.join(args.paths) or str(pipeline.settings.corpus)} every "
          f"{args.every}; Ctrl-C stops", file=sys.stderr)
    try:
        watch(pipeline, paths, urls, every, prune=args.prune, rounds=args.rounds, emit=emit)
    except KeyboardInterrupt:
        print("watch: stopped", file=sys.stderr)
    return 0


def cmd_feedback(args, settings) -> int:
    """List answer feedback (every user's, or --user's); `export FILE.yaml` writes eval cases."""
    from .conversations import Conversations, NotFound
    from .feedback import describe, export_suite
    store = Conversations.under(settings.home)
    rows = store.feedback(args.user)
    if args.action is None:
        _emit(args, rows, lambda rs: "\n".join(map(describe, rs)) or "(no feedback)")
        return 0
    if args.action != "export" or not args.file:
        raise InputError("feedback: expected `feedback` or `feedback export FILE.yaml`")
    histories = {}
    for row in rows:
        if row["conversation_id"] and row["turn"]:
            try:
                turns = store.get(row["user"], row["conversation_id"])["turns"]
            except NotFound:      # the conversation was deleted since: the case stands alone
                continue
            histories[row["id"]] = [t for t in turns if t["turn"] < row["turn"]]
    out = Path(args.file)
    tmp = out.with_name(f".{out.name}.part")
    tmp.write_text(export_suite(rows, histories), encoding="utf-8")
    tmp.replace(out)
    up = sum(1 for r in rows if r["rating"] > 0)
    _emit(args, {"file": str(out), "cases": len(rows), "regression": up,
                 "review": len(rows) - up},
          lambda d: f"wrote {d['file']}: {d['regression']} regression case(s), {d['review']} "
                    "marked for review")
    return 0


def cmd_passwd(args, settings) -> int:
    """Print a users-file line for RAG_AUTH (the password is read from stdin, never an argument)."""
    import getpass
    from .users import hash_password
    if ":" in args.name or not args.name.strip():
        raise InputError(f"user name {args.name!r}: must be non-empty, without ':'")
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline()
    password = password.rstrip("\n")
    if not password:
        raise InputError("password: empty")
    line = f"{args.name}:{hash_password(password)}"
    _emit(args, {"line": line}, lambda d: d["line"])
    return 0


def cmd_reindex(args, pipeline) -> int:
    """Rebuild every passage vector with the configured model and backend (store not yet opened)."""
    from .ingest import reindex
    pipeline.store.open(check_signature=False)
    progress = _progress_bar(args)
    result = reindex(pipeline.store, pipeline.embedder, pipeline.settings, progress)
    progress.close()
    _emit(args, result, lambda d: f"reindexed {d['articles']} articles, {d['passages']} passages "
                                  f"with {d['embed_model']} ({d['embed_backend']})")
    return 0


PLUGIN_GROUP = "rag.commands"


def load_plugins(command) -> None:
    """Subcommands other installed packages register under the `rag.commands` entry point
    (the repository's eval/ package adds `eval` and `bench`), as simonw/llm's plugins do:
    the library never imports them by name. A plugin that fails to load is reported, not fatal."""
    from importlib.metadata import entry_points
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            ep.load()(command)
        except Exception as exc:   # a broken plugin must not take the core commands down
            print(f"warning: command plugin {ep.name} ({ep.value}) not loaded: {exc}",
                  file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rag", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, func, help_, needs_pipeline=True):
        """A subcommand with --json; `func(args, pipeline)`, or `func(args, settings)` when it
        builds what it needs itself (`needs_pipeline=False`)."""
        p = sub.add_parser(name, help=help_)
        p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        p.set_defaults(func=func, needs_pipeline=needs_pipeline)
        return p

    p = command("ingest", cmd_ingest, "sync files, folders, web pages and RSS/Atom feeds into "
                "the store (default: corpus/)")
    p.add_argument("paths", nargs="*", metavar="PATH|URL")
    p.add_argument("--prune", action="store_true", help="delete articles whose source is gone")
    command("articles", cmd_articles, "list stored articles")
    p = command("show", cmd_show, "print one article's cleaned text and metadata")
    p.add_argument("id")
    p = command("ask", cmd_ask, "answer a question with cited passages")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=None, help="passages to read (default RAG_TOP_K)")
    p.add_argument("--article", action="append", help="only this article id (repeatable)")
    p.add_argument("--source")
    p.add_argument("--since", help="YYYY-MM-DD")
    p.add_argument("--until", help="YYYY-MM-DD")
    p.add_argument("--history", help='JSON file: a list of earlier {"question","answer"} turns')
    p = command("timeline", cmd_timeline, "a story's articles oldest first, one cited sentence each")
    p.add_argument("topic")
    p.add_argument("--source")
    p.add_argument("--since", help="YYYY-MM-DD")
    p.add_argument("--until", help="YYYY-MM-DD")
    p.add_argument("--period", choices=("month", "week"), default="month",
                   help="coverage counted per month (default) or ISO week")
    p.add_argument("--article", action="append", help=argparse.SUPPRESS)
    p = command("summarize", cmd_summarize, "cited summary of one article, or across several")
    p.add_argument("ids", nargs="*", help="article id(s): several give one summary across them")
    p.add_argument("--query", help="summarize the articles matching this topic")
    p.add_argument("--each", nargs="+", metavar="ID",
                   help="a separate summary per article, one JSON object per line with --json")
    p.add_argument("--sentences", type=int, default=None, help="summary length (default 3)")
    p.add_argument("--article", action="append", help=argparse.SUPPRESS)
    p.add_argument("--source", help="with --query: only this source")
    p.add_argument("--since", help="with --query: YYYY-MM-DD")
    p.add_argument("--until", help="with --query: YYYY-MM-DD")
    p = command("quotes", cmd_quotes, "what one person said, across the archive, oldest first")
    p.add_argument("name", help='the person: full name, surname or "Mr Surname"')
    p.add_argument("--about", help="only quotations on this topic")
    p.add_argument("--since", help="YYYY-MM-DD")
    p.add_argument("--until", help="YYYY-MM-DD")
    p.add_argument("--source")
    p.add_argument("--article", action="append", help=argparse.SUPPRESS)
    p.add_argument("--limit", type=int, default=None, help="at most N quotations")
    p = command("people", cmd_people, "everyone quoted, with counts, dates, sources and roles")
    p.add_argument("--about", help="only people quoted on this topic")
    p = command("delete", cmd_delete, "delete an article and its passages")
    p.add_argument("id")
    p = command("watch", cmd_watch, "re-sync folders, pages and feeds until stopped, one line "
                "per change (JSON lines with --json)")
    p.add_argument("paths", nargs="*", metavar="PATH|URL")
    p.add_argument("--every", default="15m", help="interval: 30s, 15m, 1h (default 15m)")
    p.add_argument("--prune", action="store_true", help="delete articles whose file is gone")
    p.add_argument("--rounds", type=int, default=None, help="stop after N syncs (default: never)")
    p = command("feedback", cmd_feedback, "list answer feedback; `feedback export FILE.yaml` "
                "writes it as eval cases", needs_pipeline=False)
    p.add_argument("action", nargs="?", choices=["export"])
    p.add_argument("file", nargs="?", help="with export: the YAML file to write")
    p.add_argument("--user", help="only this user's feedback (default: every user's)")
    p = command("passwd", cmd_passwd, "print a RAG_AUTH users-file line (password from stdin)",
                needs_pipeline=False)
    p.add_argument("name")
    command("check", cmd_check, "check the store's invariants")
    command("reindex", cmd_reindex, "re-embed all stored articles with the configured backend")
    load_plugins(command)
    return parser


def main(argv: list[str] | None = None, pipeline=None) -> int:
    """Run one command; tests may pass a ready `pipeline` to reuse a loaded model.

    The library's own errors (rag.errors) become a message and their exit code: 2 for bad input
    or a store/model that cannot be used, 1 for an unknown id. Anything else is a bug and keeps
    its traceback."""
    apply_offline_env()
    args = build_parser().parse_args(argv)
    args.emit = lambda payload, human: _emit(args, payload, human)
    from .pipeline import Pipeline
    try:
        if not args.needs_pipeline:
            return args.func(args, Settings.from_env())
        if pipeline is None:
            pipeline = Pipeline(Settings.from_env())
            if args.func is not cmd_reindex:   # reindex opens a store of another signature
                pipeline.open()
        return args.func(args, pipeline)
    except RagError as exc:
        if args.json:
            json.dump({"error": str(exc)}, sys.stdout)
            sys.stdout.write("\n")
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
