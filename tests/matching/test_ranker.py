"""The learned ranker's pieces: features a manager would name, per-query standardisation, the
logistic regression, its weights file, and the popularity reference point."""

import numpy as np
import pytest

from matching.explain import separating_threshold
from matching.features import FEATURES, PairInputs, Place, pair_features, standardised
from matching.index import PhraseIndex
from matching.popularity import UsualScores
from matching.ranker import LearnedRanker, TrainingQuery, fit_direction
from matching.scoring import ScoringParams
from matching.types import Kind, ProfileMeta
from matching.vectors import ProfileVectors, StackedPhrases

CITY, ORG = Kind.CITY, Kind.ORGANISATION


def _unit(rows: list[list[float]]) -> np.ndarray:
    x = np.array(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _profile(rows, roles) -> ProfileVectors:
    return ProfileVectors(
        vectors=_unit(rows), roles=np.array(roles, dtype=np.int8), texts=tuple(f"p{i}" for i in range(len(rows)))
    )


def test_place_features_say_where_an_organisation_is_based():
    places = {
        "local-lab": Place("NL", frozenset({"nl"}), city="eindhoven"),
        "partner-firm": Place("KR", frozenset({"ko"}), city="seoul"),
        "dutch-firm": Place("NL", frozenset({"nl"}), city="utrecht"),
        "far-firm": Place("JP", frozenset({"ja"}), city=None),
    }
    keys = list(places)
    query = _profile([[1, 0, 0], [0, 1, 0]], [0, 0])
    candidates = [_profile([[1, 0.1, 0]], [1]) for _ in keys]
    inputs = PairInputs(
        key="eindhoven",
        vectors=query,
        place=Place("NL", frozenset({"nl"})),
        partners=frozenset({"seoul"}),
        candidate_keys=keys,
        candidates=StackedPhrases.of(candidates),
        dense=np.full(4, 0.5),
        lexical=np.zeros(4),
        usual=np.zeros(4),
    )
    x = pair_features((CITY, ORG), inputs, places, ScoringParams())
    names = FEATURES[(CITY, ORG)]
    col = {n: x[:, names.index(n)].tolist() for n in ("local", "partner_city", "national")}
    assert col == {"local": [1, 0, 0, 0], "partner_city": [0, 1, 0, 0], "national": [1, 0, 1, 0]}


def test_best_needs_rewards_a_specialist_over_a_generalist():
    # a city with three needs; the specialist serves one perfectly, the generalist all three weakly
    query = _profile([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], [0, 0, 0])
    specialist = _profile([[1, 0, 0, 0.05]], [1])
    generalist = _profile([[0.4, 0.4, 0.4, 0.72]], [1])  # covers every need at 0.4: a better mean, a worse best
    inputs = PairInputs(
        key="city",
        vectors=query,
        place=None,
        partners=frozenset(),
        candidate_keys=["s", "g"],
        candidates=StackedPhrases.of([specialist, generalist]),
        dense=np.zeros(2),
        lexical=np.zeros(2),
        usual=np.zeros(2),
    )
    x = pair_features((CITY, ORG), inputs, {}, ScoringParams())
    best = x[:, FEATURES[(CITY, ORG)].index("best_needs")]
    assert best[0] > best[1]


def test_standardised_centres_scores_within_the_list_and_keeps_place_features():
    names = ("fit", "national")
    z = standardised(np.array([[0.2, 1.0], [0.4, 0.0], [0.6, 1.0]]), names)
    assert z[:, 0].tolist() == pytest.approx([-1.2247, 0.0, 1.2247], abs=1e-4)
    assert z[:, 1].tolist() == [1.0, 0.0, 1.0]
    assert standardised(np.array([[0.3, 0.0], [0.3, 1.0]]), names)[:, 0].tolist() == [0.0, 0.0]


def _queries(seed: int, n: int = 30) -> list[TrainingQuery]:
    """City pairings where the true partner has the best fit half the time and shares a language always."""
    rng = np.random.default_rng(seed)
    names = FEATURES[(CITY, CITY)]
    out = []
    for q in range(n):
        x = rng.normal(0.4, 0.05, size=(8, len(names)))
        x[:, names.index("language")] = rng.integers(0, 2, size=8)
        x[0, names.index("language")] = 1
        if q % 2 == 0:
            x[0, names.index("fit")] += 0.2
        out.append(
            TrainingQuery(
                (CITY, CITY), f"cohort-{q % 3}", f"q{q}", tuple(f"c{i}" for i in range(8)), x, frozenset({"c0"})
            )
        )
    return out


def test_the_regression_learns_the_signals_of_true_partners_and_is_reproducible():
    model = fit_direction(_queries(0))
    weights = dict(zip(model.features, model.weights))
    assert weights["fit"] > 0 and weights["language"] > 0
    assert fit_direction(_queries(0)) == model
    ablated = fit_direction(_queries(0), features=["fit", "lexical"])
    assert ablated.features == ("fit", "lexical")


def test_weights_file_round_trips_and_refuses_unknown_features():
    model = fit_direction(_queries(1))
    ranker = LearnedRanker(models={(CITY, CITY): model}, match_threshold=0.37, meta={"model": "all-MiniLM-L6-v2"})
    again = LearnedRanker.from_json(ranker.to_json())
    assert again.models == ranker.models and again.match_threshold == 0.37 and again.meta["model"] == "all-MiniLM-L6-v2"
    raw = ranker.to_json()
    raw["directions"]["city->city"]["weights"]["shoe_size"] = 1.0
    with pytest.raises(ValueError, match="shoe_size"):
        LearnedRanker.from_json(raw)


def test_scores_are_half_for_the_average_candidate():
    model = fit_direction(_queries(2))
    x = _queries(3)[0].features
    x[:] = x[0]  # every candidate alike
    x[:, FEATURES[(CITY, CITY)].index("language")] = 0
    assert model.scores((CITY, CITY), x).tolist() == pytest.approx([0.5] * len(x))


def test_a_candidate_close_to_everyone_has_a_high_usual_score():
    index = PhraseIndex(dim=3)
    hub = _profile([[1, 1, 1]], [0])
    entries = [("hub", hub, ProfileMeta("city", "EU", "NL"))]
    for i, row in enumerate(([1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0.2, 0], [0, 1, 0.2])):
        entries.append((f"c{i}", _profile([row], [0]), ProfileMeta("city", "KR", "KR")))
    index.bulk_load(entries)
    usual = UsualScores().fit(index, ScoringParams())
    scores = usual.of(CITY, CITY, ["hub", "c0", "c2"])
    assert scores[0] > scores[1] and scores[0] > scores[2]
    # a profile written later gets its usual score without a refit of the others
    index.upsert("c9", _profile([[0.9, 0.9, 1]], [0]), ProfileMeta("city", "KR", "KR"))
    usual.update(index, ScoringParams(), ["c9"])
    assert usual.of(CITY, CITY, ["c9"])[0] > scores[1]


def test_the_match_threshold_separates_partners_needs_from_others():
    positive = np.array([0.6, 0.55, 0.7, 0.3])
    negative = np.array([0.2, 0.3, 0.35, 0.25, 0.6])
    assert 0.35 < separating_threshold(positive, negative) <= 0.55
