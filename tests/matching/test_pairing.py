"""Cohort-wide pairing on hand-made score matrices, checked against brute force where it is small enough.

Scores are written out so that the optimum is known by hand: the classic collision (two cities
preferring the same partner), rectangular sides, capacities, locks, exclusions, a minimum score and a
three-sided cohort (EU, JP, KR) that goes through the integer programme.
"""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.pairing import (
    CohortScores,
    InvalidPairing,
    Pairing,
    PairingOptions,
    optimal_pairing,
    top1_pairs,
)

# --- helpers, written independently of the module under test -------------------------------------


def cohort(sides: dict[str, list[str]], blocks: dict[tuple[str, str], list[list[float]]]) -> CohortScores:
    return CohortScores(sides=sides, blocks={k: np.asarray(v, dtype=np.float64) for k, v in blocks.items()})


def lookup(scores: CohortScores, a: str, b: str) -> float:
    """The score of a cross-side pair, read straight off the block whichever way round it is stored."""
    side = {m: s for s, members in scores.sides.items() for m in members}
    sa, sb = side[a], side[b]
    if (sa, sb) in scores.blocks:
        return float(scores.blocks[(sa, sb)][list(scores.sides[sa]).index(a), list(scores.sides[sb]).index(b)])
    return float(scores.blocks[(sb, sa)][list(scores.sides[sb]).index(b), list(scores.sides[sa]).index(a)])


def pair_set(result: Pairing) -> set[frozenset[str]]:
    return {frozenset((p.a, p.b)) for p in result.pairs}


def partners_of(result: Pairing, city: str) -> list[str]:
    return [p.b if p.a == city else p.a for p in result.pairs if city in (p.a, p.b)]


def cross_pairs(scores: CohortScores) -> list[tuple[str, str]]:
    sides = list(scores.sides)
    return [
        (a, b)
        for i, sa in enumerate(sides)
        for sb in sides[i + 1 :]
        for a in scores.sides[sa]
        for b in scores.sides[sb]
    ]


def allowed_edges(scores: CohortScores, options: PairingOptions) -> list[tuple[str, str, float]]:
    forbidden = {frozenset(p) for p in options.forbidden}
    locked = {frozenset(p) for p in options.locked}
    out = []
    for a, b in cross_pairs(scores):
        w = lookup(scores, a, b)
        if frozenset((a, b)) in forbidden or frozenset((a, b)) in locked or not options.reaches(w):
            continue
        out.append((a, b, w))
    return out


def brute_force_total(scores: CohortScores, options: PairingOptions) -> float:
    """The best total over every subset of allowed edges that fits the capacities left after the locks."""
    members = [m for ms in scores.sides.values() for m in ms]
    left = {m: options.capacity_of(m) for m in members}
    locked_total = 0.0
    for a, b in options.locked:
        left[a] -= 1
        left[b] -= 1
        locked_total += lookup(scores, a, b)
    edges = allowed_edges(scores, options)
    best = 0.0
    for k in range(len(edges) + 1):
        for subset in itertools.combinations(edges, k):
            used: dict[str, int] = {}
            ok = True
            for a, b, _ in subset:
                for c in (a, b):
                    used[c] = used.get(c, 0) + 1
                    if used[c] > left[c]:
                        ok = False
            if ok:
                best = max(best, sum(w for _, _, w in subset))
    return locked_total + best


def assert_respects(scores: CohortScores, options: PairingOptions, result: Pairing) -> None:
    """No constraint is ever violated, and the bookkeeping (total, unpaired) is consistent."""
    side = scores.side_of()
    forbidden = {frozenset(p) for p in options.forbidden}
    locked = {frozenset(p) for p in options.locked}
    seen: set[frozenset[str]] = set()
    count: dict[str, int] = {}
    for p in result.pairs:
        key = frozenset((p.a, p.b))
        assert p.a in side and p.b in side
        assert side[p.a] != side[p.b], f"same-side pair {p}"
        assert key not in seen, f"duplicate pair {p}"
        seen.add(key)
        assert key not in forbidden, f"forbidden pair {p}"
        assert p.score == pytest.approx(lookup(scores, p.a, p.b), abs=1e-6)
        if p.locked:
            assert key in locked
        else:
            assert key not in locked
            # the pair's exact score: the reported one is rounded to 6 places
            assert options.reaches(lookup(scores, p.a, p.b)), f"{p} below min_score {options.min_score}"
        for c in (p.a, p.b):
            count[c] = count.get(c, 0) + 1
    for c, n in count.items():
        assert n <= options.capacity_of(c), f"{c} has {n} partners, capacity {options.capacity_of(c)}"
    assert locked <= seen, "a locked pair is missing"
    assert {frozenset((p.a, p.b)) for p in result.pairs if p.locked} == locked
    assert result.total == pytest.approx(sum(p.score for p in result.pairs), abs=1e-6)
    assert set(result.unpaired) == {m for m in side if m not in count}
    assert set(result.options) == set(result.unpaired)


# --- the classic collision -------------------------------------------------------------------------

# a1 and a2 both prefer b1. a1–b1 + a2–b2 = 1.2; a1–b2 + a2–b1 = 1.65: b1 goes to a2, a1 gets b2.
COLLISION = {
    "sides": {"EU": ["a1", "a2"], "JP": ["b1", "b2"]},
    "blocks": {("EU", "JP"): [[0.9, 0.8], [0.85, 0.3]]},
}


@pytest.fixture
def collision() -> CohortScores:
    return cohort(**COLLISION)


def test_the_collision_gives_the_popular_partner_to_whoever_maximises_the_total(collision):
    result = optimal_pairing(collision)
    assert pair_set(result) == {frozenset(("a2", "b1")), frozenset(("a1", "b2"))}
    assert result.total == pytest.approx(1.65)
    assert result.unpaired == []
    assert all(not p.locked for p in result.pairs)
    # pairs read side by side (EU first) and come best first
    assert [(p.a, p.b, p.score) for p in result.pairs] == [("a2", "b1", 0.85), ("a1", "b2", 0.8)]
    assert result.total == pytest.approx(brute_force_total(collision, PairingOptions()))


def test_top1_pairs_shows_the_collision(collision):
    top1 = top1_pairs(collision)
    assert frozenset(("a1", "b1")) in top1
    assert frozenset(("a2", "b1")) in top1  # both EU cities choose b1
    assert top1 == {frozenset(("a1", "b1")), frozenset(("a2", "b1")), frozenset(("a1", "b2"))}
    # the optimum beats the baseline on what cities actually get: b1 cannot take both
    assert pair_set(optimal_pairing(collision)) != top1


def test_the_city_that_lost_the_popular_partner_has_a_regret_naming_it(collision):
    result = optimal_pairing(collision)
    regret = {r.city: r for r in result.regrets}
    r = regret["a1"]
    assert r.best == "b1"
    assert r.best_score == pytest.approx(0.9)
    assert r.assigned_score == pytest.approx(0.8)
    assert r.gap == pytest.approx(0.1)
    assert r.gap > 0
    assert "b1" in r.reason and "a2" in r.reason  # who the popular partner went to
    # a2 got its first choice, b2 got its first choice: no regret
    assert "a2" not in regret and "b2" not in regret
    # b1 wanted a1 (0.9) and got a2 (0.85)
    assert regret["b1"].best == "a1"
    assert regret["b1"].gap == pytest.approx(0.05)
    assert "b2" in regret["b1"].reason
    assert all(x.gap > 0 for x in result.regrets)


def test_total_equals_the_sum_of_pair_scores(collision):
    result = optimal_pairing(collision)
    assert result.total == pytest.approx(sum(p.score for p in result.pairs))
    for p in result.pairs:
        assert p.score == pytest.approx(lookup(collision, p.a, p.b))


def test_blocks_stored_the_other_way_round_give_the_same_pairing(collision):
    flipped = cohort(
        {"EU": ["a1", "a2"], "JP": ["b1", "b2"]},
        {("JP", "EU"): np.asarray(COLLISION["blocks"][("EU", "JP")]).T.tolist()},
    )
    assert pair_set(optimal_pairing(flipped)) == pair_set(optimal_pairing(collision))
    assert optimal_pairing(flipped).total == pytest.approx(1.65)


# --- rectangular sides ----------------------------------------------------------------------------


def test_extra_cities_on_the_longer_side_stay_unpaired_with_their_best_options():
    scores = cohort(
        {"EU": ["a1", "a2", "a3", "a4"], "JP": ["b1", "b2"]},
        {("EU", "JP"): [[0.9, 0.1], [0.8, 0.7], [0.6, 0.5], [0.2, 0.3]]},
    )
    result = optimal_pairing(scores)
    # a1–b1 + a2–b2 = 1.6 is the best of every way to give b1, b2 one EU partner each
    assert pair_set(result) == {frozenset(("a1", "b1")), frozenset(("a2", "b2"))}
    assert result.total == pytest.approx(1.6) == pytest.approx(brute_force_total(scores, PairingOptions()))
    assert sorted(result.unpaired) == ["a3", "a4"]
    assert result.options["a3"] == [("b1", 0.6), ("b2", 0.5)]
    assert result.options["a4"] == [("b2", 0.3), ("b1", 0.2)]
    assert set(result.options) == {"a3", "a4"}
    # unpaired cities carry a regret towards their best candidate, which went elsewhere
    regret = {r.city: r for r in result.regrets}
    assert regret["a3"].best == "b1" and regret["a3"].assigned_score is None
    assert regret["a3"].gap == pytest.approx(0.6)
    assert "a1" in regret["a3"].reason


def test_more_cities_on_the_second_side_also_stay_unpaired():
    scores = cohort(
        {"EU": ["a1"], "JP": ["b1", "b2", "b3"]},
        {("EU", "JP"): [[0.4, 0.9, 0.2]]},
    )
    result = optimal_pairing(scores)
    assert pair_set(result) == {frozenset(("a1", "b2"))}
    assert sorted(result.unpaired) == ["b1", "b3"]
    assert result.options["b1"] == [("a1", 0.4)]


# --- capacities -----------------------------------------------------------------------------------


def test_capacity_two_gives_a_city_two_distinct_partners():
    scores = cohort(
        {"EU": ["a1", "a2"], "JP": ["b1", "b2", "b3"]},
        {("EU", "JP"): [[0.9, 0.8, 0.7], [0.1, 0.2, 0.6]]},
    )
    options = PairingOptions(capacity={"a1": 2})
    result = optimal_pairing(scores, options)
    assert sorted(partners_of(result, "a1")) == ["b1", "b2"]
    assert partners_of(result, "a2") == ["b3"]
    assert len(set(partners_of(result, "a1"))) == 2  # never the same partner twice
    assert result.total == pytest.approx(2.3) == pytest.approx(brute_force_total(scores, options))
    assert_respects(scores, options, result)


def test_capacity_two_with_a_single_candidate_never_repeats_it():
    scores = cohort({"EU": ["a1"], "JP": ["b1"]}, {("EU", "JP"): [[0.9]]})
    options = PairingOptions(capacity={"a1": 2, "b1": 2})
    result = optimal_pairing(scores, options)
    assert [(p.a, p.b) for p in result.pairs] == [("a1", "b1")]
    assert result.total == pytest.approx(0.9)


def test_capacity_zero_keeps_a_city_unpaired(collision):
    options = PairingOptions(capacity={"b1": 0})
    result = optimal_pairing(collision, options)
    assert "b1" in result.unpaired
    assert partners_of(result, "b1") == []
    # b2 goes to whoever values it most: a1 (0.8)
    assert pair_set(result) == {frozenset(("a1", "b2"))}
    assert result.total == pytest.approx(0.8) == pytest.approx(brute_force_total(collision, options))
    assert_respects(collision, options, result)


def test_negative_capacity_and_capacity_of_a_stranger_are_invalid(collision):
    with pytest.raises(InvalidPairing):
        optimal_pairing(collision, PairingOptions(capacity={"a1": -1}))
    with pytest.raises(InvalidPairing):
        optimal_pairing(collision, PairingOptions(capacity={"zz": 1}))


# --- locks ----------------------------------------------------------------------------------------


def test_a_locked_pair_is_kept_even_when_suboptimal_and_counts_against_capacity(collision):
    options = PairingOptions(locked=[("a2", "b2")])  # 0.3: the worst pair there is
    result = optimal_pairing(collision, options)
    locked = [p for p in result.pairs if p.locked]
    assert [(p.a, p.b, p.score) for p in locked] == [("a2", "b2", 0.3)]
    # a2 and b2 are full: a1 cannot take b2 or a second partner, a2 cannot take b1
    assert pair_set(result) == {frozenset(("a2", "b2")), frozenset(("a1", "b1"))}
    assert partners_of(result, "a2") == ["b2"]
    assert result.total == pytest.approx(1.2) == pytest.approx(brute_force_total(collision, options))
    assert_respects(collision, options, result)


def test_a_lock_written_the_other_way_round_reads_side_by_side(collision):
    result = optimal_pairing(collision, PairingOptions(locked=[("b2", "a2")]))
    assert ("a2", "b2", True) in [(p.a, p.b, p.locked) for p in result.pairs]


def test_a_lock_uses_one_unit_of_a_larger_capacity(collision):
    options = PairingOptions(capacity={"b2": 2, "a1": 2}, locked=[("a2", "b2")])
    result = optimal_pairing(collision, options)
    assert sorted(partners_of(result, "b2")) == ["a1", "a2"]  # the lock and one more
    assert sorted(partners_of(result, "a1")) == ["b1", "b2"]
    assert partners_of(result, "a2") == ["b2"]  # a2 is full with its lock: never gets b1
    assert result.total == pytest.approx(2.0) == pytest.approx(brute_force_total(collision, options))
    assert_respects(collision, options, result)


def test_a_locked_pair_below_min_score_is_kept(collision):
    options = PairingOptions(locked=[("a2", "b2")], min_score=0.5)
    result = optimal_pairing(collision, options)
    assert frozenset(("a2", "b2")) in pair_set(result)
    assert_respects(collision, options, result)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(PairingOptions(locked=[("a1", "a2")]), id="same side"),
        pytest.param(PairingOptions(locked=[("a1", "zz")]), id="non-member"),
        pytest.param(PairingOptions(locked=[("zz", "b1")]), id="non-member first"),
        pytest.param(PairingOptions(locked=[("a1", "b1"), ("a1", "b2")]), id="more locks than capacity"),
        pytest.param(PairingOptions(locked=[("a1", "b1"), ("a2", "b1")]), id="more locks than capacity, other side"),
        pytest.param(PairingOptions(capacity={"a1": 0}, locked=[("a1", "b1")]), id="lock on capacity 0"),
        pytest.param(PairingOptions(locked=[("a1", "b1")], forbidden=[("a1", "b1")]), id="locked and forbidden"),
        pytest.param(
            PairingOptions(locked=[("a1", "b1")], forbidden=[("b1", "a1")]), id="locked and forbidden, flipped"
        ),
    ],
)
def test_contradictory_locks_are_invalid(collision, options):
    with pytest.raises(InvalidPairing):
        optimal_pairing(collision, options)


def test_invalid_pairing_is_a_value_error():
    assert issubclass(InvalidPairing, ValueError)


def test_a_city_on_two_sides_is_invalid():
    with pytest.raises(InvalidPairing):
        cohort({"EU": ["a1", "x"], "JP": ["x", "b1"]}, {("EU", "JP"): [[0.1, 0.2], [0.3, 0.4]]})


# --- forbidden pairs ------------------------------------------------------------------------------


def test_forbidden_pairs_never_appear_and_the_best_allowed_alternative_is_taken(collision):
    options = PairingOptions(forbidden=[("b1", "a2")])  # the pair the optimum wanted, written flipped
    result = optimal_pairing(collision, options)
    assert frozenset(("a2", "b1")) not in pair_set(result)
    # allowed: a1–b1, a1–b2, a2–b2 → a1–b1 + a2–b2 = 1.2
    assert pair_set(result) == {frozenset(("a1", "b1")), frozenset(("a2", "b2"))}
    assert result.total == pytest.approx(1.2) == pytest.approx(brute_force_total(collision, options))
    assert_respects(collision, options, result)


def test_a_city_whose_every_pair_is_forbidden_stays_unpaired(collision):
    options = PairingOptions(forbidden=[("a1", "b1"), ("a1", "b2")])
    result = optimal_pairing(collision, options)
    assert "a1" in result.unpaired
    assert result.options["a1"] == []
    assert pair_set(result) == {frozenset(("a2", "b1"))}
    # the forbidden candidate is never offered as a regret either
    assert all(r.city != "a1" for r in result.regrets)


# --- min_score ------------------------------------------------------------------------------------


def test_a_pair_below_min_score_is_never_proposed_and_the_city_stays_unpaired(collision):
    options = PairingOptions(min_score=0.5)
    result = optimal_pairing(collision, options)
    # a2–b2 (0.3) is the only way to pair everyone, so one EU city stays out: a2–b1 + a1–b2 is still best
    assert pair_set(result) == {frozenset(("a2", "b1")), frozenset(("a1", "b2"))}
    options = PairingOptions(min_score=0.82)
    result = optimal_pairing(collision, options)
    # only a1–b1 (0.9) and a2–b1 (0.85) qualify; b1 takes one of them and the rest wait
    assert pair_set(result) == {frozenset(("a1", "b1"))}
    assert sorted(result.unpaired) == ["a2", "b2"]
    assert all(p.score >= 0.82 for p in result.pairs)
    assert_respects(collision, options, result)


def test_min_score_leaves_a_city_unpaired_rather_than_forced():
    scores = cohort({"EU": ["a1", "a2"], "JP": ["b1", "b2"]}, {("EU", "JP"): [[0.9, 0.2], [0.1, 0.3]]})
    result = optimal_pairing(scores, PairingOptions(min_score=0.4))
    assert pair_set(result) == {frozenset(("a1", "b1"))}
    assert sorted(result.unpaired) == ["a2", "b2"]
    # without the threshold they would have been matched
    assert pair_set(optimal_pairing(scores)) == {frozenset(("a1", "b1")), frozenset(("a2", "b2"))}


def test_a_pair_exactly_at_min_score_qualifies():
    scores = cohort({"EU": ["a1"], "JP": ["b1"]}, {("EU", "JP"): [[0.5]]})
    assert pair_set(optimal_pairing(scores, PairingOptions(min_score=0.5))) == {frozenset(("a1", "b1"))}
    assert optimal_pairing(scores, PairingOptions(min_score=0.5000001)).pairs == []


def test_a_pair_shown_at_the_minimum_score_reaches_it():
    """A score shown as 0.30 (two decimals) reaches a minimum of 0.3; one shown as 0.29 does not."""
    scores = cohort({"EU": ["a1", "a2"], "JP": ["b1", "b2"]}, {("EU", "JP"): [[0.2996, 0.0], [0.0, 0.294]]})
    result = optimal_pairing(scores, PairingOptions(min_score=0.3))
    assert pair_set(result) == {frozenset(("a1", "b1"))}
    assert result.left_out == {
        "a2": "no allowed candidate reaches the minimum score 0.30 (the best, b2, scores 0.29)",
        "b2": "no allowed candidate reaches the minimum score 0.30 (the best, a2, scores 0.29)",
    }


def test_every_unpaired_city_is_told_why():
    scores = cohort(
        {"EU": ["a1", "a2", "a3"], "JP": ["b1", "b2"]}, {("EU", "JP"): [[0.9, 0.2], [0.8, 0.7], [0.5, 0.1]]}
    )
    forbidden = optimal_pairing(scores, PairingOptions(forbidden=[("a3", "b1"), ("a3", "b2")]))
    assert forbidden.left_out == {"a3": "every candidate is forbidden: an exclusion or a partnership made before"}
    agreed = optimal_pairing(scores, PairingOptions(locked=[("a1", "b1"), ("a2", "b2")]))
    assert agreed.left_out == {"a3": "every candidate reaching the minimum score is taken by an agreed pair"}
    total = optimal_pairing(scores)
    assert set(total.left_out) == {"a3"} and "a higher total" in total.left_out["a3"]
    assert optimal_pairing(scores, PairingOptions(capacity={"a3": 0})).left_out == {"a3": "its capacity is 0"}


# --- three sides ----------------------------------------------------------------------------------

THREE = {
    "sides": {"EU": ["e1", "e2"], "JP": ["j1", "j2"], "KR": ["k1", "k2"]},
    "blocks": {
        ("EU", "JP"): [[0.9, 0.2], [0.4, 0.5]],
        ("EU", "KR"): [[0.8, 0.3], [0.7, 0.1]],
        ("JP", "KR"): [[0.6, 0.95], [0.2, 0.35]],
    },
}


@pytest.fixture
def three() -> CohortScores:
    return cohort(**THREE)


def test_three_sides_pair_only_across_sides_and_find_the_optimum(three):
    result = optimal_pairing(three)
    side = three.side_of()
    assert all(side[p.a] != side[p.b] for p in result.pairs)
    assert result.total == pytest.approx(brute_force_total(three, PairingOptions()))
    # greedy would take e1–j1 (0.9) and end at 0.9 + 0.7 + 0.35 = 1.95; the optimum passes on e1's
    # favourite: e1–k1 (0.8) + e2–j2 (0.5) + j1–k2 (0.95) = 2.25
    assert pair_set(result) == {frozenset(("e1", "k1")), frozenset(("e2", "j2")), frozenset(("j1", "k2"))}
    assert result.total == pytest.approx(2.25)
    assert_respects(three, PairingOptions(), result)
    # pairs read in side order: EU before JP before KR
    order = {"EU": 0, "JP": 1, "KR": 2}
    assert all(order[side[p.a]] < order[side[p.b]] for p in result.pairs)


def test_three_sides_with_capacities(three):
    options = PairingOptions(capacity={"e1": 2, "k2": 2})
    result = optimal_pairing(three, options)
    assert result.total == pytest.approx(brute_force_total(three, options))
    assert len(partners_of(result, "e1")) == 2
    assert_respects(three, options, result)
    options = PairingOptions(capacity={"e1": 2, "j1": 0}, locked=[("e1", "k2")], forbidden=[("e2", "k1")])
    result = optimal_pairing(three, options)
    assert result.total == pytest.approx(brute_force_total(three, options))
    assert_respects(three, options, result)
    assert "j1" in result.unpaired


def test_three_sides_with_min_score(three):
    options = PairingOptions(min_score=0.6)
    result = optimal_pairing(three, options)
    assert result.total == pytest.approx(brute_force_total(three, options))
    assert_respects(three, options, result)


def test_two_sides_with_capacity_above_one_match_brute_force():
    rng = np.random.default_rng(7)
    scores = cohort({"EU": ["a1", "a2", "a3"], "JP": ["b1", "b2", "b3"]}, {("EU", "JP"): rng.random((3, 3)).tolist()})
    options = PairingOptions(capacity={"a1": 2, "b3": 2})
    result = optimal_pairing(scores, options)
    assert result.total == pytest.approx(brute_force_total(scores, options))
    assert_respects(scores, options, result)


# --- determinism and ties -------------------------------------------------------------------------


def test_equal_inputs_give_identical_outputs():
    scores = cohort({"EU": ["a1", "a2", "a3"], "JP": ["b1", "b2", "b3"]}, {("EU", "JP"): np.full((3, 3), 0.5).tolist()})
    first = optimal_pairing(scores)
    for _ in range(5):
        assert optimal_pairing(scores) == first
        assert (
            optimal_pairing(
                cohort(
                    {"EU": ["a1", "a2", "a3"], "JP": ["b1", "b2", "b3"]}, {("EU", "JP"): np.full((3, 3), 0.5).tolist()}
                )
            )
            == first
        )
    assert first.total == pytest.approx(1.5)


def test_equal_three_sided_inputs_give_identical_outputs(three):
    options = PairingOptions(capacity={"e1": 2})
    first = optimal_pairing(three, options)
    assert all(optimal_pairing(three, options) == first for _ in range(5))


@pytest.mark.parametrize("seed", range(5))
def test_permuting_members_within_sides_keeps_the_total(seed):
    rng = np.random.default_rng(seed)
    names = {"EU": ["e1", "e2", "e3", "e4"], "JP": ["j1", "j2", "j3"], "KR": ["k1", "k2"]}
    sides = list(names)
    # a score for every cross pair, with deliberate ties
    value = {
        frozenset(p): float(rng.choice([0.2, 0.5, 0.5, 0.8, 0.9]))
        for i, sa in enumerate(sides)
        for sb in sides[i + 1 :]
        for p in itertools.product(names[sa], names[sb])
    }

    def build(order: dict[str, list[str]], keep: list[str]) -> CohortScores:
        ss = {s: order[s] for s in keep}
        return cohort(
            ss,
            {
                (sa, sb): [[value[frozenset((a, b))] for b in ss[sb]] for a in ss[sa]]
                for i, sa in enumerate(keep)
                for sb in keep[i + 1 :]
            },
        )

    for keep in (["EU", "JP"], sides):
        capacity = {"e1": 2} if len(keep) == 3 else {}
        options = PairingOptions(capacity=capacity)
        base = optimal_pairing(build(names, keep), options)
        shuffled = {s: list(rng.permutation(m)) for s, m in names.items()}
        again = optimal_pairing(build(shuffled, keep), options)
        assert again.total == pytest.approx(base.total)


# --- property test --------------------------------------------------------------------------------

SCORE = st.one_of(st.floats(0, 1, allow_nan=False), st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]))


@st.composite
def instances(draw, max_members: int = 5):
    n_sides = draw(st.integers(2, 3))
    sides = {}
    for s in range(n_sides):
        k = draw(st.integers(1, max_members))
        sides[f"S{s}"] = [f"S{s}m{i}" for i in range(k)]
    names = list(sides)
    blocks = {}
    for i, sa in enumerate(names):
        for sb in names[i + 1 :]:
            rows = len(sides[sa]), len(sides[sb])
            flat = draw(st.lists(SCORE, min_size=rows[0] * rows[1], max_size=rows[0] * rows[1]))
            block = np.asarray(flat, dtype=np.float64).reshape(rows)
            if draw(st.booleans()):  # store some blocks the other way round
                blocks[(sb, sa)] = block.T.copy()
            else:
                blocks[(sa, sb)] = block
    scores = CohortScores(sides=sides, blocks=blocks)
    members = [m for ms in sides.values() for m in ms]
    capacity = {m: draw(st.integers(0, 2)) for m in members if draw(st.booleans())}
    pairs = cross_pairs(scores)
    forbidden = [p for p in pairs if draw(st.integers(0, 4)) == 0]
    if forbidden and draw(st.booleans()):
        forbidden = [(b, a) for a, b in forbidden]  # either orientation
    min_score = draw(st.sampled_from([0.0, 0.0, 0.25, 0.5, 0.6]) | st.floats(0, 0.6, allow_nan=False))
    # a valid lock set: cross-side, not forbidden, within capacity
    banned = {frozenset(p) for p in forbidden}
    candidates = draw(st.permutations([p for p in pairs if frozenset(p) not in banned]))
    n_locks = draw(st.integers(0, 3))
    used: dict[str, int] = {}
    locked = []
    for a, b in candidates:
        if len(locked) >= n_locks:
            break
        if all(used.get(c, 0) < capacity.get(c, 1) for c in (a, b)):
            locked.append((a, b) if draw(st.booleans()) else (b, a))
            for c in (a, b):
                used[c] = used.get(c, 0) + 1
    return scores, PairingOptions(capacity=capacity, locked=locked, forbidden=forbidden, min_score=min_score)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_no_pairing_ever_violates_a_constraint_and_small_ones_are_optimal(instance):
    scores, options = instance
    result = optimal_pairing(scores, options)
    assert_respects(scores, options, result)
    if len(allowed_edges(scores, options)) <= 10:
        assert result.total == pytest.approx(brute_force_total(scores, options), abs=1e-5)
    assert optimal_pairing(scores, options) == result  # deterministic


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_members=2))
def test_tiny_pairings_equal_the_brute_force_optimum(instance):
    scores, options = instance
    result = optimal_pairing(scores, options)
    assert_respects(scores, options, result)
    assert len(allowed_edges(scores, options)) <= 12
    assert result.total == pytest.approx(brute_force_total(scores, options), abs=1e-5)


def test_the_same_lock_given_twice_is_one_pair():
    scores = CohortScores({"EU": ["a1", "a2"], "JP": ["b1", "b2"]}, {("EU", "JP"): np.array([[0.9, 0.8], [0.85, 0.3]])})
    result = optimal_pairing(scores, PairingOptions(capacity={"a1": 2, "b1": 2}, locked=[("a1", "b1"), ("b1", "a1")]))
    keys = [frozenset((p.a, p.b)) for p in result.pairs]
    assert len(keys) == len(set(keys))
    assert result.total == pytest.approx(sum(scores.score(p.a, p.b) for p in result.pairs))


def test_regret_reason_for_a_partner_without_room_names_its_capacity():
    scores = CohortScores({"EU": ["a1", "a2"], "JP": ["b1", "b2"]}, {("EU", "JP"): np.array([[0.9, 0.8], [0.85, 0.3]])})
    result = optimal_pairing(scores, PairingOptions(capacity={"b1": 0}))
    regret = {r.city: r for r in result.regrets}
    assert "no room" in regret["a1"].reason and "lower the cohort's total" not in regret["a1"].reason


# --- logistic scores: the likeliest pairing, by log-odds -----------------------------------------

SURE_AND_POOR = {("EU", "KR"): [[0.999, 0.7], [0.7, 0.1]]}  # a near-certain pair, or two likely ones


def test_plain_scores_take_the_larger_sum_of_scores():
    result = optimal_pairing(cohort({"EU": ["a1", "a2"], "KR": ["b1", "b2"]}, SURE_AND_POOR))
    assert pair_set(result) == {frozenset(("a1", "b2")), frozenset(("a2", "b1"))}


def test_logistic_scores_take_the_likeliest_pairing_and_show_the_scores():
    scores = CohortScores(
        sides={"EU": ["a1", "a2"], "KR": ["b1", "b2"]},
        blocks={k: np.asarray(v) for k, v in SURE_AND_POOR.items()},
        logistic=True,
    )
    result = optimal_pairing(scores)
    # log-odds 6.91 - 2.20 = 4.71 beat 0.85 + 0.85: the near-certain pair is kept
    assert pair_set(result) == {frozenset(("a1", "b1")), frozenset(("a2", "b2"))}
    assert sorted(p.score for p in result.pairs) == [0.1, 0.999]
    assert result.total == pytest.approx(1.099)


def test_logistic_scores_weigh_alike_in_the_integer_programme():
    blocks = {k: np.asarray(v) for k, v in SURE_AND_POOR.items()}
    sides = {"EU": ["a1", "a2"], "KR": ["b1", "b2"]}
    capacity = {"a1": 1, "a2": 1, "b1": 1, "b2": 2}  # a capacity above one: the integer programme
    plain = optimal_pairing(CohortScores(sides=sides, blocks=blocks), PairingOptions(capacity=capacity))
    likeliest = optimal_pairing(
        CohortScores(sides=sides, blocks=blocks, logistic=True), PairingOptions(capacity=capacity)
    )
    assert frozenset(("a1", "b1")) not in pair_set(plain)
    assert frozenset(("a1", "b1")) in pair_set(likeliest)
    assert all(
        p.score == pytest.approx(lookup(CohortScores(sides=sides, blocks=blocks), p.a, p.b)) for p in likeliest.pairs
    )
