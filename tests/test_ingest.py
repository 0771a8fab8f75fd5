"""Sync semantics with the fake embedder and a real Chroma store in tmp_path."""
import shutil

import pytest

from conftest import SEED
from rag.store import consistency_problems


def _corpus(tmp_path, n=3):
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    for i in range(1, n):
        (folder / f"note{i}.md").write_text(
            f"---\ntitle: Note {i}\ndate: 2020-01-0{i}\nsource: test\n---\n"
            f"Paragraph one of note {i} about harbour cranes number {i}.\n\n"
            f"Paragraph two of note {i} says the cranes were repaired.\n", encoding="utf-8")
    return folder


def test_reingest_writes_nothing(fake_pipeline, tmp_path):
    folder = _corpus(tmp_path)
    first = fake_pipeline.ingest([folder])
    assert (first.added, first.updated, first.unchanged, first.failed) == (3, 0, 0, [])
    calls = fake_pipeline.embedder.calls
    second = fake_pipeline.ingest([folder])
    assert (second.added, second.updated, second.unchanged) == (0, 0, 3)
    assert fake_pipeline.embedder.calls == calls, "unchanged articles were re-embedded"
    assert second.passages == first.passages
    assert second.articles == fake_pipeline.store.article_count("ready") == 3
    assert fake_pipeline.store.article_count("pending") == 0
    assert consistency_problems(fake_pipeline.store) == []


def test_edited_article_replaces_its_passages(fake_pipeline, tmp_path):
    folder = _corpus(tmp_path)
    fake_pipeline.ingest([folder])
    note = folder / "note1.md"
    note.write_text(note.read_text().replace("harbour cranes", "airport runways") +
                    "\nA third paragraph.\n", encoding="utf-8")
    report = fake_pipeline.ingest([folder])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 2)
    texts = [h.passage.text for h in fake_pipeline.store.iter_passages()
             if h.passage.article_id == "note1"]
    assert texts and all("harbour" not in t for t in texts)
    assert any("airport runways" in t for t in texts)
    assert consistency_problems(fake_pipeline.store) == []


def test_prune_removes_articles_whose_file_is_gone(fake_pipeline, tmp_path):
    folder = _corpus(tmp_path)
    fake_pipeline.ingest([folder])
    (folder / "note2.md").unlink()
    kept = fake_pipeline.ingest([folder])            # without --prune nothing is deleted
    assert kept.removed == 0 and kept.articles == 3
    pruned = fake_pipeline.ingest([folder], prune=True)
    assert pruned.removed == 1 and pruned.articles == 2
    assert fake_pipeline.article("note2") is None
    assert consistency_problems(fake_pipeline.store) == []


def test_interrupted_ingest_is_redone_not_counted_unchanged(fake_pipeline, tmp_path):
    folder = _corpus(tmp_path)
    embedder = fake_pipeline.embedder
    real = embedder.embed_texts

    def crash_after_first_batch(texts):
        real(texts)
        raise KeyboardInterrupt("simulated kill")

    embedder.embed_texts = crash_after_first_batch
    with pytest.raises(KeyboardInterrupt):
        fake_pipeline.ingest([folder])
    store = fake_pipeline.store
    pending = store.records(status="pending")
    assert pending, "the interrupted group should be left pending"
    # article_count asks Chroma for ids only; it must agree with the full records
    assert store.article_count("pending") == len(pending)
    assert store.article_count("ready") == len(store.records(status="ready"))
    embedder.embed_texts = real
    report = fake_pipeline.ingest([folder])
    assert report.unchanged == 0 and report.added + report.updated == 3
    assert fake_pipeline.store.records(status="pending") == []
    assert consistency_problems(fake_pipeline.store) == []


def test_bad_file_is_reported_and_the_rest_ingested(fake_pipeline, tmp_path):
    folder = _corpus(tmp_path)
    (folder / "empty.txt").write_text("   \n")
    report = fake_pipeline.ingest([folder])
    assert report.added == 3
    assert [f["path"].endswith("empty.txt") for f in report.failed] == [True]


def test_delete_article(fake_pipeline, tmp_path):
    fake_pipeline.ingest([_corpus(tmp_path)])
    assert fake_pipeline.delete("note1") is True
    assert fake_pipeline.delete("note1") is False
    assert all(h.passage.article_id != "note1" for h in fake_pipeline.store.iter_passages())
    assert consistency_problems(fake_pipeline.store) == []
