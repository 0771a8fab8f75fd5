"""`make test` gates on the eval suites: the seed suite, a sampled real-data (BBC) suite and the
story-question suite over multi-article BBC stories,
run through the same pipeline as the UI with the real model; thresholds in eval/thresholds.yaml.
The report (Markdown, JSON, plots) is written to artifacts/eval/, together with the generative
runs of tests/test_llm_server.py when both run in one session (the `eval_report` fixture)."""
import pytest

from conftest import skip_unless_suite_data
from eval.runner import load_suite, pipeline_for_suite, run_suite, threshold_failures


@pytest.mark.slow
@pytest.mark.parametrize("suite", ["seed", "bbc", "stories"])
def test_suite_meets_thresholds(suite, settings, real_embedder, eval_report):
    skip_unless_suite_data(suite)
    run = run_suite(suite, pipeline_for_suite(settings, suite, embedder=real_embedder))
    eval_report.add(run, settings.refuse_below)
    assert run["mode"] == "extractive"
    assert run["metrics"]["cases"] == len(load_suite(suite).cases)
    assert run["failures"] == [], "\n".join(run["failures"])


def test_threshold_gate_fails_on_regression():
    """The gate itself: a metric under its threshold is reported; a missing metric too; each
    mode is gated by its own section."""
    thresholds = {"s": {"fact_recall": 0.8, "hit_at_1": 0.9},
                  "generative": {"s": {"fact_recall": 0.4, "supported_share": 0.5}}}
    assert threshold_failures("s", {"fact_recall": 0.9, "hit_at_1": 0.95}, thresholds) == []
    failures = threshold_failures("s", {"fact_recall": 0.5}, thresholds)
    assert len(failures) == 2 and "fact_recall = 0.5" in failures[0]
    # The same metrics pass the generative section, which does not ask for hit_at_1 ...
    generative = "generative: smollm2-135m"
    assert threshold_failures("s", {"fact_recall": 0.5, "supported_share": 0.6}, thresholds,
                              generative) == []
    # ... and fail it when under its own minimums.
    failures = threshold_failures("s", {"fact_recall": 0.3, "supported_share": 0.6}, thresholds,
                                  generative)
    assert failures == ["s (generative): fact_recall = 0.3 is below the threshold 0.4"]
    # A suite without a generative section is not gated in that mode.
    assert threshold_failures("t", {}, thresholds, generative) == []
