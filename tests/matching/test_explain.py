"""Explanations a person can check: which of their needs met which phrase, and the themes both share.

Basis vectors of R^4 stand for four unrelated themes: e0 lighting, e1 mobility, e2 water, e3 housing.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.explain import PhraseMatch, explain, explain_block, explain_many
from matching.scoring import ScoringParams, direction_roles
from matching.themes import Theme, ThemeTagger
from matching.types import Kind, PhraseRole
from matching.vectors import ProfileVectors

E = np.eye(4, dtype=np.float32)
PARAMS = ScoringParams()


def unit(*weights: float) -> np.ndarray:
    v = np.asarray(weights, dtype=np.float32)
    return v / np.linalg.norm(v)


def make(interests=(), offers=(), description=()) -> ProfileVectors:
    """Phrases given as (text, vector) pairs."""
    phrases = [*interests, *offers, *description]
    return ProfileVectors.from_phrases(
        [t for t, _ in interests],
        [t for t, _ in offers],
        [t for t, _ in description],
        np.stack([v for _, v in phrases]),
    )


EINDHOVEN = make(
    interests=[("intelligent public lighting", E[0]), ("electric buses", E[1]), ("affordable housing", E[3])],
    offers=[("water reuse in parks", E[2])],
)
LUMEN = make(
    offers=[("connected LED street lighting", unit(0.9, 0, 0, 0.1)), ("housing retrofits", unit(0, 0, 0.4, 0.6))],
    description=[("We light cities.", unit(0.95, 0, 0.05, 0))],
)
SEOUL = make(
    interests=[("rainwater harvesting", unit(0, 0, 0.8, 0.2)), ("night-time safety", unit(0.3, 0, 0, 0.2))],
    offers=[("smart street lights", unit(0.8, 0, 0, 0.2))],
    description=[("Seoul runs a large electric bus fleet.", E[1])],
)

THEMES = [
    Theme("smart-lighting", "Smart public lighting", "Connected street lighting."),
    Theme("e-mobility", "Electric mobility", "Electric buses and charging."),
    Theme("water", "Water", "Water reuse and harvesting."),
    Theme("housing", "Housing", "Affordable and retrofitted homes."),
]
TAGGER = ThemeTagger(THEMES, E, threshold=0.42, per_phrase=1)


def test_city_to_organisation_pairs_each_need_with_its_best_offer_best_first():
    why = explain(EINDHOVEN, LUMEN, direction_roles(Kind.CITY, Kind.ORGANISATION), PARAMS)
    assert [(m.need, m.match) for m in why.matches][:2] == [
        ("intelligent public lighting", "connected LED street lighting"),
        ("affordable housing", "housing retrofits"),
    ]
    first = why.matches[0]
    assert first == PhraseMatch(
        need="intelligent public lighting",
        need_role="interest",
        match="connected LED street lighting",
        match_role="offer",
        similarity=pytest.approx(0.9939, abs=1e-4),
        direction="forward",
    )
    sims = [m.similarity for m in why.matches]
    assert sims == sorted(sims, reverse=True)
    assert all(m.direction == "forward" and m.need_role == "interest" for m in why.matches)
    assert why.shared_themes == []  # no tagger, no themes


def test_a_description_wins_only_when_it_beats_offers_after_its_discount():
    lit = make(interests=[("lighting", E[0])])
    org = make(offers=[("street lights", unit(0.8, 0.6, 0, 0))], description=[("We light cities.", E[0])])
    (match,) = explain(lit, org, direction_roles(Kind.CITY, Kind.ORGANISATION), PARAMS).matches
    assert (match.match, match.match_role) == ("We light cities.", "description")
    assert match.similarity == pytest.approx(0.9, abs=1e-4)
    (match,) = explain(
        lit, org, direction_roles(Kind.CITY, Kind.ORGANISATION), ScoringParams(description_weight=0.5)
    ).matches
    assert match.match_role == "offer"


def test_city_pairings_are_explained_in_both_directions():
    why = explain(EINDHOVEN, SEOUL, direction_roles(Kind.CITY, Kind.CITY), PARAMS, top=2)
    forward = [m for m in why.matches if m.direction == "forward"]
    backward = [m for m in why.matches if m.direction == "backward"]
    assert why.matches == forward + backward
    assert [(m.need, m.match, m.match_role) for m in forward] == [
        ("intelligent public lighting", "smart street lights", "offer"),
        ("electric buses", "Seoul runs a large electric bus fleet.", "description"),
    ]
    assert [(m.need, m.need_role, m.match, m.match_role) for m in backward] == [
        ("rainwater harvesting", "interest", "water reuse in parks", "offer"),
        ("night-time safety", "interest", "intelligent public lighting", "interest"),
    ]
    assert [m.similarity for m in backward] == sorted((m.similarity for m in backward), reverse=True)


def test_top_limits_the_pairs_per_direction():
    why = explain(EINDHOVEN, SEOUL, direction_roles(Kind.CITY, Kind.CITY), PARAMS, top=1)
    assert [m.direction for m in why.matches] == ["forward", "backward"]


def test_shared_themes_are_those_of_the_query_needs_and_the_candidates_serving_phrases():
    why = explain(EINDHOVEN, LUMEN, direction_roles(Kind.CITY, Kind.ORGANISATION), PARAMS, TAGGER)
    # lighting: need 1.0, description 0.9986 → 0.9986; housing: need 1.0, offer 0.83 → 0.83
    assert why.shared_themes == ["smart-lighting", "housing"]


def test_an_organisations_own_interests_and_the_citys_offers_share_no_theme():
    city = make(interests=[("lighting", E[0])], offers=[("water reuse", E[2])])
    org = make(interests=[("electric buses", E[1]), ("lighting", E[0])], offers=[("LED lights", E[0]), ("water", E[2])])
    org_wanting_water = make(interests=[("water", E[2])], offers=[("LED lights", E[0]), ("buses", E[1])])
    roles = direction_roles(Kind.CITY, Kind.ORGANISATION)
    assert explain(city, org, roles, PARAMS, TAGGER).shared_themes == ["smart-lighting"]
    assert explain(city, org_wanting_water, roles, PARAMS, TAGGER).shared_themes == ["smart-lighting"]


def test_a_need_is_never_paired_with_a_phrase_that_does_not_serve_it():
    city = make(interests=[("intelligent public lighting", E[0]), ("electric buses", E[1])])
    org = make(interests=[("bus fleet electrification", E[1])], offers=[("LED street lighting", E[0])])
    why = explain(city, org, direction_roles(Kind.CITY, Kind.ORGANISATION), PARAMS)
    # today: ("electric buses" ↔ "bus fleet electrification", match_role "interest", similarity 0.0)
    assert all(m.match_role in ("offer", "description") for m in why.matches)


def test_shared_themes_are_ordered_by_the_weaker_side_then_id():
    city = make(interests=[("water", unit(0.5, 0, 1, 0)), ("lighting", unit(1, 0, 0.5, 0))])
    org = make(offers=[("water", E[2]), ("lights", E[0])])
    tagger = ThemeTagger(THEMES, E, threshold=0.42, per_phrase=1)
    roles = direction_roles(Kind.CITY, Kind.ORGANISATION)
    assert explain(city, org, roles, PARAMS, tagger).shared_themes == ["smart-lighting", "water"]  # equal: by id
    org_weak_water = make(offers=[("water", unit(0, 0, 0.5, 0.5)), ("lights", E[0])])
    tagger_wide = ThemeTagger(THEMES, E, threshold=0.42, per_phrase=2)
    assert explain(city, org_weak_water, roles, PARAMS, tagger_wide).shared_themes == ["smart-lighting", "water"]
    city_weak_lighting = make(interests=[("water", E[2]), ("lighting", unit(0.6, 0, 0, 0.8))])
    assert explain(city_weak_lighting, org, roles, PARAMS, tagger_wide).shared_themes == ["water", "smart-lighting"]


def test_themes_below_the_threshold_are_not_shared():
    city = make(interests=[("a bit of lighting", unit(0.3, 0, 0, 1))])
    org = make(offers=[("lights", E[0])])
    why = explain(city, org, direction_roles(Kind.CITY, Kind.ORGANISATION), PARAMS, TAGGER)
    assert "smart-lighting" not in why.shared_themes


# ------------------------------------------------------------------ many candidates at once


def test_explaining_several_candidates_at_once_gives_each_its_own_explanation():
    roles = direction_roles(Kind.CITY, Kind.ORGANISATION)
    serves_nothing = make(interests=[("street lighting", E[0])])  # an organisation's interests never serve a city
    candidates = [LUMEN, serves_nothing, SEOUL, LUMEN]
    together = explain_many(EINDHOVEN, candidates, roles, PARAMS, TAGGER)
    assert together == [explain(EINDHOVEN, c, roles, PARAMS, TAGGER) for c in candidates]
    assert together[1].matches == [] and together[1].shared_themes == []
    assert together[0] == together[3]
    assert explain_many(EINDHOVEN, [], roles, PARAMS, TAGGER) == []


def test_ties_quote_the_first_serving_phrase_and_keep_the_needs_in_order():
    city = make(interests=[("lighting", E[0]), ("also lighting", E[0])])
    twin_offers = make(offers=[("lamps", E[0]), ("more lamps", E[0])])
    one_offer = make(offers=[("a lamp", E[0])])
    roles = direction_roles(Kind.CITY, Kind.ORGANISATION)
    first, second = explain_many(city, [twin_offers, one_offer], roles, PARAMS)
    assert [(m.need, m.match) for m in first.matches] == [("lighting", "lamps"), ("also lighting", "lamps")]
    assert [(m.need, m.match) for m in second.matches] == [("lighting", "a lamp"), ("also lighting", "a lamp")]


# a few unit vectors, some repeated within and across profiles so that cosines tie exactly
PALETTE = np.stack([E[0], E[1], E[2], E[3], unit(1, 1, 0, 0), unit(0, 1, 1, 0), unit(1, 0, 0, 1), -E[0]])
KINDS = [
    (Kind.CITY, Kind.CITY),
    (Kind.CITY, Kind.ORGANISATION),
    (Kind.ORGANISATION, Kind.CITY),
    (Kind.ORGANISATION, Kind.ORGANISATION),
]


@st.composite
def profiles(draw, name: str) -> ProfileVectors:
    """0 to 6 phrases of any roles (so profiles without needs or without serving phrases occur)."""
    n = draw(st.integers(0, 6))
    roles = draw(st.lists(st.sampled_from(list(PhraseRole)), min_size=n, max_size=n))
    picks = draw(st.lists(st.integers(0, len(PALETTE) - 1), min_size=n, max_size=n))
    return ProfileVectors(
        vectors=PALETTE[picks].reshape(n, 4),
        roles=np.array(roles, dtype=np.int8),
        texts=tuple(f"{name} {i}" for i in range(n)),
    )


@settings(max_examples=300, deadline=None)
@given(
    query=profiles("query"),
    candidates=st.integers(0, 6).flatmap(lambda n: st.tuples(*[profiles(f"candidate {i}") for i in range(n)])),
    kinds=st.sampled_from(KINDS),
    description_weight=st.sampled_from([0.0, 0.5, 0.9, 1.0]),
    tagger=st.one_of(
        st.none(),
        st.builds(
            lambda t, p: ThemeTagger(THEMES, E, threshold=t, per_phrase=p),
            st.sampled_from([0.3, 0.42, 0.8]),
            st.integers(1, 2),
        ),
    ),
    top=st.integers(1, 4),
)
def test_explaining_candidates_together_equals_explaining_each_alone(
    query, candidates, kinds, description_weight, tagger, top
):
    roles, params = direction_roles(*kinds), ScoringParams(description_weight=description_weight)
    together = explain_many(query, list(candidates), roles, params, tagger, top)
    assert together == [explain(query, c, roles, params, tagger, top) for c in candidates]


@settings(max_examples=200, deadline=None)
@given(
    block=st.lists(
        st.tuples(profiles("query"), st.lists(profiles("candidate"), max_size=4)),
        max_size=4,
    ),
    kinds=st.sampled_from(KINDS),
    tagger=st.one_of(st.none(), st.just(TAGGER)),
    top=st.integers(1, 4),
)
def test_explaining_a_block_of_queries_equals_explaining_each_query_alone(block, kinds, tagger, top):
    roles = direction_roles(*kinds)
    queries, candidates = [q for q, _ in block], [cs for _, cs in block]
    together = explain_block(queries, candidates, roles, PARAMS, tagger, top)
    assert together == [explain_many(q, cs, roles, PARAMS, tagger, top) for q, cs in block]
    assert together == [[explain(q, c, roles, PARAMS, tagger, top) for c in cs] for q, cs in block]


def test_a_candidate_suggested_to_several_queries_is_explained_for_each():
    roles = direction_roles(Kind.CITY, Kind.ORGANISATION)
    housing_city = make(interests=[("affordable housing", E[3])])
    first, second = explain_block([EINDHOVEN, housing_city], [[LUMEN], [LUMEN]], roles, PARAMS, TAGGER)
    assert first == [explain(EINDHOVEN, LUMEN, roles, PARAMS, TAGGER)]
    assert [(m.need, m.match) for m in second[0].matches] == [("affordable housing", "housing retrofits")]
    assert second[0].shared_themes == ["housing"]
