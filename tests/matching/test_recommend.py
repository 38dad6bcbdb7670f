"""The whole suggestion path on a toy network of profiles embedded with the real model:
dense retrieval from a PhraseIndex, lexical blend, filters, diversity and explanations."""

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from embeddings import split_description
from matching.explain import explain
from matching.index import PhraseIndex
from matching.lexical import LexicalModel
from matching.recommend import Query, Recommender
from matching.scoring import direction_roles, explanation_roles
from matching.themes import Theme, ThemeTagger
from matching.types import CandidateFilter, Kind, ProfileMeta
from matching.vectors import ProfileVectors

THEMES = Path(__file__).resolve().parents[2] / "data" / "themes.json"


@dataclass(frozen=True)
class Toy:
    kind: str
    bloc: str
    country: str
    interests: tuple[str, ...] = ()
    offers: tuple[str, ...] = ()
    description: str = ""
    org_type: str | None = None

    @property
    def text(self) -> str:
        return " ".join([self.description, *self.interests, *self.offers])


PROFILES = {
    "eindhoven": Toy(
        "city",
        "EU",
        "NL",
        ("intelligent public lighting", "living labs with citizens"),
        ("design and technology incubators",),
        "A city of technology and design.",
    ),
    "lyon": Toy(
        "city",
        "EU",
        "FR",
        ("urban mobility", "living labs"),
        ("public lighting masterplan",),
        "Capital of gastronomy and the festival of lights.",
    ),
    "seoul": Toy(
        "city",
        "ASIA",
        "KR",
        ("smart street lighting", "startup incubation"),
        ("living lab methodology", "public wifi"),
        "A megacity investing in digital services.",
    ),
    "busan": Toy(
        "city",
        "ASIA",
        "KR",
        ("port logistics", "marine tourism"),
        ("smart port operations",),
        "A port city on the southern coast.",
    ),
    "bogota": Toy(
        "city",
        "LAC",
        "CO",
        ("bus rapid transit", "cycling infrastructure"),
        ("TransMilenio BRT operations",),
        "A high-altitude capital with a large bus network.",
    ),
    "lumen": Toy(
        "organisation",
        "EU",
        "NL",
        (),
        ("connected LED street lighting systems", "lighting control software"),
        "We make cities brighter and save energy.",
        "company",
    ),
    "hydrobus": Toy(
        "organisation",
        "EU",
        "DE",
        (),
        ("hydrogen fuel cell buses",),
        "Zero-emission public transport vehicles.",
        "company",
    ),
    "aquaworks": Toy(
        "organisation", "ASIA", "JP", (), ("water leak detection sensors",), "Smart water networks.", "company"
    ),
}
# the same company registered twice under two names: a tie, and a near-copy for diversity
TWIN = {"brightway": replace(PROFILES["lumen"], country="BE")}


@pytest.fixture(scope="module")
def vectors(encoder) -> dict[str, ProfileVectors]:
    out = {}
    for key, p in {**PROFILES, **TWIN}.items():
        description = split_description(p.description)
        phrases = [*p.interests, *p.offers, *description]
        out[key] = ProfileVectors.from_phrases(list(p.interests), list(p.offers), description, encoder.encode(phrases))
    return out


def build(vectors, keys, tagger=None) -> Recommender:
    profiles = {**PROFILES, **TWIN}
    index = PhraseIndex(dim=384).bulk_load(
        (
            k,
            vectors[k],
            ProfileMeta(
                kind=profiles[k].kind, bloc=profiles[k].bloc, country=profiles[k].country, org_type=profiles[k].org_type
            ),
        )
        for k in keys
    )
    lexical = LexicalModel().fit({k: profiles[k].text for k in keys})
    return Recommender(index, lexical, tagger)


@pytest.fixture(scope="module")
def recommender(vectors) -> Recommender:
    return build(vectors, list(PROFILES))


def query_of(recommender: Recommender, key: str) -> Query:
    profile = {**PROFILES, **TWIN}[key]
    return Query(recommender.index.vectors_of(key), profile.text, Kind(profile.kind))


def ask(recommender: Recommender, key: str, target: str, k: int = 10, **options):
    filt = CandidateFilter(
        kind=target,
        exclude_keys=frozenset({key}) | options.pop("exclude", frozenset()),
        exclude_bloc=options.pop("exclude_bloc", None),
        bloc=options.pop("bloc", None),
    )
    return recommender.suggest(query_of(recommender, key), filt, k, **options)


# ------------------------------------------------------------------ city → organisation


def test_a_city_wanting_public_lighting_gets_the_lighting_company_first(recommender):
    found = ask(recommender, "eindhoven", "organisation")
    assert [s.key for s in found][0] == "lumen"
    assert {s.key for s in found} == {"lumen", "hydrobus", "aquaworks"}
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    best = found[0]
    assert best.backward is None  # organisations are not asked whether the city serves them
    first = best.matches[0]
    assert (first.need, first.need_role, first.direction) == ("intelligent public lighting", "interest", "forward")
    assert first.match_role == "offer" and "lighting" in first.match
    assert "lighting" in best.shared_terms


def test_a_city_wanting_bus_transit_gets_the_bus_maker_first(recommender):
    assert ask(recommender, "bogota", "organisation")[0].key == "hydrobus"


def test_an_organisation_is_shown_the_cities_that_want_its_offer(recommender):
    found = ask(recommender, "lumen", "city", k=2)
    assert {s.key for s in found} == {"eindhoven", "seoul"}


def test_scores_blend_dense_and_lexical(recommender):
    for s in ask(recommender, "eindhoven", "organisation"):
        assert s.score == pytest.approx(0.8 * s.dense + 0.2 * s.lexical, abs=1e-5)
        assert s.dense == pytest.approx(s.forward, abs=1e-6)


@pytest.fixture(scope="module")
def tagger(encoder) -> ThemeTagger:
    raw = json.loads(THEMES.read_text(encoding="utf-8"))["themes"]
    themes = [Theme(t["id"], t["label"], t["definition"]) for t in raw]
    return ThemeTagger(themes, encoder.encode([t.text for t in themes]))


def test_shared_themes_come_from_the_taxonomy(vectors, tagger):
    with_themes = build(vectors, list(PROFILES), tagger)
    best = ask(with_themes, "eindhoven", "organisation", k=1)[0]
    assert best.key == "lumen"
    assert "smart-lighting" in best.shared_themes


def test_each_suggestion_is_explained_as_explain_explains_that_pair(vectors, tagger):
    recommender = build(vectors, list(PROFILES) + list(TWIN), tagger)
    for key, target in [("eindhoven", "organisation"), ("eindhoven", "city"), ("lumen", "city"), ("busan", "city")]:
        query = query_of(recommender, key)
        roles = explanation_roles(query.kind, Kind(target))
        for s in ask(recommender, key, target):
            why = explain(
                query.vectors, recommender.index.vectors_of(s.key), roles, recommender.params, recommender.tagger
            )
            assert (s.matches, s.shared_themes) == (why.matches, why.shared_themes)


def test_unexplained_suggestions_carry_no_reasons(recommender):
    found = ask(recommender, "eindhoven", "organisation", explained=False)
    assert found[0].key == "lumen"
    assert all(s.matches == [] and s.shared_terms == [] and s.shared_themes == [] for s in found)


# ------------------------------------------------------------------ city ↔ city


def test_city_pairings_are_scored_and_explained_both_ways(recommender):
    found = ask(recommender, "eindhoven", "city")
    assert found[0].key in {"lyon", "seoul"}  # both want living labs and lighting, as Eindhoven does
    for s in found:
        assert s.backward is not None
        assert {m.direction for m in s.matches} == {"forward", "backward"}


@pytest.mark.parametrize("query", ["eindhoven", "seoul", "bogota"])
def test_excluded_keys_and_the_own_bloc_never_appear(recommender, query):
    bloc = PROFILES[query].bloc
    found = ask(recommender, query, "city", exclude={"lyon", "busan"}, exclude_bloc=bloc)
    keys = [s.key for s in found]
    assert keys, "other blocs have cities"
    assert not set(keys) & {query, "lyon", "busan"}
    assert all(recommender.index.meta_of(k).bloc != bloc for k in keys)
    assert set(keys) == {k for k, p in PROFILES.items() if p.kind == "city" and p.bloc != bloc} - {"lyon", "busan"}


def test_same_bloc_cities_are_suggested_unless_excluded(recommender):
    assert "lyon" in [s.key for s in ask(recommender, "eindhoven", "city")]
    assert "lyon" not in [s.key for s in ask(recommender, "eindhoven", "city", exclude_bloc="EU")]


def test_a_filter_that_allows_nothing_gives_no_suggestions(recommender):
    assert ask(recommender, "eindhoven", "city", bloc="AFRICA") == []


# ------------------------------------------------------------------ diversity and ties


@pytest.mark.parametrize("diversity", [0.0, 0.3, 0.8, 1.0])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_diversity_still_returns_k_distinct_suggestions(recommender, diversity, k):
    found = ask(recommender, "eindhoven", "city", k=k, diversity=diversity)
    keys = [s.key for s in found]
    assert len(keys) == len(set(keys)) == min(k, 4)
    assert "eindhoven" not in keys


def test_diversity_pushes_a_near_copy_down(vectors):
    recommender = build(vectors, list(PROFILES) + list(TWIN))
    plain = [s.key for s in ask(recommender, "eindhoven", "organisation", k=3)]
    assert plain[:2] == ["brightway", "lumen"]
    diverse = [s.key for s in ask(recommender, "eindhoven", "organisation", k=3, diversity=0.5)]
    assert diverse[0] == "brightway"
    assert "lumen" not in diverse[:2]
    assert len(set(diverse)) == 3


def test_ties_are_ordered_by_key_whatever_the_insertion_order(vectors):
    keys = list(PROFILES) + list(TWIN)
    forward = build(vectors, keys)
    backward = build(vectors, keys[::-1])
    first = ask(forward, "eindhoven", "organisation")
    assert first[0].score == first[1].score
    assert [s.key for s in first[:2]] == ["brightway", "lumen"]
    for recommender in (forward, backward):
        for _ in range(2):
            again = ask(recommender, "eindhoven", "organisation")
            assert [(s.key, s.score) for s in again] == [(s.key, s.score) for s in first]


# ------------------------------------------------------------------ ranking a pool retrieved elsewhere


@pytest.mark.parametrize("key, target", [("eindhoven", "city"), ("eindhoven", "organisation"), ("lumen", "city")])
@pytest.mark.parametrize("diversity", [0.0, 0.5])
def test_ranking_a_retrieved_pool_gives_what_suggest_gives_whatever_its_order(recommender, key, target, diversity):
    query = query_of(recommender, key)
    filt = CandidateFilter(kind=target, exclude_keys=frozenset({key}))
    pool = recommender.index.top_k(
        query.vectors, direction_roles(query.kind, Kind(target)), recommender.params, 10, filt, pool=50
    )
    found = recommender.suggest(query, filt, 3, diversity=diversity)
    assert recommender.rank(query, pool, 3, diversity=diversity) == found
    assert recommender.rank(query, pool[::-1], 3, diversity=diversity) == found
    unexplained = [replace(s, matches=[], shared_themes=[], shared_terms=[]) for s in found]
    assert recommender.rank(query, pool, 3, diversity=diversity, explained=False) == unexplained
    assert recommender.rank(query, [], 3) == []


def test_ranking_a_block_of_queries_gives_each_what_ranking_it_alone_gives(vectors, tagger):
    recommender = build(vectors, list(PROFILES) + list(TWIN), tagger)
    for target, keys in [("city", ["eindhoven", "seoul", "bogota"]), ("organisation", ["eindhoven", "busan", "lyon"])]:
        queries = [query_of(recommender, key) for key in keys]
        filters = [CandidateFilter(kind=target, exclude_keys=frozenset({key})) for key in keys]
        pools = [
            recommender.index.top_k(q.vectors, direction_roles(q.kind, Kind(target)), recommender.params, 5, f, pool=50)
            for q, f in zip(queries, filters)
        ]
        pools[1] = []  # a query with nothing allowed
        together = recommender.rank_many(queries, pools, 4)
        assert together == [recommender.rank(q, pool, 4) for q, pool in zip(queries, pools)]
        assert together[1] == [] and all(len(found) == 4 and found[0].matches for found in together[::2])
