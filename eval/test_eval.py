"""`make test` gates on the eval suites: the seed suite and a sampled real-data (BBC) suite,
run through the same pipeline as the UI with the real model; thresholds in eval/thresholds.yaml.
The report (Markdown, JSON, plots) is written to artifacts/eval/."""
import pytest

from conftest import DATA, ROOT
from rag.eval_report import write_report
from rag.evaluation import load_suite, pipeline_for_suite, run_suite, threshold_failures

pytestmark = pytest.mark.slow
RUNS: list[dict] = []


@pytest.mark.parametrize("suite", ["seed", "bbc"])
def test_suite_meets_thresholds(suite, settings, real_embedder):
    if suite == "bbc" and not (DATA / "bbc-news-summary").is_dir():
        pytest.skip(f"BBC News Summary not found under {DATA} (set RAG_DATA)")
    run = run_suite(suite, pipeline_for_suite(settings, suite, embedder=real_embedder))
    RUNS.append(run)
    write_report(RUNS, ROOT / "artifacts" / "eval", settings.refuse_below)
    assert run["metrics"]["cases"] == len(load_suite(suite).cases)
    assert run["failures"] == [], "\n".join(run["failures"])


def test_threshold_gate_fails_on_regression():
    """The gate itself: a metric under its threshold is reported; a missing metric too."""
    thresholds = {"s": {"fact_recall": 0.8, "hit_at_1": 0.9}}
    assert threshold_failures("s", {"fact_recall": 0.9, "hit_at_1": 0.95}, thresholds) == []
    failures = threshold_failures("s", {"fact_recall": 0.5}, thresholds)
    assert len(failures) == 2 and "fact_recall = 0.5" in failures[0]
