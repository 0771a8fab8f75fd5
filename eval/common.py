"""What every benchmark and eval run shares: where things are, the datasets, ranking, ports."""
from __future__ import annotations

import json
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent      # the repository (eval may know its layout)
CASES_DIR = ROOT / "eval" / "cases"
THRESHOLDS = ROOT / "eval" / "thresholds.yaml"
CNNDM_FILE = Path("cnndm-test-see2017") / "cnndm_test_see2017_every5th_with_articles.jsonl"
BBC_FILE = Path("bbc-news-summary") / "bbc_news_summary.jsonl"


def offline() -> None:
    """Every benchmark starts with the product's own offline switches (one list, rag.config)."""
    from rag.config import apply_offline_env
    apply_offline_env()


def read_jsonl(path: Path) -> list[dict]:
    """Records of a dataset file; a missing file or a bad line is an error naming it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: dataset file not found (set --data or RAG_DATA)")
    records = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{number}: invalid JSON ({e.msg})") from None
    return records


def required_text(record: dict, field: str, path: Path, number: int) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{path}: record {number} has no text in field {field!r}")
    return value


def cnndm_records(data: Path, limit: int | None = None) -> list[dict]:
    """The CNN/DM test subset (See et al. 2017, every 5th record), in file order, as
    {"id": "cnndm-<index>", "article", "highlights": [...], "record": the raw record}.

    The file's first records are nearly all CNN (DailyMail comes later): a figure on a prefix
    is a CNN figure.
    """
    path = data / CNNDM_FILE
    rows = []
    for number, raw in enumerate(read_jsonl(path)[:limit], start=1):
        if "index" not in raw:
            raise ValueError(f"{path}: record {number} has no field 'index'")
        highlights = required_text(raw, "reference", path, number).split("\n")
        rows.append({"id": f"cnndm-{raw['index']}", "article": required_text(raw, "article", path, number),
                     "highlights": [h.strip() for h in highlights if h.strip()], "record": raw})
    return rows


def bbc_records(data: Path, limit: int | None = None) -> list[dict]:
    """BBC News Summary records as they are ({"id", "category", "title", "article", ...})."""
    path = data / BBC_FILE
    records = read_jsonl(path)[:limit]
    for number, raw in enumerate(records, start=1):
        required_text(raw, "id", path, number)
    return records


def article_ranking(article_ids, depth: int = 10) -> list[str]:
    """Passage-level article ids (best first) -> distinct articles in first-seen order, at most
    `depth`: an article ranks where its best passage does."""
    seen: dict[str, None] = {}
    for aid in article_ids:
        if aid not in seen:
            seen[aid] = None
            if len(seen) == depth:
                break
    return list(seen)


def free_port() -> int:
    """A free TCP port on loopback (for a server a benchmark or test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
