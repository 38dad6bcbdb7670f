"""A stored suggestion's compact detail reads back as exactly the suggestion stored, for any suggestion."""

import json
from dataclasses import asdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matching.explain import PhraseMatch
from matching.features import FEATURES
from matching.recommend import Suggestion
from service.batch.stored_detail import FEATURE_NAMES, ROLE_LETTERS, RunPhraseList, decode_detail, encode_detail

ROLES = list(ROLE_LETTERS)
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
rounded = st.floats(-50, 50).map(lambda v: round(v, 6)) | st.sampled_from([0.0, -0.0, 1.0, 2147.483647])
any_float = st.floats(allow_nan=False, allow_infinity=False) | rounded


def _phrase_list(draw) -> RunPhraseList:
    phrases = draw(st.lists(st.tuples(texts, st.sampled_from(ROLES)), min_size=1, max_size=12))
    return RunPhraseList(tuple(t for t, _ in phrases), "".join(ROLE_LETTERS[r] for _, r in phrases))


def _quote(draw, needer: RunPhraseList, server: RunPhraseList, direction: str, number) -> PhraseMatch:
    need, match = draw(st.integers(0, len(needer.texts) - 1)), draw(st.integers(0, len(server.texts) - 1))
    return PhraseMatch(
        need=needer.texts[need],
        need_role=needer.role_at(need),
        match=server.texts[match],
        match_role=server.role_at(match),
        similarity=draw(number),
        direction=direction,
        close=draw(st.booleans()),
    )


@st.composite
def stored(draw) -> tuple[Suggestion, RunPhraseList, RunPhraseList]:
    asking, candidate = _phrase_list(draw), _phrase_list(draw)
    number = rounded if draw(st.booleans()) else any_float  # as the recommender rounds, or any float at all
    names = draw(st.sampled_from([(), *FEATURES.values()]))
    matches = [_quote(draw, asking, candidate, "forward", number) for _ in range(draw(st.integers(0, 3)))]
    matches += [_quote(draw, candidate, asking, "backward", number) for _ in range(draw(st.integers(0, 3)))]
    s = Suggestion(
        key="other",
        score=draw(number),
        dense=draw(number),
        lexical=draw(number),
        forward=draw(number),
        backward=draw(st.none() | number),
        matches=matches,
        shared_themes=draw(st.lists(st.from_regex(r"[a-z-]{1,30}", fullmatch=True), max_size=4)),
        shared_terms=draw(st.lists(texts, max_size=5)),
        handset=draw(st.none() | number),
        features={n: draw(number) for n in names},
        contributions={n: draw(number) for n in names},
    )
    return s, asking, candidate


def _shown(s: Suggestion) -> str:
    """What a reader sees of a suggestion: its fields in order, a float's every digit and sign."""
    return json.dumps(asdict(s))


@given(stored())
def test_a_detail_reads_back_as_the_suggestion_stored(case):
    s, asking, candidate = case
    detail = encode_detail(s, asking=asking, candidate=candidate)
    back = decode_detail(detail, key=s.key, score=s.score, asking=asking, candidate=candidate)
    assert _shown(back) == _shown(s)


def test_numbers_rounded_as_the_recommender_rounds_them_take_four_bytes_each():
    phrases = RunPhraseList(("smart lighting", "smart lighting"), "io")
    learned = dict.fromkeys(FEATURES[next(iter(FEATURES))], 0.123456)
    s = Suggestion(
        key="b",
        score=0.5,
        dense=0.627512,
        lexical=0.224891,
        forward=0.522705,
        backward=None,
        matches=[PhraseMatch("smart lighting", "offer", "smart lighting", "interest", 0.8876, "forward")],
        features=learned,
        contributions=learned | {"fit": -0.0},
    )
    detail = encode_detail(s, asking=phrases, candidate=phrases)
    numbers = 3 + 2 * len(learned) + 1
    assert len(detail) == 5 + 4 * numbers + len(learned) + 5
    back = decode_detail(detail, key="b", score=0.5, asking=phrases, candidate=phrases)
    assert back.matches[0].need_role == "offer" and back.matches[0].match_role == "interest"
    assert _shown(back) == _shown(s)


def test_every_feature_the_ranker_names_can_be_stored():
    assert {name for names in FEATURES.values() for name in names} <= set(FEATURE_NAMES)


def test_a_quoted_phrase_the_profile_lacks_is_refused():
    phrases = RunPhraseList(("living labs",), "i")
    s = Suggestion(
        "b", 0.5, 0.5, 0.5, 0.5, None, [PhraseMatch("living labs", "offer", "living labs", "interest", 0.9, "forward")]
    )
    with pytest.raises(ValueError, match="no offer phrase"):
        encode_detail(s, asking=phrases, candidate=phrases)
