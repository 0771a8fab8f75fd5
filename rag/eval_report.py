"""Write an eval run as report.md (tables), report.json and PNG plots (hit@k curve, pass rate
per question type, support scores of answerable vs unanswerable questions)."""
from __future__ import annotations

import json
from pathlib import Path

METRIC_ROWS = ("hit_at_1", "hit_at_5", "mrr_at_10", "fact_recall", "citation_validity",
               "refusal_accuracy", "false_refusal_rate", "false_answer_rate",
               "summary_citation_validity", "summary_rouge1", "summary_rouge2",
               "summary_rougeLsum", "mean_seconds")


def _fmt(v) -> str:
    return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def markdown(runs: list[dict], refuse_below: float | None = None) -> str:
    lines = ["# Eval report", ""]
    names = [r["suite"] for r in runs]
    lines += ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines.append("| cases passed | " + " | ".join(
        f"{r['metrics']['passed']}/{r['metrics']['cases']}" for r in runs) + " |")
    lines.append("| corpus (articles / passages) | " + " | ".join(
        f"{r['corpus']['articles']} / {r['corpus']['passages']}" for r in runs) + " |")
    for m in METRIC_ROWS:
        lines.append(f"| {m} | " + " | ".join(_fmt(r["metrics"].get(m)) for r in runs) + " |")
    if refuse_below is not None:
        lines += ["", f"Refusal threshold (RAG_REFUSE_BELOW): {refuse_below}"]
    from .evaluation import refusal_calibration
    lines += ["", "## Refusal calibration (all suites)", "",
              "Support = 0.6 × cosine(question, answer unit) + 0.4 × share of the question's "
              "content words in the unit. A question naming an entity absent from every "
              "retrieved passage is refused whatever its support.", "",
              "| threshold | false refusals | false answers | false answers (support rule alone) |",
              "|---|---|---|---|"]
    for row in refusal_calibration([c for r in runs for c in r["cases"]]):
        lines.append(f"| {row['threshold']} | {row['false_refusal_rate']:.3f} | "
                     f"{row['false_answer_rate']:.3f} | {row['false_answer_rate_support_only']:.3f} |")
    for r in runs:
        lines += ["", f"## {r['suite']}", ""]
        if r["failures"]:
            lines += [f"- **FAILED** {f}" for f in r["failures"]] + [""]
        lines += ["| case | type | passed | refused | support | rank | facts | answer |",
                  "|---|---|---|---|---|---|---|---|"]
        for c in r["cases"]:
            answer = c["answer"].replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {c['id']} | {c['type']} | {'yes' if c['passed'] else '**no**'} | "
                         f"{c['refused']} | {c['support']:.3f} | {c['rank'] or '–'} | "
                         f"{c['facts_found']}/{c['facts_total']} | {answer[:160]} |")
        if r.get("summaries"):
            lines += ["", "| summary case | articles | valid | R1 / R2 / RLsum | summary |",
                      "|---|---|---|---|---|"]
            for sm in r["summaries"]:
                scores = sm["rouge"]
                rouge = (f"{scores['rouge1']} / {scores['rouge2']} / {scores['rougeLsum']}"
                         if scores else "–")
                text = sm["summary"].replace("|", "\\|").replace("\n", " ")[:160]
                lines.append(f"| {sm['id']} | {', '.join(sm['articles'])} | "
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
                label=r["suite"])
    ax.set(xlabel="k", ylabel="hit@k (expected article)", ylim=(0, 1.05), title="Retrieval")
    ax.legend()
    fig.tight_layout()
    written.append(out / "hit_at_k.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    labels, values = [], []
    for r in runs:
        for t, v in r["metrics"]["by_type"].items():
            labels.append(f"{r['suite']}\n{t}")
            values.append(v["pass_rate"] or 0)
    ax.bar(range(len(values)), values, color="#4c78a8")
    ax.set_xticks(range(len(values)), labels, fontsize=7)
    ax.set(ylabel="pass rate", ylim=(0, 1.05), title="Results per question type")
    fig.tight_layout()
    written.append(out / "by_type.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    cases = [c for r in runs for c in r["cases"]]
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
