"""Batch scoring: code-presence shortlists, exact rescoring, and the same answers as live scoring."""

import numpy as np
import pytest

from matching.batch import BatchScorer, BlockItem
from matching.index import PhraseIndex
from matching.lexical import LexicalModel
from matching.presence import CodePresence
from matching.recommend import Query, Recommender
from matching.scoring import ScoringParams, coverage_block, fuse_directions
from matching.types import CandidateFilter, Kind
from matching.vectors import ProfileVectors
from tests.matching.test_index import CITY_CITY, CITY_ORG, DIM, ORG_CITY, Corpus

PARAMS = ScoringParams()


@pytest.fixture(scope="module")
def corpus_index():
    corpus = Corpus(seed=21)
    entries = corpus.entries(1_500)
    # every request past the threshold: codes are fitted, so the batch takes its presence path
    index = PhraseIndex(DIM, exact_below_rows=0, n_codes=128).bulk_load(entries)
    return entries, index


def _filter(index: PhraseIndex, key: str, target: str) -> CandidateFilter:
    meta = index.meta_of(key)
    crossing = target == "city" and meta.kind == "city"
    return CandidateFilter(kind=target, exclude_bloc=meta.bloc if crossing else None, exclude_keys=frozenset({key}))


def test_presence_is_the_best_weighted_cosine_to_each_code(corpus_index):
    entries, index = corpus_index
    presence = CodePresence(index, "organisation", CITY_ORG.target_serves, PARAMS)
    key, vectors, meta = next(e for e in entries if e[2].kind == "organisation" and len(e[1]))
    column = int(np.searchsorted(presence.candidates_, index.slot(key)))
    weights = np.where(vectors.roles == 0, 0.0, np.where(vectors.roles == 2, PARAMS.description_weight, 1.0))
    expected = ((vectors.vectors * weights[:, None]) @ presence.centres_.T).max(axis=0)
    assert presence.presence_t_[:, column] == pytest.approx(expected, abs=1e-5)


def test_need_histograms_sum_to_one_and_fall_back_to_every_phrase(corpus_index):
    entries, index = corpus_index
    presence = CodePresence(index, "city", CITY_CITY.target_serves, PARAMS)
    slots = np.array([index.slot(k) for k, v, _ in entries[:200] if len(v)])
    histogram = presence.need_histogram(slots, CITY_CITY.query_needs)
    assert np.asarray(histogram.sum(axis=1)).ravel() == pytest.approx(1.0)
    keys = index.keys_at(slots)
    without = [i for i, key in enumerate(keys) if not (index.vectors_of(key).roles == 0).any()]
    assert without  # the corpus has profiles without interests
    for i in without:
        assert histogram[i].sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "roles,query_kind,target",
    [(CITY_CITY, "city", "city"), (CITY_ORG, "city", "organisation"), (ORG_CITY, "organisation", "city")],
)
def test_shortlists_hold_the_exhaustive_top_ten_and_respect_filters(corpus_index, roles, query_kind, target):
    entries, index = corpus_index
    presence = CodePresence(index, target, roles.target_serves, PARAMS)
    keys = [k for k, v, m in entries if m.kind == query_kind and len(v)][:60]
    filters = [_filter(index, k, target) for k in keys]
    slots = np.array([index.slot(k) for k in keys])
    shortlists, _, _ = presence.shortlists(slots, roles, index.allowed_among(filters, presence.candidates_), 100)
    held = 0
    for key, filt, shortlist in zip(keys, filters, shortlists):
        allowed = set(index.allowed(filt).tolist())
        assert set(shortlist.tolist()) <= allowed and len(shortlist) == min(100, len(allowed))
        exact = index.top_k(index.vectors_of(key), roles, PARAMS, 10, filt, exact=True)
        held += {index.slot(s.key) for s in exact} <= set(shortlist.tolist())
    assert held >= 0.9 * len(keys)  # 100 of ~600 candidates; at 100k, 300 of 60k hold it for 99 %


def test_approximate_scores_follow_the_exact_ones(corpus_index):
    entries, index = corpus_index
    presence = CodePresence(index, "city", CITY_CITY.target_serves, PARAMS)
    key, vectors, _ = next(e for e in entries if e[2].kind == "city" and (e[1].roles == 0).any())
    approx = presence.approximate_scores(np.array([index.slot(key)]), CITY_CITY)[0]
    exact = []
    for slot in presence.candidates_:
        other = index.vectors_of(index.keys_at(np.array([slot]))[0])
        fwd, bwd = coverage_block(
            vectors.vectors @ other.vectors.T, vectors.roles, other.roles, np.array([0, len(other)]), CITY_CITY, PARAMS
        )
        exact.append(fuse_directions(fwd, bwd, PARAMS.fusion)[0])
    assert np.corrcoef(approx, exact)[0, 1] > 0.9


def test_batch_answers_are_the_live_answers(corpus_index):
    entries, index = corpus_index
    lexical = LexicalModel().fit({k: " ".join(v.texts) for k, v, _ in entries})
    recommender = Recommender(index, lexical)
    scorer = BatchScorer(recommender, shortlist_size=150)
    items = [
        BlockItem(key=k, text=" ".join(v.texts), kind=m.kind, filt=_filter(index, k, target))
        for k, v, m in entries[:120]
        if len(v)
        for target in ("city", "organisation")
    ]
    got = scorer.suggest_block(items, 5)
    same = 0
    for item, found in zip(items, got):
        assert all(s.key not in item.filt.exclude_keys for s in found)
        if item.filt.exclude_bloc:
            assert all(index.meta_of(s.key).bloc != item.filt.exclude_bloc for s in found)
        query = Query(index.vectors_of(item.key), item.text, Kind(item.kind), key=item.key)
        live = recommender.suggest(query, item.filt, 5, exact=True)
        same += [s.key for s in found] == [s.key for s in live]
        assert found and found[0].matches  # explained, as live
    assert same >= 0.95 * len(items)


def test_without_codes_the_batch_scores_exhaustively():
    corpus = Corpus(seed=22)
    entries = corpus.entries(80)
    index = PhraseIndex(DIM).bulk_load(entries)  # far below the cascade threshold
    recommender = Recommender(index, LexicalModel().fit({k: " ".join(v.texts) for k, v, _ in entries}))
    key, vectors, meta = next(e for e in entries if e[2].kind == "city" and len(e[1]))
    item = BlockItem(key=key, text=" ".join(vectors.texts), kind="city", filt=_filter(index, key, "city"))
    assert BatchScorer(recommender).suggest_block([item], 5) == [
        recommender.suggest(Query(index.vectors_of(key), item.text, Kind.CITY, key=key), item.filt, 5)
    ]


def test_beyond_gives_the_allowed_candidates_past_the_shortlist_that_reach_a_score(corpus_index):
    entries, index = corpus_index
    presence = CodePresence(index, "city", CITY_CITY.target_serves, PARAMS)
    key = next(k for k, v, m in entries if m.kind == "city" and len(v))
    slot = np.array([index.slot(key)])
    allowed = index.allowed_among([_filter(index, key, "city")], presence.candidates_)
    shortlists, _, approximations = presence.shortlists(slot, CITY_CITY, allowed, 40)
    approx = presence.approximate_scores(slot, CITY_CITY)[0]
    assert approximations[0] == pytest.approx(approx[np.searchsorted(presence.candidates_, shortlists[0])])
    at_least = float(np.quantile(approx, 0.5))
    beyond = presence.beyond(slot[0], CITY_CITY, allowed[0], shortlists[0], at_least, 10_000)
    columns = np.searchsorted(presence.candidates_, beyond)
    assert np.array_equal(beyond, np.sort(beyond)) and not set(beyond.tolist()) & set(shortlists[0].tolist())
    assert allowed[0][columns].all() and (approx[columns] >= at_least).all()
    expected = allowed[0] & (approx >= at_least)
    expected[np.searchsorted(presence.candidates_, shortlists[0])] = False
    assert len(beyond) == expected.sum()
    best_ten = presence.beyond(slot[0], CITY_CITY, allowed[0], shortlists[0], at_least, 10)
    assert (
        len(best_ten) == 10
        and approx[np.searchsorted(presence.candidates_, best_ten)].min() >= np.sort(approx[columns])[-10]
    )


def test_a_shortlist_cut_inside_a_crowd_of_near_ties_is_widened_to_the_exhaustive_answer():
    # 400 organisations offer nearly the same thing, the one thing a city asks for: far more than
    # the shortlist holds, so the cut falls inside the crowd and only widening finds the best
    corpus = Corpus(seed=23)
    entries = [corpus.profile(kind="city") for _ in range(300)]
    offer = corpus.topics[0, 0]
    rng = np.random.default_rng(5)
    for _ in range(400):
        key, vectors, meta = corpus.profile(kind="organisation")
        near = offer + 0.25 * rng.standard_normal(DIM) / np.sqrt(DIM)
        rows = np.vstack([vectors.vectors, near / np.linalg.norm(near)]).astype(np.float32)
        roles = np.append(vectors.roles, np.int8(1))  # an offer
        entries.append((key, ProfileVectors(rows, roles, (*vectors.texts, "the shared offer")), meta))
    # the interest sits off the crowd's centre, so closeness to its code does not order the crowd
    aside = rng.standard_normal(DIM)
    aside -= (aside @ offer) * offer
    interest = offer + 0.2 * aside / np.linalg.norm(aside)
    key = entries[0][0]
    asking = ProfileVectors(
        (interest / np.linalg.norm(interest))[None, :].astype(np.float32), np.array([0], dtype=np.int8), ("interest",)
    )
    entries[0] = (key, asking, entries[0][2])
    index = PhraseIndex(DIM, exact_below_rows=0, n_codes=64).bulk_load(entries)
    recommender = Recommender(index, LexicalModel().fit({k: " ".join(v.texts) for k, v, _ in entries}))
    filt = _filter(index, key, "organisation")
    item = BlockItem(key=key, text="the one interest", kind="city", filt=filt)
    found = BatchScorer(recommender, shortlist_size=60).suggest_block([item], 5)[0]
    live = recommender.suggest(Query(index.vectors_of(key), item.text, Kind.CITY, key=key), filt, 5, exact=True)
    assert [s.key for s in found] == [s.key for s in live]
