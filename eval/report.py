"""Write eval runs as report.md (tables), report.json and PNG plots (hit@k curve, pass rate
per question type, support scores of answerable vs unanswerable questions).

Runs may be of either mode (extractive, generative); a suite run in both is also shown side by
side. `ReportBook` collects the runs of one test session and rewrites the report after each, so
the extractive and the generative eval tests write one report."""
from __future__ import annotations

import json
from pathlib import Path

from .runner import mode_kind

METRIC_ROWS = ("hit_at_1", "hit_at_5", "mrr_at_10", "fact_recall", "citation_validity",
               "refusal_accuracy", "false_refusal_rate", "false_answer_rate",
               "unanswerable_refused", "supported_share", "generated_supported_share",
               "generative_share", "fallbacks",
               "summary_citation_validity", "summary_generative_share", "summary_rouge1",
               "summary_rouge2", "summary_rougeLsum", "mean_seconds")
# Extractive vs generative, for each suite run in both modes.
SIDE_BY_SIDE_ROWS = ("fact_recall", "refusal_accuracy", "false_refusal_rate", "false_answer_rate",
                     "supported_share", "generated_supported_share", "generative_share",
                     "citation_validity", "mean_seconds")


def _fmt(v) -> str:
    return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def _mode(run: dict) -> str:
    return run.get("mode", "extractive")          # runs recorded before modes were extractive


def run_label(run: dict) -> str:
    if mode_kind(_mode(run)) == "extractive":
        return run["suite"]
    return f"{run['suite']} · generative"


def _answered_by(case: dict) -> str:
    if case["refused"]:
        return "–"
    if case.get("mode", "extractive") == "generative":
        return "model"
    return "extractive (fallback)" if case.get("fallback") else "extractive"


def side_by_side(runs: list[dict]) -> list[str]:
    """A Markdown table, extractive vs generative, per suite run in both modes."""
    lines = []
    for suite in dict.fromkeys(r["suite"] for r in runs):
        by_kind = {mode_kind(_mode(r)): r for r in runs if r["suite"] == suite}
        if set(by_kind) != {"extractive", "generative"}:
            continue
        ext, gen = by_kind["extractive"], by_kind["generative"]
        lines += ["", f"## {suite}: extractive vs generative", "",
                  f"| metric | extractive | {gen['mode']} |", "|---|---|---|",
                  f"| cases passed | {ext['metrics']['passed']}/{ext['metrics']['cases']} | "
                  f"{gen['metrics']['passed']}/{gen['metrics']['cases']} |"]
        for m in SIDE_BY_SIDE_ROWS:
            lines.append(f"| {m} | {_fmt(ext['metrics'].get(m))} | "
                         f"{_fmt(gen['metrics'].get(m))} |")
    if lines:
        lines += ["", "supported_share: answer sentences verified as supported by the passages "
                  "they cite, over all answers given (an extractive sentence is a quote of its "
                  "passage, so supported by construction); generated_supported_share: the same "
                  "over the answers the model wrote; generative_share: answers the model wrote, "
                  "of all answers given (the others fell back to extractive answers)."]
    return lines


def per_class(by_type: dict) -> list[str]:
    """Per question class: pass rate, fact recall (answerable cases), refusal accuracy (refused
    exactly when it should; a hedged answer counts where a case allows it), derived-line rate
    (comparisons)."""
    lines = ["| class | cases | pass rate | fact recall | refusal accuracy | derived lines |",
             "|---|---|---|---|---|---|"]
    for t, v in by_type.items():
        lines.append(f"| {t} | {v['cases']} | {_fmt(v['pass_rate'])} | "
                     f"{_fmt(v.get('fact_recall'))} | {_fmt(v.get('refusal_accuracy'))} | "
                     f"{_fmt(v.get('derived_rate'))} |")
    return lines + [""]


def markdown(runs: list[dict], refuse_below: float | None = None) -> str:
    lines = ["# Eval report", ""]
    names = [run_label(r) for r in runs]
    lines += ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines.append("| mode | " + " | ".join(_mode(r) for r in runs) + " |")
    lines.append("| cases passed | " + " | ".join(
        f"{r['metrics']['passed']}/{r['metrics']['cases']}" for r in runs) + " |")
    lines.append("| corpus (articles / passages) | " + " | ".join(
        f"{r['corpus']['articles']} / {r['corpus']['passages']}" for r in runs) + " |")
    for m in METRIC_ROWS:
        lines.append(f"| {m} | " + " | ".join(_fmt(r["metrics"].get(m)) for r in runs) + " |")
    if refuse_below is not None:
        lines += ["", f"Refusal threshold (RAG_REFUSE_BELOW): {refuse_below}"]
    lines += side_by_side(runs)
    from .runner import refusal_calibration
    lines += ["", "## Refusal calibration (all suites, extractive runs)", "",
              "Support = 0.6 × cosine(question, answer unit) + 0.4 × share of the question's "
              "content words in the unit. A question naming an entity absent from every "
              "retrieved passage is refused whatever its support.", "",
              "| threshold | false refusals | false answers | false answers (support rule alone) |",
              "|---|---|---|---|"]
    extractive = [c for r in runs if mode_kind(_mode(r)) == "extractive" for c in r["cases"]]
    for row in refusal_calibration(extractive):
        lines.append(f"| {row['threshold']} | {row['false_refusal_rate']:.3f} | "
                     f"{row['false_answer_rate']:.3f} | {row['false_answer_rate_support_only']:.3f} |")
    for r in runs:
        lines += ["", f"## {r['suite']} ({_mode(r)})", ""]
        if r["failures"]:
            lines += [f"- **FAILED** {f}" for f in r["failures"]] + [""]
        lines += per_class(r["metrics"]["by_type"])
        lines += ["| case | type | passed | refused | support | rank | facts | answered by | "
                  "supported | answer |", "|---|---|---|---|---|---|---|---|---|---|"]
        for c in r["cases"]:
            answer = c["answer"].replace("|", "\\|").replace("\n", " ")
            supported = f"{c['supported']}/{c['sentences']}" if c.get("sentences") else "–"
            lines.append(f"| {c['id']} | {c['type']} | {'yes' if c['passed'] else '**no**'} | "
                         f"{c['refused']} | {c['support']:.3f} | {c['rank'] or '–'} | "
                         f"{c['facts_found']}/{c['facts_total']} | {_answered_by(c)} | "
                         f"{supported} | {answer[:160]} |")
        notices = sorted({c["notice"] for c in r["cases"] if c.get("fallback") and c.get("notice")})
        if notices:
            lines += ["", "Fallback notices:", ""] + [f"- {n}" for n in notices]
        if r.get("summaries"):
            lines += ["", "| summary case | articles | mode | valid | R1 / R2 / RLsum | summary |",
                      "|---|---|---|---|---|---|"]
            for sm in r["summaries"]:
                scores = sm["rouge"]
                rouge = (f"{scores['rouge1']} / {scores['rouge2']} / {scores['rougeLsum']}"
                         if scores else "–")
                text = sm["summary"].replace("|", "\\|").replace("\n", " ")[:160]
                lines.append(f"| {sm['id']} | {', '.join(sm['articles'])} | "
                             f"{sm.get('mode', 'extractive')} | "
                             f"{'yes' if sm['valid'] else '**no**'} | {rouge} | {text} |")
    return "\n".join(lines) + "\n"


def plots(runs: list[dict], out: Path, refuse_below: float | None = None) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for r in runs:
        curve = r["metrics"]["hit_curve"]
        ks = sorted(int(k) for k in curve)
        ax.plot(ks, [curve[k] if k in curve else curve[str(k)] for k in ks], marker="o",
                label=run_label(r))
    ax.set(xlabel="k", ylabel="hit@k (expected article)", ylim=(0, 1.05), title="Retrieval")
    ax.legend()
    fig.tight_layout()
    written.append(out / "hit_at_k.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    labels, values = [], []
    for r in runs:
        for t, v in r["metrics"]["by_type"].items():
            labels.append(f"{run_label(r)}\n{t}")
            values.append(v["pass_rate"] or 0)
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(values)), 3.5))
    ax.bar(range(len(values)), values, color="#4c78a8")
    ax.set_xticks(range(len(values)), labels, fontsize=7)
    ax.set(ylabel="pass rate", ylim=(0, 1.05), title="Results per question type")
    fig.tight_layout()
    written.append(out / "by_type.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    # Support is scored before any model call, the same in both modes: count each suite once.
    extractive = [r for r in runs if mode_kind(_mode(r)) == "extractive"]
    cases = [c for r in (extractive or runs) for c in r["cases"]]
    ax.hist([c["support"] for c in cases if c["answerable"]], bins=20, alpha=0.6,
            label="answerable")
    ax.hist([c["support"] for c in cases if not c["answerable"]], bins=20, alpha=0.6,
            label="unanswerable")
    if refuse_below is not None:
        ax.axvline(refuse_below, color="k", linestyle="--", label="refusal threshold")
    ax.set(xlabel="support score of the best answer unit", ylabel="questions",
           title="Support scores")
    ax.legend()
    fig.tight_layout()
    written.append(out / "support.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    return written


def write_report(runs: list[dict], out: Path, refuse_below: float | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(markdown(runs, refuse_below), encoding="utf-8")
    (out / "report.json").write_text(json.dumps(runs, indent=1, ensure_ascii=False),
                                     encoding="utf-8")
    return [out / "report.md", out / "report.json", *plots(runs, out, refuse_below)]


class ReportBook:
    """The eval runs of one session, any suites in either mode. The report in `out` is rewritten
    after each run, so it holds every run made so far; a suite run again in the same mode
    replaces its earlier run. Runs are ordered by suite, extractive before generative."""

    def __init__(self, out: Path):
        self.out = out
        self.runs: list[dict] = []

    def add(self, run: dict, refuse_below: float | None = None) -> list[Path]:
        def key(r):
            return r["suite"], mode_kind(_mode(r))
        runs = [r for r in self.runs if key(r) != key(run)] + [run]
        suites = list(dict.fromkeys(r["suite"] for r in runs))
        self.runs = sorted(runs, key=lambda r: (suites.index(r["suite"]),
                                                mode_kind(_mode(r)) != "extractive"))
        return write_report(self.runs, self.out, refuse_below)
