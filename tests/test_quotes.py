"""Quote extraction and people merging on hand-made text (no model, no store)."""
import pytest

from rag.quotes import extract_quotes
from rag.quotes.people import AmbiguousSpeaker, build_people, find_person


def quotes_of(text):
    found = extract_quotes(text)
    for q in found:
        assert text[q.start:q.end] == q.text     # every quotation is an exact span
    return found


def by_fragment(found, fragment):
    hits = [q for q in found if fragment in q.text]
    assert hits, f"no quotation contains {fragment!r}: {[q.text for q in found]}"
    return hits[0]


def test_multi_paragraph_quote_runs_on_to_the_next_opening_mark():
    text = ('Finance Minister Anna Berg said the plan was sound.\n\n'
            '"We will cut the deficit this year. We have the votes.\n\n'
            '"And we will not raise taxes," she said.\n\n'
            'The opposition was not convinced.')
    q = by_fragment(quotes_of(text), "We will cut the deficit")
    assert "we will not raise taxes" in q.text       # one quotation over two paragraphs
    assert q.speaker == "Anna Berg" and q.cue == "said"


def test_split_quote_keeps_its_speaker_for_both_parts():
    found = quotes_of('"The talks are over," Mr Lavrov said. "We will now wait for Washington."\n'
                      'Earlier, Russian Foreign Minister Sergey Lavrov met his counterpart.')
    assert by_fragment(found, "The talks are over").speaker == "Sergey Lavrov"
    assert by_fragment(found, "We will now wait").speaker == "Sergey Lavrov"


def test_speaker_named_after_the_quote_with_an_appositive():
    found = quotes_of('"Demand is slowing fast," said Jane Smith, an analyst at Acme Capital.')
    q = by_fragment(found, "Demand is slowing")
    assert q.speaker == "Jane Smith" and q.kind == "direct"
    assert q.role == "an analyst at Acme Capital"


def test_colon_before_the_quote_and_he_added():
    text = ('Tory leader Michael Howard spoke in Brighton. Mr Howard said: "We are ready."\n\n'
            'He added: "Bring it on."')
    found = quotes_of(text)
    assert by_fragment(found, "We are ready").speaker == "Michael Howard"
    assert by_fragment(found, "Bring it on").speaker == "Michael Howard"


def test_reported_speech_said_that_according_to_and_told_radio():
    text = ("Chancellor Gordon Brown said that growth would beat forecasts this year. "
            "According to the Treasury, borrowing will fall. "
            "Mr Brown told BBC Radio 4's Today programme that inflation was under control.")
    found = quotes_of(text)
    q = by_fragment(found, "growth would beat forecasts")
    assert (q.kind, q.speaker, q.cue) == ("reported", "Gordon Brown", "said")
    assert "said" not in q.text                       # the frame is not part of the quotation
    treasury = by_fragment(found, "borrowing will fall")
    assert treasury.cue == "according to" and treasury.speaker is None
    assert by_fragment(found, "inflation was under control").speaker == "Gordon Brown"


def test_unnamed_and_organisation_speakers_are_never_credited_to_a_nearby_person():
    text = ('Chief executive John Ward resigned on Monday. "The board acted swiftly," a company '
            'spokeswoman said. Analysts said the shares would recover. '
            '"Profits will double," TimeWarner said.')
    found = quotes_of(text)
    spokeswoman = by_fragment(found, "The board acted swiftly")
    assert spokeswoman.speaker is None and spokeswoman.speaker_label == "a company spokeswoman"
    assert by_fragment(found, "the shares would recover").speaker is None
    assert by_fragment(found, "Profits will double").speaker is None


def test_role_noun_resolves_to_the_one_person_with_that_role():
    text = ('Foreign Minister Wang Yi met reporters. "Talks must resume," the foreign minister said.')
    assert by_fragment(quotes_of(text), "Talks must resume").speaker == "Wang Yi"


def test_mixed_quote_reporting_someone_elses_words_is_not_credited_to_the_sentence_subject():
    text = ('Michael Howard has said a claim by Peter Hain that he is an "attack mongrel" shows '
            'Labour is worried.')
    q = by_fragment(quotes_of(text), "attack mongrel")
    assert q.speaker != "Michael Howard"


def test_quote_with_no_speaker_is_left_unattributed():
    q = by_fragment(quotes_of('The sign read: "Closed for repairs until spring."'), "Closed for")
    assert q.speaker is None


def rows(*speakers):
    return [(s, s, "", "bbc", 20050101 + i, f"2005-01-0{1 + i % 8}") for i, s in enumerate(speakers)]


def test_people_merge_a_surname_into_its_only_full_name():
    people = build_people(rows("Sergey Lavrov", "Lavrov", "Wang Yi", "Wang"))
    assert sorted(p.name for p in people) == ["Sergey Lavrov", "Wang Yi"]
    assert find_person("Mr Lavrov", people).quotes == 2
    assert find_person("Wang", people).name == "Wang Yi"


def test_same_surname_different_first_names_are_not_merged_and_the_surname_is_ambiguous():
    people = build_people(rows("Michael Howard", "John Howard", "Howard"))
    assert {"Michael Howard", "John Howard", "Howard"} == {p.name for p in people}
    with pytest.raises(AmbiguousSpeaker) as err:
        find_person("Howard", people)
    assert "Michael Howard" in err.value.candidates and "John Howard" in err.value.candidates
    assert find_person("Michael Howard", people).quotes == 1
    assert find_person("Nobody Atall", people) is None


def test_sentence_openers_and_places_are_not_part_of_a_name():
    found = quotes_of("On Monday Tony Blair said the war had been legal. "
                      "Speaking in Tanzania Mr Brown said aid would double.")
    assert by_fragment(found, "the war had been legal").speaker == "Tony Blair"
    assert by_fragment(found, "aid would double").speaker_label == "Mr Brown"


def test_a_titled_name_is_a_surname():
    people = build_people(rows("Michael Howard", "Howard Newby", "Wang Yi"))
    assert find_person("Mr Howard", people).name == "Michael Howard"
    assert find_person("Mr Wang", people).name == "Wang Yi"      # family name said first
    with pytest.raises(AmbiguousSpeaker):
        find_person("Howard", people)


def test_reported_clause_after_an_appositive_and_after_a_coordinating_and():
    """"X, the mayor of Y, said CLAUSE" reports CLAUSE (not "X, the mayor of Y" said by "the
    council approved ..."); "A asked about B, and X said CLAUSE" reports CLAUSE, not A's part."""
    text = ("Ilse Brandvik, the mayor of Velmora, said the council approved a new tram depot "
            "costing 12 million euros.\n\n"
            "Residents of Velmora asked about noise, and Ms Brandvik said the depot would be "
            "quiet at night.\n")
    found = quotes_of(text)
    assert [q.text for q in found] == [
        "the council approved a new tram depot costing 12 million euros",
        "the depot would be quiet at night"]
    assert {q.speaker for q in found} == {"Ilse Brandvik"}
