from rag.citations import (Citation, drop_unknown_citations, number_passages,
                           parse_citation_numbers, quote_matches_span)


def test_parse_numbers_in_order_without_duplicates():
    assert parse_citation_numbers("A [2]. B [1, 3]. C [2] [10]") == [2, 1, 3, 10]
    assert parse_citation_numbers("no citations here [x] [ ]") == []


def test_drop_unknown_citations_keeps_valid_ones():
    text = "Lavrov spoke [1]. Wang replied [1, 7]. Nobody said that [9]."
    assert drop_unknown_citations(text, {1}) == "Lavrov spoke [1]. Wang replied [1]. Nobody said that."


def test_quote_must_equal_span():
    article = "Alpha beta. Gamma delta."
    good = Citation(1, "a", "T", None, None, None, "Gamma delta.", 12, 24)
    shifted = Citation(1, "a", "T", None, None, None, "Gamma delta.", 11, 23)
    out_of_range = Citation(1, "a", "T", None, None, None, "x", 20, 99)
    assert quote_matches_span(article, good)
    assert not quote_matches_span(article, shifted)
    assert not quote_matches_span(article, out_of_range)


def test_number_passages():
    assert number_passages([" one ", "two"]) == "[1] one\n\n[2] two"
