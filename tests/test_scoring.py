import pytest

from eval.scoring import rouge, split_run_together
from rag.sentences import sentence_spans


def test_rouge_on_a_known_pair():
    # unigrams: 2 of 3 shared -> P = R = F1 = 2/3; bigrams: 1 of 2 ("the cat") -> 1/2.
    scores = rouge([["the cat sat"]], [["the cat ran"]])
    assert scores["rouge1"] == pytest.approx(66.67, abs=0.01)
    assert scores["rouge2"] == pytest.approx(50.0, abs=0.01)
    assert rouge([["a b c"]], [["a b c"]])["rougeLsum"] == 100.0


def test_stemming_is_on():
    assert rouge([["profits jumped"]], [["profit jumps"]])["rouge1"] == 100.0


def test_bbc_run_together_sentences_are_split():
    text = 'Profits rose 76%.The firm said "sales grew".Its shares fell.'
    assert split_run_together(text, sentence_spans) == [
        "Profits rose 76%.", 'The firm said "sales grew".', "Its shares fell."]
