"""TF-IDF between whole profile texts: exact shared rare terms (acronyms, programme names) count."""

import numpy as np
import pytest

from matching.lexical import LexicalModel, LexicalStatistics

CORPUS = {
    "tallinn": "Digital government services, m-voting and OASC minimal interoperability mechanisms for cities.",
    "lisbon": "Participatory budgeting with m-voting, and membership of the OASC network.",
    "porto": "Urban mobility, cycling lanes and public transport for residents of the city.",
    "oulu": "Cycling lanes, winter maintenance of streets and public transport for the city.",
    "lyon": "Urban food strategy, school canteens and public markets for the city.",
}
QUERY = "A city that wants to join OASC and pilot m-voting."


@pytest.fixture
def model() -> LexicalModel:
    return LexicalModel().fit(CORPUS)


def ranked(model: LexicalModel, text: str, keys=tuple(CORPUS)) -> list[str]:
    sims = model.similarity(model.transform(text), list(keys))
    return [k for _, k in sorted(zip(-sims, keys))]


def test_shared_rare_terms_give_higher_similarity(model):
    sims = dict(zip(CORPUS, model.similarity(model.transform(QUERY), list(CORPUS))))
    assert min(sims["tallinn"], sims["lisbon"]) > max(sims["porto"], sims["oulu"], sims["lyon"])
    assert ranked(model, QUERY)[:2] in (["lisbon", "tallinn"], ["tallinn", "lisbon"])
    assert all(0.0 <= s <= 1.0 + 1e-6 for s in sims.values())


def test_a_profile_is_most_similar_to_itself(model):
    for key, text in CORPUS.items():
        assert ranked(model, text)[0] == key
        assert model.similarity(model.transform(text), [key])[0] == pytest.approx(1.0, abs=1e-5)


def test_unknown_keys_score_zero_and_no_keys_give_an_empty_array(model):
    assert model.similarity(model.transform(QUERY), ["nowhere", "tallinn"])[0] == 0.0
    assert model.similarity(model.transform(QUERY), []).shape == (0,)


def test_update_replaces_one_row_without_refitting(model):
    query = model.transform(QUERY)
    terms, others_before = model.terms_.copy(), model.similarity(query, ["tallinn", "lisbon", "oulu", "lyon"])
    assert model.similarity(query, ["porto"])[0] < 0.15  # only "city" in common

    model.update({"porto": "Porto now pilots m-voting and joined OASC."})

    assert model.similarity(query, ["porto"])[0] > 0.3
    assert np.array_equal(model.terms_, terms)  # same vocabulary and idf: nobody else is re-weighted
    np.testing.assert_array_equal(model.similarity(query, ["tallinn", "lisbon", "oulu", "lyon"]), others_before)


def test_update_adds_a_new_profile_in_the_fitted_vocabulary(model):
    model.update({"tampere": "Tampere runs OASC pilots."})
    assert ranked(model, QUERY, keys=("tampere", "porto", "lyon"))[0] == "tampere"
    model.update({"espoo": "Quantum hydrogen zeppelins."})  # no fitted term: nothing in common until a refit
    assert model.similarity(model.transform("hydrogen zeppelins"), ["espoo"])[0] == 0.0
    model.update({})


def test_remove_forgets_a_profile(model):
    model.remove(["tallinn", "never-stored"])
    query = model.transform(QUERY)
    assert model.similarity(query, ["tallinn"])[0] == 0.0
    assert model.shared_terms(query, "tallinn") == []
    assert model.similarity(query, ["lisbon"])[0] > 0


def test_shared_terms_lists_the_terms_that_contribute(model):
    query = model.transform(QUERY)
    terms = model.shared_terms(query, "tallinn")
    assert {"oasc", "voting"} <= set(terms)  # the tokenizer keeps words of two letters or more
    assert all(t in CORPUS["tallinn"].lower() and t in QUERY.lower() for t in terms)
    assert model.shared_terms(model.transform("school canteens"), "porto") == []
    assert model.shared_terms(query, "nowhere") == []


def test_shared_terms_are_strongest_first_and_limited_by_top(model):
    query = model.transform("m-voting, OASC and digital government services")
    terms = model.shared_terms(query, "tallinn", top=10)
    product = query.multiply(model.row("tallinn")).toarray().ravel()
    weights = [product[list(model.terms_).index(t)] for t in terms]
    assert weights == sorted(weights, reverse=True)
    assert model.shared_terms(query, "tallinn", top=2) == terms[:2]


def test_shared_terms_are_the_largest_products_for_stored_and_new_queries(model):
    for query in (model.row("lisbon"), model.row("tallinn"), model.transform(QUERY)):
        dense = query.toarray().ravel()
        for key in CORPUS:
            product = dense * model.row(key).toarray().ravel()
            strongest = sorted(np.flatnonzero(product), key=lambda j: (-product[j], j))[:5]
            assert model.shared_terms(query, key) == [str(model.terms_[j]) for j in strongest]
        keys = [*CORPUS, "nowhere"]
        assert model.shared_terms_many(query, keys, top=3) == [model.shared_terms(query, k, top=3) for k in keys]


def test_stop_words_carry_no_weight(model):
    assert model.shared_terms(model.transform("the and of for"), "porto") == []


def test_a_corpus_without_content_words_or_without_profiles_does_not_crash():
    model = LexicalModel().fit({"a": "The and of.", "b": "It is, it was."})
    sims = model.similarity(model.transform("smart lighting"), ["a", "b", "c"])
    assert sims.shape == (3,)
    model.update({"c": "smart lighting pilots"})
    model.remove(["a"])
    empty = LexicalModel().fit({})
    assert empty.similarity(empty.transform("smart lighting"), []).shape == (0,)


def test_a_corpus_without_content_words_matches_nothing():
    model = LexicalModel().fit({"a": "The and of.", "b": "It is, it was."})
    model.update({"c": "smart lighting pilots"})
    query = model.transform("hydrogen buses")
    assert model.similarity(query, ["a", "b", "c"]).tolist() == [0.0, 0.0, 0.0]
    assert model.shared_terms(query, "c") == []


def test_many_updates_and_removals_leave_each_profile_as_one_update_would(model):
    words = (
        "digital government services voting oasc participatory budgeting cycling lanes public transport food".split()
    )
    latest = dict(CORPUS)
    for i in range(400):  # enough rewrites for the rows to be compacted several times
        key = list(CORPUS)[i % len(CORPUS)] if i % 3 else f"new-{i}"
        latest[key] = " ".join(words[(i + j) % len(words)] for j in range(1 + i % 5))
        model.update({key: latest[key]})
        if i % 4 == 0 and f"new-{i - 12}" in latest:
            model.remove([f"new-{i - 12}"])
            del latest[f"new-{i - 12}"]
    once = LexicalModel().fit(CORPUS)
    once.update(latest)
    keys = list(latest) + ["new-0", "nowhere"]
    for text in (QUERY, "public transport and cycling lanes", "participatory budgeting"):
        query = model.transform(text)
        np.testing.assert_array_equal(model.similarity(query, keys), once.similarity(query, keys))
        assert [model.shared_terms(query, k) for k in keys] == [once.shared_terms(query, k) for k in keys]
    assert (model.matrix(keys) != once.matrix(keys)).nnz == 0
    assert model.n_rows_ <= 2 * len(latest) + 64  # replaced rows do not pile up


def test_a_block_of_pairs_gives_each_query_its_own_cosines_to_the_bit_and_its_shared_terms(model):
    texts = [CORPUS["lisbon"], QUERY, "", CORPUS["porto"] + " OASC"]
    queries = model.query_rows(["lisbon", None, None, "missing"], texts)
    keys = [*CORPUS, "nowhere"]
    query_of = np.repeat(np.arange(len(texts)), len(keys))
    overlap = model.overlap(queries, query_of, keys * len(texts))
    cosines = model.pair_similarity(overlap)
    pairs = np.arange(len(query_of))
    terms = model.pair_shared_terms(overlap, pairs, top=3)
    for i, text in enumerate(texts):
        query = model.row("lisbon") if i == 0 else model.transform(text)
        assert (queries[i] != query).nnz == 0  # a stored row is reused, other texts are transformed
        own = slice(i * len(keys), (i + 1) * len(keys))
        # what a sparse product with the query as a dense vector gives, bit for bit
        expected = np.asarray(model.matrix(keys) @ query.toarray().ravel()).astype(np.float32)
        assert cosines[own].tobytes() == expected.tobytes()
        assert terms[own] == model.shared_terms_many(query, keys, top=3)
    assert model.pair_shared_terms(overlap, pairs[::-1][:3], top=2) == [t[:2] for t in terms[::-1][:3]]


def test_a_space_taken_on_from_stored_statistics_scores_every_pair_to_the_bit_as_the_fit_did(model):
    """The batch job fits; the live index takes its statistics on and scores the same texts alike."""
    stats = model.statistics()
    assert stats.n_fitted == len(CORPUS) and len(stats.terms) == len(stats.idf) == len(model.terms_)
    taken = LexicalModel().with_statistics(stats, CORPUS)
    keys = list(CORPUS)
    assert (taken.matrix(keys) != model.matrix(keys)).nnz == 0
    np.testing.assert_array_equal(taken.matrix(keys).indices, model.matrix(keys).indices)
    for text in (QUERY, CORPUS["porto"], "m-voting OASC words the fit never saw"):
        np.testing.assert_array_equal(
            taken.similarity(taken.transform(text), keys), model.similarity(model.transform(text), keys)
        )
        assert [taken.shared_terms(taken.transform(text), k) for k in keys] == [
            model.shared_terms(model.transform(text), k) for k in keys
        ]
    assert not taken.outgrown()  # it counts the texts the statistics were fitted on


def test_a_fitted_row_is_the_row_of_its_text_transformed(model):
    for key, text in CORPUS.items():
        assert (model.row(key) != model.transform(text)).nnz == 0
        np.testing.assert_array_equal(model.row(key).indices, model.transform(text).indices)


def test_statistics_come_back_from_their_bytes_exactly(model):
    stats = model.statistics()
    back = LexicalStatistics.unpacked(stats.packed())
    assert back.terms == stats.terms and back.n_fitted == stats.n_fitted
    np.testing.assert_array_equal(back.idf, stats.idf)
    empty = LexicalModel().fit({}).statistics()  # its one term is a NUL no text contains
    assert LexicalStatistics.unpacked(empty.packed()).terms == empty.terms
