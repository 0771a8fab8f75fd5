"""`python -m rag watch [PATH|URL ...] [--every 15m]`: keep the archive in line with folders
and feeds until stopped.

Each round is one ordinary sync (pages and feed entries fetched anew, files re-read), so the
content hash decides: unchanged articles write nothing and print nothing, a changed one is
replaced. One line per change (added, updated, removed with --prune); a failure is printed
when it appears or its message changes, not again every round, and `ok` when it clears.
"""
from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

from .errors import InputError

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.I)
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """'15m', '30s', '2h', '1d' or plain seconds; at least one second."""
    match = _INTERVAL.match(str(text))
    if not match:
        raise InputError(f"watch interval {text!r}: expected a number with s, m, h or d, "
                         "e.g. 15m")
    seconds = float(match.group(1)) * _SECONDS[match.group(2).lower()]
    if seconds < 1:
        raise InputError(f"watch interval {text!r}: at least 1s")
    return seconds


def change_lines(report, failing: dict[str, str]) -> list[dict]:
    """What a sync changed, as events; `failing` (source -> last error) is updated in place."""
    events = [dict(c) for c in report.changes]
    now = {x["path"]: x["error"] for x in report.failed}
    events += [{"change": "failed", "path": p, "error": e} for p, e in now.items()
               if failing.get(p) != e]
    events += [{"change": "ok", "path": p} for p in failing if p not in now]
    failing.clear()
    failing.update(now)
    return events


def describe(event: dict) -> str:
    kind = event["change"]
    if kind == "failed":
        return f"FAILED {event['path']}: {event['error']}"
    if kind == "ok":
        return f"ok {event['path']} (no longer failing)"
    return f"{kind} {event['id']}: {event['title']} ({event['path']})"


def watch(pipeline, paths: list[Path], urls: list[str], every: float, *, prune: bool = False,
          rounds: int | None = None, emit: Callable[[dict], None],
          sleep: Callable[[float], None] = time.sleep) -> int:
    """Sync every `every` seconds (`rounds` times, or until interrupted); returns rounds run.

    `emit` receives each event with a "time" field added."""
    failing: dict[str, str] = {}
    done = 0
    while rounds is None or done < rounds:
        if done:
            sleep(every)
        report = pipeline.ingest(paths, prune=prune, urls=urls)
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        for event in change_lines(report, failing):
            emit({"time": stamp, **event})
        done += 1
    return done
