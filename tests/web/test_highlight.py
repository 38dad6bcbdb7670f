"""Shared-word marking in matched phrase pairs."""

from service.web.highlight import mark_shared


def test_shared_content_words_are_marked_across_word_forms():
    assert (
        mark_shared("intelligent public lighting", "smart lights for public space")
        == "intelligent <mark>public</mark> <mark>lighting</mark>"
    )
    assert (
        mark_shared("lighting-as-a-service contracts", "e-government services")
        == "lighting-as-a-<mark>service</mark> contracts"
    )
    assert mark_shared("smart cities", "a smart city") == "<mark>smart</mark> <mark>cities</mark>"


def test_stop_words_and_short_words_are_never_marked():
    assert mark_shared("the future of the city", "for the people of the region") == "the future of the city"


def test_text_is_escaped():
    out = mark_shared("<script>alert(1)</script> lighting", "lighting <b>")
    assert "<script>" not in out and "&lt;script&gt;" in out and "<mark>lighting</mark>" in out
