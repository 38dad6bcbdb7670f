"""Profile text → the units that are embedded: normalised so equal phrases share a cache key, split
so one theme in a long description is not averaged away."""

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from embeddings import normalise, split_description, text_key

WORD = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=8)
SPACE = st.text(alphabet=" \t\n\r\u00a0\u2009\u3000", min_size=1, max_size=4)


# ------------------------------------------------------------------ normalise / text_key


def test_runs_of_white_space_fold_and_ends_are_trimmed():
    assert normalise("  intelligent \t public\n\nlighting  ") == "intelligent public lighting"
    assert normalise("smart\u00a0lighting") == "smart lighting"  # a no-break space pasted from a PDF


def test_decomposed_and_composed_accents_give_the_same_phrase():
    composed = "Málaga living lab"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert normalise(decomposed) == composed
    assert text_key(decomposed) == text_key(composed)


def test_text_key_tells_different_phrases_apart():
    assert text_key("smart lighting") != text_key("smart lightning")
    assert text_key("Lighting") != text_key("lighting")  # case carries meaning (acronyms), so it is kept


@settings(deadline=None)
@given(st.lists(WORD, min_size=1, max_size=6), st.data())
def test_phrases_differing_only_in_spacing_share_a_key(words, data):
    spaced = data.draw(SPACE) + "".join(w + data.draw(SPACE) for w in words)
    assert normalise(spaced) == " ".join(unicodedata.normalize("NFC", w) for w in words)
    assert text_key(spaced) == text_key(" ".join(words))


@settings(deadline=None)
@given(st.text())
def test_normalise_is_idempotent_and_canonical_forms_share_a_key(text):
    once = normalise(text)
    assert normalise(once) == once
    assert once == once.strip() and "  " not in once
    assert text_key(unicodedata.normalize("NFD", text)) == text_key(unicodedata.normalize("NFC", text))


# ------------------------------------------------------------------ split_description


def test_description_is_split_into_sentences():
    text = "We pilot connected street lighting. We want to learn about living labs! Can you help? Yes; gladly."
    assert split_description(text) == [
        "We pilot connected street lighting.",
        "We want to learn about living labs!",
        "Can you help?",
        "Yes;",
        "gladly.",
    ]


def test_bullets_and_line_breaks_split_items():
    text = "Our priorities:\n• smart lighting\n• e-mobility\n\n•   open data portals\r\nwater reuse"
    assert split_description(text) == [
        "Our priorities:",
        "smart lighting",
        "e-mobility",
        "open data portals",
        "water reuse",
    ]
    assert split_description("lighting • mobility • water") == ["lighting", "mobility", "water"]


def test_long_sentences_are_cut_into_chunks_of_at_most_40_words():
    words = [f"w{i}" for i in range(100)]
    chunks = split_description(" ".join(words) + ". Short tail sentence.")
    assert [len(c.split()) for c in chunks] == [40, 40, 20, 3]
    assert " ".join(chunks[:3]) == " ".join(words) + "."


def test_empty_and_very_short_pieces_are_dropped():
    assert split_description("") == []
    assert split_description("   \n\n  • \n") == []
    assert split_description("A. Ok. Smart lighting.\n•\n• -\n") == ["Ok.", "Smart lighting."]


def test_white_space_inside_sentences_is_normalised():
    assert split_description("Smart   street\tlighting  pilots.  Living\u00a0labs.") == [
        "Smart street lighting pilots.",
        "Living labs.",
    ]


@settings(deadline=None)
@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10), min_size=1, max_size=130))
def test_a_run_of_words_is_chunked_without_losing_or_reordering_any(words):
    chunks = split_description(" ".join(words))
    assert all(1 <= len(c.split(" ")) <= 40 for c in chunks)
    assert " ".join(chunks).split(" ") == words
    assert len(chunks) == -(-len(words) // 40)


@settings(deadline=None)
@given(st.text())
def test_every_chunk_is_normalised_short_enough_and_not_trivial(text):
    for chunk in split_description(text):
        assert len(chunk) >= 3
        assert len(chunk.split(" ")) <= 40
        assert normalise(chunk) == chunk
