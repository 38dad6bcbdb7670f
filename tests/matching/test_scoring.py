"""Coverage, reciprocal fusion and the lexical blend, on hand-made unit vectors whose cosines are known.

Basis vectors of R^4 stand for four unrelated themes: e0 lighting, e1 mobility, e2 water, e3 housing.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.scoring import (
    ScoringParams,
    coverage_block,
    direction_roles,
    fuse_directions,
    hybrid,
    needs_mask,
    serve_weights,
)
from matching.types import Kind, PhraseRole
from matching.vectors import ProfileVectors

E = np.eye(4, dtype=np.float32)
I, O, D = PhraseRole.INTEREST, PhraseRole.OFFER, PhraseRole.DESCRIPTION
CITY_TO_ORG = direction_roles(Kind.CITY, Kind.ORGANISATION)
ORG_TO_CITY = direction_roles(Kind.ORGANISATION, Kind.CITY)
CITY_TO_CITY = direction_roles(Kind.CITY, Kind.CITY)
PARAMS = ScoringParams()


def unit(*weights: float) -> np.ndarray:
    v = np.asarray(weights, dtype=np.float32)
    return v / np.linalg.norm(v)


def profile(*phrases: tuple[PhraseRole, np.ndarray]) -> ProfileVectors:
    return ProfileVectors(
        vectors=np.stack([v for _, v in phrases]).astype(np.float32),
        roles=np.array([r for r, _ in phrases], dtype=np.int8),
        texts=tuple(f"{PhraseRole(r).name.lower()} {i}" for i, (r, _) in enumerate(phrases)),
    )


def scores(query: ProfileVectors, candidates: list[ProfileVectors], roles, params=PARAMS):
    """Score candidates stored one after another, as the index does."""
    block = np.concatenate([c.vectors for c in candidates])
    cand_roles = np.concatenate([c.roles for c in candidates])
    offsets = np.concatenate(([0], np.cumsum([len(c) for c in candidates])))
    return coverage_block(query.vectors @ block.T, query.roles, cand_roles, offsets, roles, params)


# ------------------------------------------------------------------ coverage


def test_coverage_is_the_mean_over_needs_so_an_absent_theme_is_not_hidden():
    city = profile((I, E[0]), (I, E[1]))  # wants lighting and mobility
    lighting_only = profile((O, E[0]), (O, E[0]), (O, unit(0.99, 0, 0.1, 0)))
    both_fairly = profile((O, unit(0.8, 0, 0.6, 0)), (O, unit(0, 0.8, 0, 0.6)))
    forward, backward = scores(city, [lighting_only, both_fairly], CITY_TO_ORG)
    assert backward is None
    assert forward[0] == pytest.approx(0.5, abs=1e-6)
    assert forward[1] == pytest.approx(0.8, abs=1e-6)
    assert forward[0] < forward[1]


def test_each_need_takes_its_best_match():
    city = profile((I, E[0]))
    org = profile((O, E[2]), (O, unit(0.6, 0.8, 0, 0)), (O, unit(0.9, 0, 0.1, 0.1)))
    forward, _ = scores(city, [org], CITY_TO_ORG)
    assert forward[0] == pytest.approx(float(unit(0.9, 0, 0.1, 0.1)[0]), abs=1e-6)


def test_description_phrases_count_for_description_weight_of_an_offer():
    city = profile((I, E[0]))
    described = profile((D, E[0]))
    offered = profile((O, E[0]))
    forward, _ = scores(city, [described, offered], CITY_TO_ORG)
    assert forward.tolist() == pytest.approx([0.9, 1.0])
    forward, _ = scores(city, [described, offered], CITY_TO_ORG, ScoringParams(description_weight=0.5))
    assert forward.tolist() == pytest.approx([0.5, 1.0])


def test_phrases_of_a_role_that_does_not_serve_are_ignored():
    city = profile((I, E[0]), (O, E[1]))
    org_wanting_lighting = profile((I, E[0]), (O, E[3]))  # an organisation's interest does not serve a city
    org_offering_mobility = profile((O, E[1]))  # matches the city's offer, which is not a need
    forward, _ = scores(city, [org_wanting_lighting, org_offering_mobility], CITY_TO_ORG)
    assert forward.tolist() == pytest.approx([0.0, 0.0])


def test_an_organisation_asking_for_cities_is_matched_on_its_offers_to_their_interests():
    org = profile((O, E[0]), (I, E[2]))
    wants_lighting = profile((I, E[0]))
    offers_lighting = profile((O, E[0]), (I, E[2]))
    forward, backward = scores(org, [wants_lighting, offers_lighting], ORG_TO_CITY)
    assert backward is None
    assert forward.tolist() == pytest.approx([1.0, 0.0])


def test_city_pairs_are_scored_backward_from_the_candidates_interests():
    query = profile((I, E[0]), (O, E[1]), (D, E[2]))
    wants_what_query_offers = profile((I, E[1]), (O, E[0]))
    wants_what_query_describes = profile((I, E[2]), (O, E[0]))
    wants_nothing_query_has = profile((I, E[3]), (O, E[0]))
    forward, backward = scores(
        query, [wants_what_query_offers, wants_what_query_describes, wants_nothing_query_has], CITY_TO_CITY
    )
    assert forward.tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert backward.tolist() == pytest.approx([1.0, 0.9, 0.0])


def test_backward_is_the_mean_over_the_candidates_interests():
    query = profile((I, E[0]), (O, E[1]))
    half_served = profile((I, E[1]), (I, E[3]), (O, E[0]))
    _, backward = scores(query, [half_served], CITY_TO_CITY)
    assert backward[0] == pytest.approx(0.5)


def test_a_profile_without_interests_is_judged_on_all_its_phrases():
    query_without_interests = profile((O, E[1]), (D, E[0]))
    org = profile((O, E[0]))
    forward, _ = scores(query_without_interests, [org], CITY_TO_ORG)
    assert forward[0] == pytest.approx(0.5)  # mean over both phrases, not zero

    query = profile((I, E[0]), (O, E[1]))
    candidate_without_interests = profile((O, E[1]), (D, E[2]))
    with_interests = profile((I, E[2]), (O, E[1]))
    _, backward = scores(query, [candidate_without_interests, with_interests], CITY_TO_CITY)
    assert backward.tolist() == pytest.approx([0.5, 0.0])


def test_needs_mask_falls_back_to_every_phrase():
    roles = np.array([O, D, D], dtype=np.int8)
    assert needs_mask(roles, (I,)).tolist() == [True, True, True]
    assert needs_mask(np.array([I, O, D], dtype=np.int8), (I,)).tolist() == [True, False, False]


def test_serve_weights_zero_non_serving_roles_and_discount_descriptions():
    roles = np.array([I, O, D], dtype=np.int8)
    assert serve_weights(roles, (O, D), ScoringParams(description_weight=0.7)).tolist() == pytest.approx(
        [0.0, 1.0, 0.7]
    )
    assert serve_weights(roles, (I,), ScoringParams(description_weight=0.7)).tolist() == pytest.approx([1.0, 0.0, 0.0])


def test_unrelated_or_opposite_phrases_never_score_below_zero():
    city = profile((I, E[0]))
    opposite = profile((O, -E[0]))
    forward, _ = scores(city, [opposite], CITY_TO_ORG)
    assert forward[0] == 0.0


@st.composite
def random_profiles(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=6))
    out = []
    for n in [draw(st.integers(1, 4))] + sizes:
        v = rng.normal(size=(n, 8)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        roles = np.array(draw(st.lists(st.sampled_from([I, O, D]), min_size=n, max_size=n)), dtype=np.int8)
        out.append(ProfileVectors(vectors=v, roles=roles, texts=("t",) * n))
    return out[0], out[1:]


@settings(max_examples=60, deadline=None)
@given(random_profiles(), st.sampled_from([CITY_TO_ORG, ORG_TO_CITY, CITY_TO_CITY]))
def test_a_candidate_scores_the_same_whichever_candidates_share_its_block(profiles, roles):
    query, candidates = profiles
    forward, backward = scores(query, candidates, roles)
    for i, candidate in enumerate(candidates):
        alone_f, alone_b = scores(query, [candidate], roles)
        assert forward[i] == pytest.approx(alone_f[0], abs=1e-6)
        if roles.reciprocal:
            assert backward[i] == pytest.approx(alone_b[0], abs=1e-6)
    assert np.all((forward >= 0) & (forward <= 1 + 1e-6))
    if backward is not None:
        assert np.all((backward >= 0) & (backward <= 1 + 1e-6))


# ------------------------------------------------------------------ fusion and blend


def test_harmonic_fusion_stays_low_when_one_side_is_poorly_served():
    forward, backward = np.array([1.0, 0.8, 0.0]), np.array([0.05, 0.8, 0.0])
    harmonic = fuse_directions(forward, backward, "harmonic")
    arithmetic = fuse_directions(forward, backward, "arithmetic")
    assert harmonic[0] < 0.1 < arithmetic[0]
    assert harmonic[1] == pytest.approx(0.8)
    assert harmonic[2] == 0.0  # no division by zero
    assert fuse_directions(forward, backward, "min").tolist() == pytest.approx([0.05, 0.8, 0.0])
    assert fuse_directions(forward, backward, "geometric").tolist() == pytest.approx([np.sqrt(0.05), 0.8, 0.0])


unit_interval = st.floats(0, 1, allow_nan=False)


@settings(deadline=None)
@given(unit_interval, unit_interval)
def test_fusions_are_ordered_symmetric_and_within_the_unit_interval(f, b):
    fwd, bwd = np.array([f]), np.array([b])
    fused = {name: float(fuse_directions(fwd, bwd, name)[0]) for name in ("min", "harmonic", "geometric", "arithmetic")}
    tol = 1e-9
    assert fused["min"] <= fused["harmonic"] + tol
    assert fused["harmonic"] <= fused["geometric"] + tol
    assert fused["geometric"] <= fused["arithmetic"] + tol
    assert all(-tol <= v <= 1 + tol for v in fused.values())
    for name, value in fused.items():
        assert float(fuse_directions(bwd, fwd, name)[0]) == pytest.approx(value)


def test_an_unknown_fusion_is_rejected():
    with pytest.raises(ValueError, match="unknown fusion"):
        fuse_directions(np.array([0.5]), np.array([0.5]), "mean")


def test_hybrid_blends_dense_and_lexical_by_lexical_weight():
    dense, lexical = np.array([1.0, 0.0, 0.5]), np.array([0.0, 1.0, 0.5])
    assert hybrid(dense, lexical, ScoringParams(lexical_weight=0.2)).tolist() == pytest.approx([0.8, 0.2, 0.5])
    assert hybrid(dense, lexical, ScoringParams(lexical_weight=0.0)).tolist() == pytest.approx(dense.tolist())
    assert hybrid(dense, lexical, ScoringParams(lexical_weight=1.0)).tolist() == pytest.approx(lexical.tolist())


@settings(deadline=None)
@given(unit_interval, unit_interval, unit_interval)
def test_hybrid_lies_between_its_two_scores(d, lex, w):
    value = float(hybrid(np.array([d]), np.array([lex]), ScoringParams(lexical_weight=w))[0])
    assert min(d, lex) - 1e-9 <= value <= max(d, lex) + 1e-9


# ------------------------------------------------------------------ direction_roles


def test_only_city_pairings_are_reciprocal():
    assert CITY_TO_CITY.reciprocal
    assert CITY_TO_CITY.query_needs == CITY_TO_CITY.target_needs == (I,)
    assert not CITY_TO_ORG.reciprocal and not ORG_TO_CITY.reciprocal
    assert direction_roles(Kind.ORGANISATION, Kind.ORGANISATION) == CITY_TO_ORG
