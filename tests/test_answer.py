from fakes import FakeEmbedder

from rag.answer import build_answer, content_terms, speaker_of, units_of
from rag.chunking import Passage
from rag.store import PassageHit

TEXT = ('Intro line about the meeting.\n\n'
        '“Relevant countries should not use this as a pretext. We believe THAAD won\'t resolve '
        'this problem," said Sergey Lavrov, the minister.\n\n'
        '"This move goes beyond defensive needs," said Wang Yi.\n\n'
        'Lavrov and Wang shook hands.')


def _hit(start=0, end=None):
    end = len(TEXT) if end is None else end
    return PassageHit(Passage("a::0", "a", 0, start, end, TEXT[start:end]), "Title",
                      "2016-04-30", "src", None, 0.5)


def test_speaker_parsing_and_terms():
    assert speaker_of("What did Lavrov say about THAAD?") == ["lavrov"]
    assert speaker_of("what has Wang Yi said") == ["wang", "yi"]
    assert speaker_of("Who deployed THAAD?") == []
    assert "thaad" in content_terms("What did Lavrov say about THAAD?")


def test_a_quotation_over_two_sentences_is_one_unit_and_overlaps_are_not_repeated():
    units = units_of([_hit(), _hit(30, len(TEXT))], lambda _: TEXT)
    texts = [u.text for u in units]
    assert any(t.startswith("“Relevant") and t.endswith("the minister.") for t in texts)
    assert len(texts) == len(set(texts)) == 4
    assert all(TEXT[u.start:u.end] == u.text for u in units)


def test_speaker_question_puts_the_speakers_statement_first():
    answer = build_answer("What did Lavrov say about THAAD?", [_hit()], lambda _: TEXT,
                          FakeEmbedder(), max_units=1, refuse_below=0.1)
    assert not answer.refused
    assert "pretext" in answer.text and "won't resolve" in answer.text
    c = answer.citations[0]
    assert TEXT[c.start:c.end] == c.quote and answer.text.endswith("[1]")


def test_unknown_entity_is_refused():
    answer = build_answer("What did Obama say about THAAD?", [_hit()], lambda _: TEXT,
                          FakeEmbedder(), refuse_below=0.1)
    assert answer.refused and answer.citations == ()
    assert "Obama" in answer.text


def test_a_span_that_no_longer_matches_the_article_is_never_cited():
    stale = PassageHit(Passage("a::0", "a", 0, 0, 10, "not the text"), "T", None, None, None, 0)
    answer = build_answer("anything at all", [stale], lambda _: TEXT, FakeEmbedder())
    assert answer.refused
