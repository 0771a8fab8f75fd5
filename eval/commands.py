"""`python -m rag eval` and `python -m rag bench`, registered through the `rag.commands` entry
point (pyproject.toml): the library's CLI lists them without importing this package by name."""
from __future__ import annotations

import sys
from pathlib import Path


def cmd_eval(args, pipeline) -> int:
    from .report import markdown, write_report
    from .runner import pipeline_for_suite, run_suite, runs_on_archive, suite_names
    names = suite_names() if args.suite == "all" else [args.suite]
    runs = []
    for name in names:
        print(f"eval: running suite {name}", file=sys.stderr)
        suite_pipeline = pipeline if runs_on_archive(name) else pipeline_for_suite(
            pipeline.settings, name, embedder=pipeline.embedder)
        runs.append(run_suite(name, suite_pipeline))
        if runs[-1]["review"]:
            print(f"eval: {len(runs[-1]['review'])} case(s) marked for review were not run: "
                  f"{', '.join(runs[-1]['review'])}", file=sys.stderr)
    if args.report:
        for path in write_report(runs, Path(args.report), pipeline.settings.refuse_below):
            print(f"eval: wrote {path}", file=sys.stderr)
    failures = [f for r in runs for f in r["failures"]]

    def human(rs):
        return markdown(rs["suites"], pipeline.settings.refuse_below) + (
            "\n".join(f"FAILED {f}" for f in failures) or "all thresholds met")
    args.emit({"suites": runs, "failures": failures}, human)
    return 1 if failures else 0


def cmd_bench(args, settings) -> int:
    """Throughput, latency and memory figures; builds its own stores in a temporary folder."""
    import json

    from .bench import human_summary, run_bench
    from .bench_quotes import run_quote_bench
    result = run_bench(settings, sizes=args.sizes)
    if not args.no_quotes:
        result["quotes"] = run_quote_bench(settings)
    if args.report:
        out = Path(args.report)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    args.emit(result, human_summary)
    return 0


def register(command) -> None:
    """Add the eval side's subcommands; `command(name, func, help, needs_pipeline)` is the
    CLI's own helper (it adds --json and returns the subparser)."""
    p = command("eval", cmd_eval, "run eval suites (eval/cases) and gate on eval/thresholds.yaml")
    p.add_argument("--suite", default="all",
                   help="suite name (seed, bbc, ...), all, or a suite file such as one written "
                        "by `feedback export FILE.yaml` (no corpus: runs on the archive)")
    p.add_argument("--report", help="write report.md, report.json and plots to this folder")
    p = command("bench", cmd_bench, "measure encoder, ingest, answer latency, memory, cold start",
                needs_pipeline=False)
    p.add_argument("--report", metavar="DIR", help="also write the JSON result into DIR")
    p.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")],
                   default=[1000, 10000, 100000], help="store sizes in passages (default "
                   "1000,10000,100000)")
    p.add_argument("--no-quotes", action="store_true",
                   help="skip the quote-index figures (extraction share, speaker questions)")
