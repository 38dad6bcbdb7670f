"""A write prepared beside readers (`Recommender.prepare_write`) leaves the recommender exactly as
writing it in place would: the same usual scores, to the bit, and the same TF-IDF rows."""

import numpy as np
import pytest

from matching.features import Place
from matching.index import PhraseIndex
from matching.lexical import LexicalModel
from matching.popularity import UsualScores
from matching.recommend import Recommender
from matching.scoring import ScoringParams
from matching.types import Kind, ProfileMeta
from matching.vectors import ProfileVectors

PARAMS = ScoringParams()
DIM = 16


def _profile(rng: np.random.Generator, phrases: int) -> ProfileVectors:
    x = rng.normal(size=(phrases, DIM)).astype(np.float32)
    return ProfileVectors(
        vectors=x / np.linalg.norm(x, axis=1, keepdims=True),
        roles=rng.integers(0, 3, size=phrases).astype(np.int8),
        texts=tuple(f"theme {int(rng.integers(40))} pilot" for _ in range(phrases)),
    )


def _entries(rng: np.random.Generator, n: int) -> list[tuple[str, ProfileVectors, ProfileMeta]]:
    return [
        (f"p{i}", _profile(rng, int(rng.integers(1, 8))), ProfileMeta("city" if i % 3 else "organisation", "EU", "NL"))
        for i in range(n)
    ]


def _index(entries, cascade: bool) -> PhraseIndex:
    # with `cascade`, the index is past its exact threshold: its usual scores come from the coded stage
    if cascade:
        return PhraseIndex(DIM, exact_below_rows=64, n_codes=16, reduced_dim=8).bulk_load(entries)
    return PhraseIndex(DIM).bulk_load(entries)


@pytest.mark.parametrize("cascade", [False, True], ids=["exact", "cascade"])
def test_usual_scores_prepared_before_the_index_holds_a_write_are_those_update_sets(cascade):
    rng = np.random.default_rng(7)
    entries = _entries(rng, 120)
    index = _index(entries, cascade)
    assert index.fitted == cascade
    usual = UsualScores(sample_size=8).fit(index, PARAMS)
    askers = {a for group in usual.askers_.values() for a in group}
    written = [(k, _profile(rng, 5), m) for k, _, m in entries[:40] if k not in askers][:6]
    written.append(("new-one", _profile(rng, 3), ProfileMeta("city", "EU", "NL")))
    if usual.prepared(index, PARAMS, written[-1:]) is None:  # it would be an asker: leave it out
        written.pop()

    tables = usual.prepared(index, PARAMS, written)
    in_place = usual.copy()
    for key, vectors, meta in written:
        index.upsert(key, vectors, meta)
    in_place.update(index, PARAMS, [k for k, _, _ in written])
    usual.apply(tables)
    assert tables is not None and usual.usual_ == in_place.usual_ and usual.askers_ == in_place.askers_


def test_a_write_of_an_asker_is_not_prepared_it_refits():
    rng = np.random.default_rng(3)
    entries = _entries(rng, 60)
    index = _index(entries, cascade=False)
    usual = UsualScores(sample_size=8).fit(index, PARAMS)
    asker = usual.askers_[Kind.CITY][0]
    assert usual.prepared(index, PARAMS, [(asker, _profile(rng, 4), ProfileMeta("city", "EU", "NL"))]) is None
    # nor one that turns an asker of one kind into the other
    assert usual.prepared(index, PARAMS, [(asker, _profile(rng, 4), ProfileMeta("organisation", "EU", "NL"))]) is None


def _recommender(entries) -> Recommender:
    texts = {k: " ".join(v.texts) for k, v, _ in entries}
    places = {k: Place("NL", frozenset({"nl"})) for k, _, _ in entries}
    recommender = Recommender(_index(entries, cascade=False), LexicalModel().fit(texts), places=places)
    _ = recommender.context.usual  # fitted, as it is with a learned ranker
    return recommender


@pytest.mark.parametrize("asker", [False, True], ids=["candidate", "asker"])
def test_an_applied_write_leaves_the_recommender_as_a_fit_on_its_profiles_would(asker):
    rng = np.random.default_rng(11)
    entries = _entries(rng, 300)
    recommender = _recommender(entries)
    askers = {a for group in recommender.context.usual.askers_.values() for a in group}
    key = next(k for k, _, m in entries if (k in askers) == asker and m.kind == "city")
    vectors = _profile(rng, 6)
    text = "harbour logistics and ferries"
    gone = next(k for k, _, _ in entries if k not in askers and k != key)

    write = recommender.prepare_write(
        [(key, vectors, ProfileMeta("city", "EU", "NL"), Place("NL", frozenset()), text)], [gone]
    )
    behind = recommender.apply_write(write)
    assert behind == asker  # an asker's write moves every usual score: refitted on a copy, after
    if behind:
        before = recommender.context.usual
        settled = recommender.settled_usual(write)
        assert recommender.context.usual is before  # readers keep the scores as they were meanwhile
        recommender.context.use_usual(settled)

    assert recommender.index.vectors_of(key).texts == vectors.texts and gone not in recommender.index
    assert gone not in recommender.places and recommender.lexical.row(gone) is None
    assert (recommender.lexical.row(key) != recommender.lexical.transform(text)).nnz == 0
    # below the cascade's threshold every usual score is exact: a fit on the written index gives the same
    refit = UsualScores().fit(recommender.index, PARAMS)
    assert recommender.context.usual.usual_ == refit.usual_ and recommender.context.usual.askers_ == refit.askers_
