"""Story questions: multi-part, comparison, detail, absent detail, possibility, possessives,
timelines and story summaries (fake embedder; one real-model test over real BBC articles)."""
import json

import pytest
from fakes import FakeEmbedder

from rag import policy
from rag.answer import build_answer, missing_entities
from rag.chunking import Passage
from rag.compare import derived_line, pick_sides, quantities
from rag.questions import (answer_type, asks_for_fact, comparison_of, focus_terms, is_hedged,
                           question_parts, retrieval_query, story_topic)
from rag.store import PassageHit
from rag.units import units_of

ARTICLES = {
    "bid": ("Tycoon makes offer for club\n\n"
            "Malcolm Glazer has made a fresh offer to buy the club. "
            "The board agreed to give Mr Glazer access to its books but said it still opposed "
            "the plan.\n\nThe Glazer family holds a stake of 28.1%. "
            "The Irish investors own 29% of the club through their company."),
    "rival": ("Rival bid rejected\n\nQwest said the club had rejected a deal worth $8bn. "
              "The club accepted a $6.75bn buyout from Verizon on Monday."),
    "trial": ("Trial of former chief\n\nMr Ebbers could face a jail sentence of 85 years if "
              "convicted of all the charges. The trial of Mr Ebbers is being held in New York. "
              "Jones' lawyer Reid Weingarten said his client was innocent."),
}


def _hits(*ids):
    return [PassageHit(Passage(f"{a}::0", a, 0, 0, len(ARTICLES[a]), ARTICLES[a]), a.title(),
                       None, "test", None, 0.5) for a in ids]


def _answer(question, *ids, **kw):
    return build_answer(question, _hits(*ids), ARTICLES.get, FakeEmbedder(),
                        refuse_below=kw.pop("refuse_below", 0.2), **kw)


# -- what a question asks ----------------------------------------------------------------------
def test_question_parts_answer_types_and_focus():
    q = "Who made the new offer for the club, and how did the board respond?"
    assert question_parts(q) == ["Who made the new offer for the club?",
                                 "How did the board respond?"]
    assert "offer" in retrieval_query("How did the board respond?", question_parts(q))
    assert question_parts("What did Kapranos say about musicians and politicians?") == \
        ["What did Kapranos say about musicians and politicians?"]
    assert answer_type("In which city were the talks held?") == "place"
    assert answer_type("How much did GM pay?") == "amount"
    assert answer_type("How long is the trial expected to last?") == "duration"
    assert answer_type("Who is the chief executive?") == "person"
    assert answer_type("What is Bernie Ebbers' wife called?") == "name"
    assert focus_terms("What is Bernie Ebbers' wife called?") == {"wif"}
    assert story_topic("How did the Kenteris story develop?") == "Kenteris"
    assert story_topic("Who made the offer?") is None


def test_comparisons_hedges_and_quantities():
    c = comparison_of("Which offer was bigger, Qwest's rejected offer or Verizon's accepted "
                      "buyout?")
    assert c.sides == ("Qwest's rejected offer", "Verizon's accepted buyout")
    assert comparison_of("Did Baikal pay more or less for Yugansk than the taxes Yukos owes?")
    assert comparison_of("Who made the offer?") is None
    assert is_hedged("Mr Ebbers could face a jail sentence of 85 years if convicted.")
    assert is_hedged("it could be fined up to £5,000.")
    assert not is_hedged("Mr Ebbers was sentenced to 25 years.")
    assert asks_for_fact("What fine did Labour pay?") and not asks_for_fact("Who is the lawyer?")
    found = quantities("Baikal paid 260.75bn roubles ($9.37bn: £4.8bn), not the $27bn owed; 28.1%")
    assert [(q.text, q.unit) for q in found] == [("260.75bn roubles", "rouble"), ("$9.37bn", "$"),
                                                 ("£4.8bn", "£"), ("$27bn", "$"), ("28.1%", "%")]
    assert found[1].value == pytest.approx(9.37e9)
    assert derived_line(found[1], 1, found[3], 2) == "$9.37bn [1] is less than $27bn [2]"


def test_possessive_names_ending_in_s_are_present_when_the_name_is():
    units = units_of(_hits("trial"), ARTICLES.get)
    assert missing_entities("What did Ebbers' lawyer say?", units) == []
    assert missing_entities("What did Jones' lawyer say?", units) == []
    assert missing_entities("What did Smithers' lawyer say?", units) == ["Smithers'"]


# -- answers -----------------------------------------------------------------------------------
def test_multi_part_question_answers_each_part_with_its_own_citations():
    answer = _answer("Who made the fresh offer to buy the club, and how did the board respond?",
                     "bid", "rival")
    assert not answer.refused
    parts = {s["part"] for s in answer.sentences}
    assert parts == {1, 2}
    first = [s for s in answer.sentences if s["part"] == 1][0]
    second = [s for s in answer.sentences if s["part"] == 2][0]
    assert "Glazer" in first["text"] and "board" in second["text"]
    assert [p["question"] for p in answer.to_dict()["parts"]] == [
        "Who made the fresh offer to buy the club?", "How did the board respond?"]
    for c in answer.citations:
        assert ARTICLES[c.article_id][c.start:c.end] == c.quote


def test_a_part_the_archive_does_not_hold_is_refused_on_its_own():
    answer = _answer("Who made the fresh offer to buy the club, and what is Malcolm Glazer's "
                     "wife called?", "bid")
    assert not answer.refused
    assert "The archive does not say what is Malcolm Glazer's wife called." in answer.text
    parts = answer.to_dict()["parts"]
    assert [p["refused"] for p in parts] == [False, True]
    assert parts[1]["refusal_reason"] == policy.DETAIL_ABSENT
    assert {s["part"] for s in answer.sentences} == {1}


def test_comparison_is_a_derived_line_over_two_cited_figures():
    answer = _answer("Which offer was bigger, Qwest's rejected deal or Verizon's accepted buyout?",
                     "rival")
    derived = [s for s in answer.sentences if s.get("derived")]
    assert len(derived) == 1 and derived[0]["text"].startswith("$8bn [")
    assert "is more than $6.75bn [" in derived[0]["text"]
    quotes = {c.n: c.quote for c in answer.citations}
    assert all("$8bn" in quotes[n] or "$6.75bn" in quotes[n] for n in derived[0]["citations"])
    assert f"{policy.DERIVED_PREFIX} $8bn" in answer.text
    stakes = _answer("Whose stake is bigger, the Glazer family's or the Irish investors'?", "bid")
    line = [s for s in stakes.sentences if s.get("derived")][0]["text"]
    assert line.startswith("28.1% [") and "is less than 29% [" in line


def test_no_comparison_is_stated_without_two_figures():
    answer = _answer("Which was bigger, the Glazer stake or the Sunderland stake?", "trial",
                     refuse_below=0.0)
    assert not any(s.get("derived") for s in answer.sentences)


def test_an_absent_detail_about_a_present_subject_is_refused():
    answer = _answer("What is Mr Ebbers' wife called?", "trial")
    assert answer.refused and answer.refusal_reason == policy.DETAIL_ABSENT
    assert answer.text == ("I can't answer that from the archive: it does not say what is "
                           "Mr Ebbers' wife called.")
    place = _answer("In which city is the trial of Mr Ebbers being held?", "trial")
    assert not place.refused and "New York" in place.text


def test_a_possibility_is_answered_marked_as_such_never_as_fact():
    answer = _answer("How many years in jail was Mr Ebbers sentenced to?", "trial")
    assert not answer.refused
    assert answer.text.startswith(policy.HEDGE_PREFIX)
    assert answer.sentences and all(s["hedged"] for s in answer.sentences)
    assert "could face" in answer.text


# -- timelines and story summaries ---------------------------------------------------------------
STORY = [  # (file, date, source, text): a small dated story plus an undated piece
    ("a.md", "2005-01-10", "wire-a", "Sprinter Kenteris suspended\n\nThe sprinter Kenteris was "
     "suspended by the federation for missing drugs tests."),
    ("b.md", "2005-02-20", "wire-a", "Kenteris hearing held\n\nKenteris appeared before a "
     "tribunal that will decide whether the ban on the sprinter stands."),
    ("c.md", "2005-02-21", "wire-b", "Kenteris hearing held\n\nKenteris appeared before a "
     "tribunal that will decide whether the ban on the sprinter stands."),
    ("d.md", "2005-03-18", "wire-b", "Kenteris cleared\n\nThe tribunal cleared Kenteris of all "
     "doping charges and lifted the ban on the sprinter."),
    ("e.md", None, "wire-c", "Athletics year in review\n\nKenteris and the missed tests "
     "overshadowed the sprint events this year."),
    ("f.md", "2005-03-01", "wire-c", "Other sport news\n\nA football club changed its coach."),
]


@pytest.fixture
def story_pipeline(fake_pipeline, tmp_path):
    folder = tmp_path / "story"
    folder.mkdir()
    for name, date, source, text in STORY:
        front = f"---\nid: {name[0]}\nsource: {source}\n" + (f"date: {date}\n" if date else "")
        (folder / name).write_text(front + "---\n" + text + "\n", encoding="utf-8")
    fake_pipeline.ingest([folder])
    return fake_pipeline


def test_timeline_orders_groups_and_counts(story_pipeline):
    t = story_pipeline.timeline("Kenteris").to_dict()
    assert [e["article_id"] for e in t["entries"]] == ["a", "b", "d"]
    assert [a["article_id"] for a in t["entries"][1]["also"]] == ["c"]     # near-duplicate
    assert [e["article_id"] for e in t["undated"]] == ["e"]                # listed apart
    for e in t["entries"] + t["undated"]:
        assert story_pipeline.article_text(e["article_id"])[e["start"]:e["end"]] == e["sentence"]
    assert t["coverage"] == [{"period": "2005-01", "source": "wire-a", "articles": 1},
                             {"period": "2005-02", "source": "wire-a", "articles": 1},
                             {"period": "2005-02", "source": "wire-b", "articles": 1},
                             {"period": "2005-03", "source": "wire-b", "articles": 1}]
    from rag.retrieve import Filters
    since = story_pipeline.timeline("Kenteris", Filters(since="2005-02-01")).to_dict()
    assert [e["article_id"] for e in since["entries"]] == ["b", "d"]


def test_timeline_cli_json_and_chat_question(story_pipeline, capsys):
    from rag.cli import main
    assert main(["timeline", "Kenteris", "--source", "wire-b", "--json"],
                pipeline=story_pipeline) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= {"topic", "entries", "coverage"}
    assert [e["article_id"] for e in doc["entries"]] == ["c", "d"]
    assert set(doc["entries"][0]) >= {"published", "article_id", "title", "source", "url",
                                      "sentence", "start", "end"}
    answer = story_pipeline.ask("How did the Kenteris story develop?")
    lines = answer.text.splitlines()
    assert lines[0].startswith("2005-01-10: ") and lines[0].endswith("[1]")
    assert lines[-1].startswith("undated: ")
    assert len(answer.citations) == 4


def test_topic_summary_follows_the_timeline(story_pipeline):
    summary = story_pipeline.summarize_topic("Kenteris", sentences=3)
    lines = summary.text.splitlines()
    assert lines[0].startswith("First (2005-01-10, wire-a): ")
    assert lines[-1].startswith("Latest (2005-03-18, wire-b): ") and "cleared" in lines[-1]
    assert lines[1].startswith("Then (2005-02-20")
    for c in summary.citations:
        assert story_pipeline.article_text(c.article_id)[c.start:c.end] == c.quote


# -- generative mode -----------------------------------------------------------------------------
def test_generative_answers_are_decomposed_and_verified_per_part():
    from fakes import FakeLLM

    from rag.config import Settings
    from rag.generate import generate_answer

    def reply(prompt):
        question = prompt[-1][1].split("Question:")[-1]
        if "respond" in question:
            return "The board agreed to give Mr Glazer access to its books [1]."
        return "Malcolm Glazer has made a fresh offer to buy the club [1]."
    llm = FakeLLM(reply)
    answer = generate_answer(llm, "Who made the fresh offer to buy the club, and how did the "
                             "board respond?", _hits("bid"), ARTICLES.get, FakeEmbedder(),
                             Settings(refuse_below=0.2), search=lambda q: _hits("bid"))
    assert len(llm.prompts) == 2
    assert [s["part"] for s in answer.sentences] == [1, 2]
    assert all(s["supported"] for s in answer.sentences)
    assert answer.mode == "generative" and len(answer.to_dict()["parts"]) == 2
    refused = generate_answer(FakeLLM("never called"), "What is Mr Ebbers' wife called?",
                              _hits("trial"), ARTICLES.get, FakeEmbedder(),
                              Settings(refuse_below=0.2))
    assert refused.refused and refused.refusal_reason == policy.DETAIL_ABSENT


# -- real model, real articles ---------------------------------------------------------------------
@pytest.mark.slow
def test_story_questions_on_real_bbc_articles(real_pipeline, tmp_path):
    """Real MiniLM over real WorldCom-trial and MCI-bid articles (dated at run time)."""
    from conftest import DATA
    source = DATA / "bbc-news-summary" / "bbc_news_summary.jsonl"
    if not source.is_file():
        pytest.skip("RAG_DATA has no BBC News Summary")
    dates = {"business/465": "2005-03-01", "business/059": "2005-03-05",
             "business/114": "2005-03-10", "business/188": "2005-02-17",
             "business/162": "2005-02-14", "business/100": "2005-03-12"}
    out = tmp_path / "stories.jsonl"
    with open(source, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for line in src:
            record = json.loads(line)
            if record["id"] in dates:
                dst.write(json.dumps({**record, "date": dates[record["id"]]}) + "\n")
    real_pipeline.ingest([out])
    multi = real_pipeline.ask("Who is the prosecution's star witness against Ebbers, and how "
                              "much did Verizon pay for MCI?")
    assert not multi.refused and {s["part"] for s in multi.sentences} == {1, 2}
    assert "Sullivan" in multi.text and ("$6.75bn" in multi.text or "$6.8bn" in multi.text)
    compared = real_pipeline.ask("Which offer for MCI was bigger, Qwest's rejected offer or "
                                 "Verizon's accepted buyout?")
    derived = [s["text"] for s in compared.sentences if s.get("derived")]
    assert derived and derived[0].startswith("$8bn") and "more than $6.75bn" in derived[0]
    assert real_pipeline.ask("What is Bernie Ebbers' wife called?").refused
    timeline = real_pipeline.timeline("Ebbers").to_dict()
    dated = [e["published"] for e in timeline["entries"]]
    assert dated == sorted(dated) and len(dated) >= 3


# -- the Timeline view ---------------------------------------------------------------------------
def test_timeline_api_and_view(story_pipeline):
    import app
    from gradio_client import Client

    from eval.common import free_port
    from rag.ui.timeline import show_timeline
    page, plot = show_timeline(story_pipeline, "Kenteris", "", "", "", "month")
    assert page.index("Sprinter Kenteris suspended") < page.index("Kenteris cleared")
    assert "Undated" in page and "also: wire-b" in page
    assert list(plot.columns) == ["period", "source", "articles"] and plot["articles"].sum() == 4
    error, _ = show_timeline(story_pipeline, "Kenteris", "", "last week", "", "month")
    assert "expected a date" in error
    port = free_port()
    demo = app.serve(story_pipeline, server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        doc = client.predict("Kenteris", "", "", "", "month", api_name="/timeline")
        assert [e["article_id"] for e in doc["entries"]] == ["a", "b", "d"]
        assert doc["coverage"][0] == {"period": "2005-01", "source": "wire-a", "articles": 1}
        assert "error" in client.predict("Kenteris", "", "2005-13-01", "", "month",
                                         api_name="/timeline")
    finally:
        demo.close()
