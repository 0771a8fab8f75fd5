from fakes import FakeEmbedder

from rag.answer import (build_answer, content_terms, missing_entities, shortlist, speaker_of,
                        units_of)
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


class CountingEmbedder(FakeEmbedder):
    def __init__(self):
        super().__init__()
        self.encoded: list[str] = []

    def embed_texts(self, texts):
        self.encoded += list(texts)
        return super().embed_texts(texts)


def test_only_a_shortlist_of_units_is_encoded_and_the_speaker_survives_it():
    filler = "".join(f"Delegates discussed the THAAD item number {i} at length. " for i in range(12))
    text = filler + '\n\n"We oppose it," said Sergey Lavrov.'
    hit = PassageHit(Passage("b::0", "b", 0, 0, len(text), text), "T", None, None, None, 0.5)
    units = units_of([hit], lambda _: text)
    assert len(units) == 13
    picked = shortlist("What did Lavrov say about THAAD?", units, 4)
    assert len(picked) == 4 and any("Lavrov" in u.text for u in picked)
    embedder = CountingEmbedder()
    answer = build_answer("What did Lavrov say about THAAD?", [hit], lambda _: text, embedder,
                          max_units=1, refuse_below=0.1, encode_limit=4)
    assert len(embedder.encoded) == 4
    assert "We oppose it" in answer.text
    everything = CountingEmbedder()
    build_answer("What did Lavrov say about THAAD?", [hit], lambda _: text, everything,
                 encode_limit=None)
    assert len(everything.encoded) == 13


def test_unknown_entity_is_refused():
    answer = build_answer("What did Obama say about THAAD?", [_hit()], lambda _: TEXT,
                          FakeEmbedder(), refuse_below=0.1)
    assert answer.refused and answer.citations == ()
    assert "Obama" in answer.text


def test_a_span_that_no_longer_matches_the_article_is_never_cited():
    stale = PassageHit(Passage("a::0", "a", 0, 0, 10, "not the text"), "T", None, None, None, 0)
    answer = build_answer("anything at all", [stale], lambda _: TEXT, FakeEmbedder())
    assert answer.refused


BBC = ('Franz Ferdinand frontman Alex Kapranos has called for more help for musicians.\n\n'
       '"For any cultural output to thrive there needs to be some state input," he said. '
       'But Kapranos warned against musicians being too closely linked with MPs. '
       '"I think the role of musicians is to question politicians," he said.\n\n'
       'Cueto was also puzzled as to why his try had been disallowed by Kaplan. '
       '"I was behind the ball," said the Sale player. '
       '"As far as I am concerned, Mark Cueto\'s effort was a good try," Lewsey added.')


def _units(text):
    hit = PassageHit(Passage("b::0", "b", 0, 0, len(text), text), "T", None, None, None, 0.5)
    return {u.text: u for u in units_of([hit], lambda _: text)}


def test_speakers_are_found_through_pronouns_and_the_previous_sentence():
    from rag.answer import speaks_in
    units = _units(BBC)
    by_start = lambda prefix: next(u for t, u in units.items() if t.startswith(prefix))
    assert speaks_in(by_start('"I think the role'), ["kapranos"])      # he said, Kapranos before
    assert speaks_in(by_start('"I was behind'), ["cueto"])              # subject of previous sentence
    assert not speaks_in(by_start('"As far as'), ["cueto"])             # named only inside the quote
    assert speaks_in(by_start('"As far as'), ["lewsey"])
    assert not speaks_in(by_start('Franz Ferdinand'), ["kapranos"])     # no speech verb, no quote


def test_adjacent_units_merge_into_one_citation():
    from rag.answer import merge_adjacent
    units = list(_units(BBC).values())
    merged = merge_adjacent(units[1:3], lambda _: BBC)
    assert len(merged) == 1 and merged[0].text == BBC[units[1].start:units[2].end]


def test_a_quotation_cut_by_one_passage_end_is_taken_whole_from_the_next_in_any_order():
    cut = _hit(0, TEXT.index("pretext.") + len("pretext."))   # ends inside the quotation
    for hits in ([cut, _hit()], [_hit(), cut]):
        texts = [u.text for u in units_of(hits, lambda _: TEXT)]
        assert any(t.startswith("“Relevant") and t.endswith("the minister.") for t in texts)
        assert not any(t.endswith("pretext.") for t in texts)
        assert len(texts) == len(set(texts)) == 4


def test_missing_entities_skip_first_person_and_split_hyphenated_names():
    hit = PassageHit(Passage("c::0", "c", 0, 0, 60, "The Russian and American teams met. Ford's plan."),
                     "T", None, None, None, 0.5)
    text = hit.passage.text
    units = units_of([hit], lambda _: text)
    assert missing_entities("So I'm asking about the Russian-American teams", units) == []
    assert missing_entities("What about Ford’s plan and Toyota?", units) == ["Toyota"]
