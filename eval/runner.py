"""The eval suite: cases as data (eval/cases/*.yaml), run through the same Pipeline as the UI,
scored deterministically, gated by eval/thresholds.yaml, reported as Markdown + JSON + PNG.

Metrics: retrieval hit@1/hit@5/MRR@10 of the expected article; fact recall of answers;
citation validity (every quote equals its span, every [n] resolves); refusal accuracy on
unanswerable cases (with the false-refusal and false-answer rates); the share of answer sentences
verified as supported by what they cite; summary ROUGE.

A suite runs in the pipeline's mode: extractive, or generative when Settings.llm is set (each
answer then says whether the model wrote it or the pipeline fell back to an extractive one).
Thresholds are per suite and mode: `seed:` gates extractive runs, `generative: {seed: ...}`
generative ones.
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from rag.citations import parse_citation_numbers
from rag.errors import InputError

from .common import CASES_DIR, ROOT, THRESHOLDS, article_ranking
K_CURVE = (1, 2, 3, 5, 10)


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    type: str = "factual"
    answerable: bool = True
    facts: tuple[tuple[str, ...], ...] = ()
    articles: tuple[str, ...] = ()
    cite: str | None = None
    history: tuple[dict, ...] = ()
    derived: bool = False        # a comparison: passes only with a derived line citing both sides
    hedge_ok: bool = False       # unanswerable as fact: a hedged answer ("could face") also passes


@dataclass(frozen=True)
class TimelineCase:
    id: str
    topic: str
    expect_dated: tuple[str, ...]          # dated articles of the story, oldest first
    min_dated: int                         # of them, how many the timeline must list, in order
    grouped: tuple[tuple[str, ...], ...] = ()   # near-duplicates that must share one entry


@dataclass(frozen=True)
class SummaryCase:
    id: str
    articles: tuple[str, ...]
    sentences: int | None = None
    reference_field: str | None = None    # the dataset record's field holding a reference summary


@dataclass(frozen=True)
class Suite:
    name: str
    corpus: tuple[dict, ...]      # empty: the suite runs against the archive in RAG_HOME
    cases: tuple[Case, ...]
    summaries: tuple[SummaryCase, ...] = ()
    thresholds: dict = field(default_factory=dict)   # a suite file's own minimums (extractive)
    review: tuple[str, ...] = ()  # ids of cases marked `review: true`: not run until written
    timelines: tuple[TimelineCase, ...] = ()


@dataclass
class CaseResult:
    id: str
    type: str
    answerable: bool
    refused: bool
    support: float
    targets: int                  # how many expected articles the case names
    rank: int | None              # 1-based rank of the first expected article, None if not in top 10
    facts_found: int
    facts_total: int
    citations_valid: bool
    cite_ok: bool | None
    passed: bool
    answer: str
    standalone_question: str | None
    seconds: float
    refusal_reason: str | None = None
    problems: list[str] = field(default_factory=list)
    mode: str = "extractive"      # who wrote the answer: "extractive" | "generative"
    fallback: bool = False        # an LLM was configured but the answer is extractive
    notice: str | None = None
    sentences: int = 0            # answer sentences (0 for a refusal)
    supported: int = 0            # of them, verified as supported by the passages they cite
    hedged: bool = False          # answered, every sentence marked as what the archive says may be
    derived_ok: bool | None = None   # comparison cases: a cited derived line was given
    refusal_correct: bool = True  # refused exactly when it should (a hedge counts where allowed)


def suite_names() -> list[str]:
    return sorted(p.stem for p in CASES_DIR.glob("*.yaml"))


def load_suite(name_or_path: str) -> Suite:
    path = Path(name_or_path)
    if not path.suffix:
        path = CASES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise InputError(f"suite {name_or_path!r}: no such suite (have: {', '.join(suite_names())})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: invalid YAML: {exc}") from None
    cases, review = [], []
    for i, c in enumerate(raw.get("cases") or []):
        if isinstance(c, dict) and c.get("review"):   # e.g. from thumbs-down feedback
            review.append(str(c.get("id", i)))
            continue
        try:
            cases.append(Case(id=c["id"], question=c["question"], type=c.get("type", "factual"),
                              answerable=bool(c.get("answerable", True)),
                              facts=tuple(tuple(f) for f in c.get("facts") or ()),
                              articles=tuple(c.get("articles") or ()), cite=c.get("cite"),
                              history=tuple(c.get("history") or ()),
                              derived=bool(c.get("derived", False)),
                              hedge_ok=bool(c.get("hedge_ok", False))))
        except (KeyError, TypeError) as exc:
            raise InputError(f"{path}: case {i}: missing or bad field {exc}") from None
    summaries = []
    for i, c in enumerate(raw.get("summaries") or []):
        try:
            summaries.append(SummaryCase(c["id"], tuple(c["articles"]), c.get("sentences"),
                                         c.get("reference_field")))
        except (KeyError, TypeError) as exc:
            raise InputError(f"{path}: summary case {i}: missing or bad field {exc}") from None
    timelines = []
    for i, c in enumerate(raw.get("timelines") or []):
        try:
            timelines.append(TimelineCase(c["id"], c["topic"], tuple(c["expect_dated"]),
                                          int(c.get("min_dated", len(c["expect_dated"]))),
                                          tuple(tuple(g) for g in c.get("grouped") or ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: timeline case {i}: missing or bad field {exc}") from None
    own = raw.get("thresholds") or {}
    if not isinstance(own, dict):
        raise InputError(f"{path}: thresholds: expected metric: minimum pairs")
    return Suite(raw.get("suite", path.stem), tuple(raw.get("corpus") or ()), tuple(cases),
                 tuple(summaries), own, tuple(review), tuple(timelines))


def corpus_paths(suite: Suite, data_dir: Path, workdir: Path) -> list[Path]:
    """Files to ingest for a suite; dataset samples are written to `workdir` (a temp folder)."""
    paths = []
    for item in suite.corpus:
        if "path" in item:
            paths.append(ROOT / item["path"])
            continue
        source = data_dir / item["dataset"]
        if not source.is_file():
            raise InputError(f"suite {suite.name}: dataset {source} not found (set RAG_DATA)")
        include = set(item.get("include") or ())
        every = int(item.get("sample_every", 1))
        # Dates and source labels given by the suite (BBC records have none), applied to the
        # temporary copy as front matter would be: the dataset itself is never changed.
        dates = {k: str(v) for k, v in (item.get("dates") or {}).items()}
        sources = dict(item.get("sources") or {})
        out = workdir / Path(item["dataset"]).name
        with open(source, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
            for i, line in enumerate(src):
                record = json.loads(line)
                record_id = record.get("id")
                if i % every == 0 or record_id in include:
                    if record_id in dates or record_id in sources:
                        record.update({"date": dates.get(record_id, record.get("date")),
                                       "source": sources.get(record_id, record.get("source"))})
                        line = json.dumps(record, ensure_ascii=False) + "\n"
                    dst.write(line)
        paths.append(out)
    return paths


def ingest_suite(suite: Suite, pipeline) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"rag-eval-{suite.name}-") as tmp:
        report = pipeline.ingest(corpus_paths(suite, pipeline.settings.data, Path(tmp)))
    return report.to_dict()


def found_fact(answer: str, alternatives: tuple[str, ...]) -> bool:
    lowered = answer.lower().replace("’", "'")
    return any(alt.lower().replace("’", "'") in lowered for alt in alternatives)


def citation_problems(answer: dict, article_text_of) -> list[str]:
    problems = []
    numbers = {c["n"] for c in answer["citations"]}
    for n in parse_citation_numbers(answer["answer"]):
        if n not in numbers:
            problems.append(f"[{n}] in the answer has no citation")
    for c in answer["citations"]:
        text = article_text_of(c["article_id"])
        if text is None or text[c["start"]:c["end"]] != c["quote"]:
            problems.append(f"citation [{c['n']}] quote is not the span {c['start']}-{c['end']} "
                            f"of {c['article_id']}")
    return problems


def ranked_articles(pipeline, question: str, depth: int = 10) -> list[str]:
    """The articles retrieval ranks for `question`, best first, at most `depth`."""
    hits = pipeline.retriever.search(question, k=depth * 4)
    return article_ranking((h.passage.article_id for h in hits), depth)


def run_mode(settings) -> str:
    """'extractive', or 'generative: <model>' when an LLM is configured."""
    if not settings.llm:
        return "extractive"
    return f"generative: {settings.llm_model or settings.llm}"


def mode_kind(mode: str) -> str:
    """'extractive' or 'generative', from a run's mode."""
    return "generative" if mode.startswith("generative") else "extractive"


def run_case(case: Case, pipeline) -> CaseResult:
    started = time.perf_counter()
    answer = pipeline.ask(case.question, history=list(case.history) or None).to_dict()
    seconds = time.perf_counter() - started
    ranking = ranked_articles(pipeline, answer["standalone_question"] or case.question)
    rank = next((i + 1 for i, a in enumerate(ranking) if a in case.articles), None)
    problems = citation_problems(answer, pipeline.article_text)
    found = sum(found_fact(answer["answer"], f) for f in case.facts) if not answer["refused"] else 0
    cite_ok = (any(case.cite in c["quote"] for c in answer["citations"]) if case.cite else None)
    sentences = [] if answer["refused"] else answer["sentences"]
    hedged = bool(sentences) and all(s.get("hedged") for s in sentences)
    derived_ok = None
    if case.derived:
        derived_ok = any(s.get("derived") and s.get("citations") for s in sentences)
    if case.answerable:
        passed = (not answer["refused"] and found == len(case.facts) and not problems
                  and cite_ok is not False and derived_ok is not False)
    else:
        passed = answer["refused"] or (case.hedge_ok and hedged and not problems)
    return CaseResult(case.id, case.type, case.answerable, answer["refused"], answer["support"],
                      len(case.articles), rank, found, len(case.facts), not problems, cite_ok, passed,
                      answer["answer"], answer["standalone_question"], seconds,
                      answer["refusal_reason"], problems, mode=answer["mode"],
                      fallback=bool(pipeline.settings.llm) and answer["mode"] != "generative",
                      notice=answer["notice"], sentences=len(sentences),
                      supported=sum(bool(s["supported"]) for s in sentences),
                      hedged=hedged, derived_ok=derived_ok,
                      refusal_correct=(answer["refused"] != case.answerable
                                       or (case.hedge_ok and hedged)))


def dataset_record(suite: Suite, data_dir: Path, record_id: str) -> dict | None:
    for item in suite.corpus:
        if "dataset" in item:
            with open(data_dir / item["dataset"], encoding="utf-8") as fh:
                for line in fh:
                    record = json.loads(line)
                    if record.get("id") == record_id:
                        return record
    return None


def run_summary_case(case: SummaryCase, suite: Suite, pipeline) -> dict:
    """The cited-summary contract, and ROUGE against the dataset's reference when it has one."""
    from .scoring import rouge, split_run_together
    from rag.sentences import sentence_spans
    summary = pipeline.summarize(list(case.articles), case.sentences).to_dict()
    problems = citation_problems({"answer": summary["summary"],
                                  "citations": summary["citations"]}, pipeline.article_text)
    numbers = {c["n"] for c in summary["citations"]}
    for i, sentence in enumerate(summary["sentences"]):
        if not sentence["citations"] or not set(sentence["citations"]) <= numbers:
            problems.append(f"summary sentence {i + 1} cites {sentence['citations']}")
    if not {c["article_id"] for c in summary["citations"]} >= set(case.articles):
        problems.append("an article of the summary is never cited")
    scores = None
    if case.reference_field:
        record = dataset_record(suite, pipeline.settings.data, case.articles[0])
        if record and record.get(case.reference_field):
            reference = split_run_together(record[case.reference_field], sentence_spans)
            scores = rouge([reference], [[c["quote"] for c in summary["citations"]]])
    return {"id": case.id, "articles": list(case.articles), "valid": not problems,
            "problems": problems, "rouge": scores, "summary": summary["summary"],
            "mode": summary.get("mode", "extractive"), "notice": summary.get("notice"),
            "sentences": len(summary["sentences"]),
            "supported": sum(bool(s.get("supported", True)) for s in summary["sentences"])}


def run_timeline_case(case: TimelineCase, pipeline) -> dict:
    """The timeline contract over a dated story: every entry dated and oldest first, undated
    articles apart, each sentence the exact span it names, the expected articles listed (at
    least min_dated of them) and near-duplicates sharing one entry."""
    timeline = pipeline.timeline(case.topic).to_dict()
    entries = timeline["entries"]
    problems = []
    dates = [e["published"] for e in entries]
    if not all(dates) or dates != sorted(dates):
        problems.append(f"entries are not dated oldest first: {dates}")
    if any(e["published"] for e in timeline["undated"]):
        problems.append("a dated article is listed as undated")
    for e in entries + timeline["undated"]:
        text = pipeline.article_text(e["article_id"])
        if text is None or text[e["start"]:e["end"]] != e["sentence"]:
            problems.append(f"{e['article_id']}: sentence is not the span {e['start']}-{e['end']}")
    entry_of = {e["article_id"]: e["article_id"] for e in entries}
    entry_of.update({a["article_id"]: e["article_id"] for e in entries for a in e["also"]})
    found = [a for a in case.expect_dated if a in entry_of]
    if len(found) < case.min_dated:
        problems.append(f"{len(found)} of the story's {len(case.expect_dated)} dated articles "
                        f"listed (at least {case.min_dated} expected)")
    for group in case.grouped:
        if len({entry_of.get(a) for a in group}) != 1 or group[0] not in entry_of:
            problems.append(f"near-duplicates {list(group)} are not one entry")
    return {"id": case.id, "topic": case.topic, "passed": not problems, "problems": problems,
            "entries": len(entries), "undated": len(timeline["undated"]),
            "recall": round(len(found) / len(case.expect_dated), 4)}


def metrics_of(results: list[CaseResult], summaries: list[dict] = (),
               timelines: list[dict] = ()) -> dict:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    ranked = [r for r in answerable if r.targets]
    answered = [r for r in results if not r.refused]
    generated = [r for r in answered if r.mode == "generative"]

    def mean(xs):
        xs = list(xs)
        return round(sum(xs) / len(xs), 4) if xs else None

    def share_supported(rs):
        total = sum(r.sentences for r in rs)
        return round(sum(r.supported for r in rs) / total, 4) if total else None

    m = {
        "cases": len(results),
        "passed": sum(r.passed for r in results),
        "hit_at_1": mean(r.rank == 1 for r in ranked),
        "hit_at_5": mean(r.rank is not None and r.rank <= 5 for r in ranked),
        "mrr_at_10": mean(1 / r.rank if r.rank else 0 for r in ranked),
        "hit_curve": {k: mean(r.rank is not None and r.rank <= k for r in ranked) for k in K_CURVE},
        "fact_recall": mean(r.facts_found / r.facts_total for r in answerable if r.facts_total),
        "citation_validity": mean(r.citations_valid for r in answered) if answered else 1.0,
        "refusal_accuracy": mean(r.refusal_correct for r in results),
        "false_refusal_rate": mean(r.refused for r in answerable),
        "false_answer_rate": mean(not r.refused for r in unanswerable),
        # 1 - false_answer_rate, as a minimum to gate on: in both modes an unanswerable question
        # is refused before any model call (missing entity, low support).
        "unanswerable_refused": mean(r.refused for r in unanswerable),
        # Sentences verified as supported by what they cite, over every answer given (an
        # extractive sentence is a quote: supported by construction) and over the model's alone.
        "supported_share": share_supported(answered),
        "generated_supported_share": share_supported(generated),
        # Answers the model wrote, of all answers given (0 in extractive runs; in generative
        # runs the rest fell back to extractive answers).
        "generative_share": mean(r.mode == "generative" for r in answered),
        "fallbacks": sum(r.fallback for r in results),
        "mean_seconds": mean(r.seconds for r in results),
    }
    by_type: dict[str, dict] = {}
    for t in sorted({r.type for r in results}):
        rs = [r for r in results if r.type == t]
        by_type[t] = {"cases": len(rs), "pass_rate": mean(r.passed for r in rs),
                      "fact_recall": mean(r.facts_found / r.facts_total
                                          for r in rs if r.answerable and r.facts_total),
                      "refusal_accuracy": mean(r.refusal_correct for r in rs)}
        derived = [r.derived_ok for r in rs if r.derived_ok is not None]
        if derived:
            by_type[t]["derived_rate"] = mean(derived)
    m["by_type"] = by_type
    # The weakest question class: gating it keeps every class passing, not just the average.
    m["min_class_pass_rate"] = min((v["pass_rate"] for v in by_type.values()), default=None)
    if timelines:
        m["timeline_pass_rate"] = mean(t["passed"] for t in timelines)
        m["timeline_recall"] = mean(t["recall"] for t in timelines)
    if summaries:
        m["summary_citation_validity"] = mean(s["valid"] for s in summaries)
        m["summary_generative_share"] = mean(s.get("mode") == "generative" for s in summaries)
        scored = [s["rouge"] for s in summaries if s["rouge"]]
        for key in ("rouge1", "rouge2", "rougeLsum"):
            m[f"summary_{key}"] = round(sum(x[key] for x in scored) / len(scored), 2) if scored else None
    return m


def refusal_calibration(cases: list[dict], thresholds=(0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6,
                                                      0.65)) -> list[dict]:
    """False-refusal and false-answer rates had the support threshold been t (the missing-entity
    rule applies whatever t is). Used to set RAG_REFUSE_BELOW from data."""
    answerable = [c for c in cases if c["answerable"]]
    unanswerable = [c for c in cases if not c["answerable"]]
    rows = []
    for t in thresholds:
        def refused(c):
            return (c["refusal_reason"] in ("missing-entity", "nothing-retrieved")
                    or c["support"] < t)
        rows.append({"threshold": t,
                     "false_refusal_rate": round(sum(map(refused, answerable)) / max(len(answerable), 1), 4),
                     "false_answer_rate": round(sum(not refused(c) for c in unanswerable) / max(len(unanswerable), 1), 4),
                     "false_answer_rate_support_only": round(sum(c["support"] >= t for c in unanswerable) / max(len(unanswerable), 1), 4)})
    return rows


def load_thresholds(path: Path = THRESHOLDS) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def thresholds_for(suite: str, thresholds: dict, mode: str = "extractive") -> dict:
    """The minimums for a suite run in `mode`: top-level `<suite>:` for extractive runs,
    `generative: {<suite>: ...}` for generative ones."""
    if mode_kind(mode) == "generative":
        return (thresholds.get("generative") or {}).get(suite) or {}
    return thresholds.get(suite) or {}


def threshold_failures(suite: str, metrics: dict, thresholds: dict,
                       mode: str = "extractive") -> list[str]:
    label = suite if mode_kind(mode) == "extractive" else f"{suite} (generative)"
    failures = []
    for name, minimum in thresholds_for(suite, thresholds, mode).items():
        value = metrics.get(name)
        if value is None or value < minimum:
            failures.append(f"{label}: {name} = {value} is below the threshold {minimum}")
    return failures


def run_suite(name: str, pipeline, thresholds: dict | None = None) -> dict:
    """Run suite `name` (a name under eval/cases, or a YAML file's path) on `pipeline`: its
    corpus is ingested first; a suite without one runs on the archive as it is."""
    suite = load_suite(name)
    if suite.corpus:
        ingest = ingest_suite(suite, pipeline)
    else:
        ingest = {"articles": pipeline.store.article_count(),
                  "passages": pipeline.store.passage_count()}
    thresholds = load_thresholds() if thresholds is None else thresholds
    if suite.thresholds:
        thresholds = {**thresholds, suite.name: suite.thresholds}
    results = [run_case(c, pipeline) for c in suite.cases]
    summaries = [run_summary_case(c, suite, pipeline) for c in suite.summaries]
    timelines = [run_timeline_case(c, pipeline) for c in suite.timelines]
    metrics = metrics_of(results, summaries, timelines)
    mode = run_mode(pipeline.settings)
    failures = threshold_failures(suite.name, metrics, thresholds, mode)
    return {"suite": suite.name, "mode": mode, "corpus": {"articles": ingest["articles"],
                                            "passages": ingest["passages"]},
            "metrics": metrics, "failures": failures, "cases": [asdict(r) for r in results],
            "summaries": summaries, "timelines": timelines, "review": list(suite.review)}


def pipeline_for_suite(settings, name: str, embedder=None):
    """Each suite with a corpus gets its own store under RAG_HOME/eval/<suite>, never the user's
    archive (a suite file's store is named after the file)."""
    from rag.pipeline import Pipeline
    return Pipeline(settings.with_(home=settings.home / "eval" / Path(name).stem),
                    embedder=embedder).open()


def runs_on_archive(name: str) -> bool:
    """True for a suite without a corpus (e.g. exported feedback): it runs on RAG_HOME's archive."""
    return not load_suite(name).corpus
