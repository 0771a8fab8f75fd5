"""Cited summaries through the pipeline (fake embedder, real Chroma store in tmp_path)."""
import json

import pytest

from conftest import SEED
from rag.cli import main


@pytest.fixture
def archive(fake_pipeline, tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "seed.txt").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "quake.md").write_text(
        "---\ntitle: Quake hits coast\ndate: 2020-03-01\nsource: wire\n---\n"
        "A strong earthquake hit the coast on Sunday. Buildings shook for a minute.\n\n"
        "Officials said no one was hurt. Schools will reopen on Tuesday after checks.\n",
        encoding="utf-8")
    fake_pipeline.ingest([folder])
    return fake_pipeline, folder


def test_article_summary_sentences_are_cited_spans(archive):
    pipeline, _ = archive
    summary = pipeline.summarize(["seed"], sentences=3)
    text = pipeline.article_text("seed")
    assert len(summary.citations) == 3 and len(summary.sentences) == 3
    for c, s in zip(summary.citations, summary.sentences):
        assert text[c.start:c.end] == c.quote == s["text"] and s["citations"] == [c.n]
    starts = [c.start for c in summary.citations]
    assert starts == sorted(starts), "summary sentences keep the article's order"
    assert summary.text.count("[") == 3


def test_summary_is_cached_and_an_edit_invalidates_it(archive):
    pipeline, folder = archive
    first = pipeline.summarize(["quake"], sentences=2)
    calls = pipeline.embedder.calls
    again = pipeline.summarize(["quake"], sentences=2)
    assert again.cached and not first.cached and again.text == first.text
    assert pipeline.embedder.calls == calls, "a cached summary must not embed anything"
    note = folder / "quake.md"
    note.write_text(note.read_text().replace("earthquake", "tremor"), encoding="utf-8")
    pipeline.ingest([folder])
    edited = pipeline.summarize(["quake"], sentences=2)
    assert not edited.cached
    assert all(c.quote in pipeline.article_text("quake") for c in edited.citations)


def test_summary_across_articles_attributes_each_source(archive):
    pipeline, _ = archive
    summary = pipeline.summarize(["quake", "seed"], sentences=2)
    assert {c.article_id for c in summary.citations} == {"quake", "seed"}
    # Oldest first, each sentence dated and attributed to its source.
    assert summary.sentences[0]["text"].startswith("“Russia and China united")
    assert "(wire, 2020-03-01)" in summary.sentences[1]["text"]


def test_bad_ids_and_lengths_are_clear_errors(archive):
    pipeline, _ = archive
    with pytest.raises(ValueError, match="no article with id 'nope'"):
        pipeline.summarize(["nope"])
    with pytest.raises(ValueError, match="--sentences 0"):
        pipeline.summarize(["seed"], sentences=0)


def test_cli_each_prints_one_json_object_per_line(archive, capsys):
    pipeline, _ = archive
    status = main(["summarize", "--each", "seed", "nope", "quake", "--json"], pipeline=pipeline)
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [json.loads(line) for line in lines]
    assert status == 1 and [r["id"] for r in rows] == ["seed", "nope", "quake"]
    assert "error" in rows[1] and rows[0]["citations"] and rows[2]["summary"]


def test_topic_summary_finds_matching_articles(archive):
    pipeline, _ = archive
    summary = pipeline.summarize_topic("earthquake coast buildings", sentences=2)
    assert "quake" in summary.ids
