"""The quote index kept in step with the store, the quotes/people commands and speaker questions
(fake embedder, real Chroma in tmp_path)."""
import json
import shutil

import pytest

from conftest import SEED
from rag.cli import main
from rag.store import consistency_problems

STATEMENT = ("---\ntitle: Budget row\ndate: 2005-03-{day}\nsource: test\n---\n"
             "Chancellor Gordon Brown spoke in London.\n\n"
             '"{words}," Mr Brown said.\n\n'
             '"The board acted swiftly," a company spokeswoman said.\n')


def _corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    (folder / "brown.md").write_text(STATEMENT.format(day="16", words="Prudence is our watchword"),
                                     encoding="utf-8")
    return folder


def _quotes(pipeline, article_id=None):
    return [q for q in pipeline.store.quotes.iter_quotes()
            if article_id is None or q.article_id == article_id]


def test_ingest_indexes_quotes_and_unchanged_reingest_writes_nothing(fake_pipeline, tmp_path):
    folder = _corpus(tmp_path)
    fake_pipeline.ingest([folder])
    quotes = _quotes(fake_pipeline)
    assert {q.speaker for q in quotes} >= {"Sergey Lavrov", "Wang Yi", "Gordon Brown", None}
    passages = {h.passage.id: h.passage for h in fake_pipeline.store.iter_passages()}
    for q in quotes:
        assert fake_pipeline.article(q.article_id).article.text[q.start:q.end] == q.quote
        holder = passages[q.passage_id]          # the passage whose vector stands for its topic
        assert holder.article_id == q.article_id and holder.start <= q.start < holder.end
    writes = []
    index = fake_pipeline.store.quotes
    real_replace = index.replace
    index.replace = lambda *a, **k: (writes.append(a), real_replace(*a, **k))
    fake_pipeline.ingest([folder])
    assert writes == [] and len(_quotes(fake_pipeline)) == len(quotes)
    assert consistency_problems(fake_pipeline.store) == []


def test_edited_article_has_its_quotes_replaced_and_delete_or_prune_remove_them(fake_pipeline,
                                                                                tmp_path):
    folder = _corpus(tmp_path)
    fake_pipeline.ingest([folder])
    (folder / "brown.md").write_text(STATEMENT.format(day="17", words="Growth will surprise us"),
                                     encoding="utf-8")
    fake_pipeline.ingest([folder])
    texts = [q.quote for q in _quotes(fake_pipeline, "brown")]
    assert "Growth will surprise us" in texts and "Prudence is our watchword" not in texts
    assert consistency_problems(fake_pipeline.store) == []
    assert fake_pipeline.delete("brown")
    assert _quotes(fake_pipeline, "brown") == []
    seed_id = next(q.article_id for q in _quotes(fake_pipeline) if q.speaker == "Wang Yi")
    (folder / SEED.name).unlink()
    fake_pipeline.ingest([folder], prune=True)
    assert _quotes(fake_pipeline, seed_id) == [] and _quotes(fake_pipeline, "brown")
    assert consistency_problems(fake_pipeline.store) == []


def test_interrupted_ingest_leaves_no_orphan_quotes(fake_pipeline, tmp_path):
    folder = _corpus(tmp_path)
    store = fake_pipeline.store
    real_ready = store.mark_ready_many

    def killed(done):
        raise KeyboardInterrupt("simulated kill after the quotes were written")

    store.mark_ready_many = killed
    with pytest.raises(KeyboardInterrupt):
        fake_pipeline.ingest([folder])
    problems = consistency_problems(store)
    assert any("pending but has" in p and "quotations" in p for p in problems)
    store.mark_ready_many = real_ready
    fake_pipeline.ingest([folder])
    assert consistency_problems(store) == [] and _quotes(fake_pipeline)


def test_older_store_without_quotes_is_backfilled_and_check_reports_what_is_missing(
        fake_pipeline, tmp_path):
    folder = _corpus(tmp_path)
    fake_pipeline.ingest([folder])
    index = fake_pipeline.store.quotes
    index.delete_many(["brown"])                   # as if stored before the quote index existed
    assert any("brown: quotations not indexed" in p for p in consistency_problems(fake_pipeline.store))
    calls = fake_pipeline.embedder.calls
    report = fake_pipeline.ingest([folder])
    assert report.unchanged == 2 and fake_pipeline.embedder.calls == calls   # nothing re-embedded
    assert _quotes(fake_pipeline, "brown")
    assert consistency_problems(fake_pipeline.store) == []


def test_check_finds_orphan_quotes(fake_pipeline, tmp_path):
    from rag.articles import Article
    from rag.quotes import extract_quotes
    fake_pipeline.ingest([_corpus(tmp_path)])
    ghost = Article(id="ghost", title="Ghost", text='"Boo," said Casper Ghost.')
    fake_pipeline.store.quotes.replace([(ghost, extract_quotes(ghost.text), [])])
    problems = consistency_problems(fake_pipeline.store)
    assert any("orphaned quotations of unknown article ghost" in p for p in problems)


def _run(capsys, pipeline, *argv):
    status = main([*argv, "--json"], pipeline=pipeline)
    return status, json.loads(capsys.readouterr().out)


def test_quotes_command_spans_order_and_ambiguity(fake_pipeline, tmp_path, capsys):
    folder = _corpus(tmp_path)
    (folder / "howard.md").write_text(
        "---\ntitle: Two Howards\ndate: 2005-02-01\nsource: test\n---\n"
        '"Taxes must fall," said Michael Howard, the Tory leader.\n\n'
        '"Rates stay," said John Howard, the Australian prime minister.\n', encoding="utf-8")
    fake_pipeline.ingest([folder])
    status, doc = _run(capsys, fake_pipeline, "quotes", "Mr Lavrov")
    assert status == 0 and doc["speaker"] == "Sergey Lavrov" and len(doc["quotes"]) == 2
    for q in doc["quotes"]:
        text = fake_pipeline.article(q["article_id"]).article.text
        assert text[q["start"]:q["end"]] == q["quote"] and q["speaker"] == "Sergey Lavrov"
    status, doc = _run(capsys, fake_pipeline, "quotes", "Lavrov", "--about", "THAAD")
    assert [("THAAD" in q["quote"]) for q in doc["quotes"]] == [True]
    status, doc = _run(capsys, fake_pipeline, "quotes", "Brown")
    assert doc["speaker"] == "Gordon Brown" and doc["quotes"][0]["published"] == "2005-03-16"
    status, doc = _run(capsys, fake_pipeline, "quotes", "Howard")
    assert status == 2 and sorted(doc["candidates"]) == ["John Howard", "Michael Howard"]
    status, doc = _run(capsys, fake_pipeline, "quotes", "Lavrov", "--since", "2017-01-01")
    assert status == 0 and doc["quotes"] == []
    status, doc = _run(capsys, fake_pipeline, "quotes", "Nobody Known")
    assert status == 1
    status, people = _run(capsys, fake_pipeline, "people")
    lavrov = next(p for p in people if p["name"] == "Sergey Lavrov")
    assert lavrov["quotes"] == 2 and lavrov["sources"] == ["hani.co.kr"]
    assert lavrov["first"].startswith("2016-04-30") and lavrov["roles"]
    status, people = _run(capsys, fake_pipeline, "people", "--about", "THAAD")
    assert {p["name"] for p in people} == {"Sergey Lavrov", "Wang Yi"}


def test_speaker_question_cites_only_that_speaker_and_follow_up_switches(fake_pipeline, tmp_path):
    fake_pipeline.ingest([_corpus(tmp_path)])
    spans = {}
    for q in _quotes(fake_pipeline):
        spans.setdefault(q.speaker, set()).add((q.start, q.end))
    answer = fake_pipeline.ask("What did Lavrov say about THAAD?")
    assert not answer.refused and answer.citations
    assert {(c.start, c.end) for c in answer.citations} <= spans["Sergey Lavrov"]
    assert all(c.published and c.published.startswith("2016-04-30") for c in answer.citations)
    follow = fake_pipeline.ask("And what did Wang Yi say?",
                               history=[{"question": "What did Lavrov say about THAAD?",
                                         "answer": answer.text}])
    assert follow.standalone_question == "What did Wang Yi say about THAAD?"
    assert {(c.start, c.end) for c in follow.citations} <= spans["Wang Yi"]
    assert len(follow.citations) == 2
    # nothing on the topic in the index: the passages answer as before
    fallback = fake_pipeline.ask("What did Lavrov say about harbour cranes?")
    assert all((c.start, c.end) not in spans["Sergey Lavrov"] for c in fallback.citations)


@pytest.mark.slow
def test_seed_speaker_questions_with_the_real_model(real_pipeline):
    """The seed's two questions come from the quote index: only the asked-about speaker's own
    words, dated; the follow-up switches speaker and keeps the topic."""
    real_pipeline.ingest([SEED])
    spans = {}
    for q in real_pipeline.store.quotes.iter_quotes():
        spans.setdefault(q.speaker, set()).add((q.start, q.end))
    text = real_pipeline.article(next(iter(real_pipeline.store.quotes.iter_quotes())).article_id)\
        .article.text
    lavrov = real_pipeline.ask("What did Lavrov say about THAAD?")
    assert lavrov.citations and {(c.start, c.end) for c in lavrov.citations} <= spans["Sergey Lavrov"]
    assert "won't resolve this problem" in lavrov.text and "This move" not in lavrov.text
    wang = real_pipeline.ask("What did Wang Yi say about THAAD?")
    assert {(c.start, c.end) for c in wang.citations} <= spans["Wang Yi"]
    assert any("goes beyond the defensive needs" in c.quote for c in wang.citations)
    follow = real_pipeline.ask("And what did Wang Yi say?", history=[
        {"question": "What did Lavrov say about THAAD?", "answer": lavrov.text}])
    assert [c.quote for c in follow.citations] == [c.quote for c in wang.citations]
    for c in (*lavrov.citations, *wang.citations):
        assert text[c.start:c.end] == c.quote and c.published.startswith("2016-04-30")
        assert "2016-04-30" in (lavrov.text + wang.text)
    person, about = real_pipeline.quotes_by("Wang Yi", about="reopening the six-party talks")
    assert person.name == "Wang Yi" and any("Six-Party Talks" in q.quote for q in about)


def test_a_quote_reprinted_in_two_articles_is_cited_once(fake_pipeline, tmp_path):
    folder = tmp_path / "twins"
    folder.mkdir()
    for day in ("16", "17"):
        (folder / f"brown{day}.md").write_text(
            STATEMENT.format(day=day, words="Prudence is our watchword").replace(
                "Budget row", f"Budget row {day}"), encoding="utf-8")
    fake_pipeline.ingest([folder])
    answer = fake_pipeline.ask("What did Gordon Brown say about prudence?")
    assert [c.quote for c in answer.citations] == ["Prudence is our watchword"]
