"""The live index: exhaustive scores, filters, writes, and the cascade agreeing with exhaustive."""

import pickle
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.index import PhraseIndex, Scored
from matching.scoring import ScoringParams, coverage_block, direction_roles, fuse_directions
from matching.types import CandidateFilter, Kind, PhraseRole, ProfileMeta
from matching.vectors import ProfileVectors

DIM = 96
PARAMS = ScoringParams()
CITY_CITY = direction_roles(Kind.CITY, Kind.CITY)
CITY_ORG = direction_roles(Kind.CITY, Kind.ORGANISATION)
ORG_CITY = direction_roles(Kind.ORGANISATION, Kind.CITY)
BLOCS = ("EU", "Asia", "Africa")
COUNTRIES = {"EU": ("Spain", "Italy"), "Asia": ("India", "Japan"), "Africa": ("Kenya",)}
ORG_TYPES = ("university", "ngo")


class Corpus:
    """Clustered random phrase vectors: themes → topics → noisy phrases, like real profiles."""

    def __init__(self, seed: int, dim: int = DIM, n_themes: int = 12, topics_per_theme: int = 8):
        self.rng = np.random.default_rng(seed)
        self.dim = dim
        themes = _unit(self.rng.standard_normal((n_themes, dim)))
        topics = themes[:, None, :] + 0.7 * self.rng.standard_normal((n_themes, topics_per_theme, dim)) / np.sqrt(dim)
        self.topics = _unit(topics.reshape(-1, dim)).reshape(n_themes, topics_per_theme, dim)
        self.n = 0

    def profile(self, n_phrases: tuple[int, int, int] | None = None, kind: str | None = None):
        rng = self.rng
        kind = kind or ("city" if rng.random() < 0.6 else "organisation")
        # some profiles lack interests or a description: scoring falls back for them
        counts = n_phrases or (int(rng.integers(0, 5)), int(rng.integers(1, 5)), int(rng.integers(0, 4)))
        themes = rng.choice(len(self.topics), size=rng.integers(1, 4), replace=False)
        roles, vectors, texts = [], [], []
        for role, count in zip(PhraseRole, counts):
            for _ in range(count):
                topic = self.topics[rng.choice(themes), rng.integers(self.topics.shape[1])]
                vectors.append(topic + 0.6 * rng.standard_normal(self.dim) / np.sqrt(self.dim))
                roles.append(role)
                texts.append(f"{role.name.lower()} {len(texts)}")
        vectors = _unit(np.array(vectors, dtype=np.float32).reshape(-1, self.dim))
        bloc = BLOCS[rng.integers(len(BLOCS))]
        meta = ProfileMeta(
            kind=kind,
            bloc=bloc,
            country=COUNTRIES[bloc][rng.integers(len(COUNTRIES[bloc]))],
            org_type=None if kind == "city" else ORG_TYPES[rng.integers(len(ORG_TYPES))],
        )
        self.n += 1
        pv = ProfileVectors(vectors=vectors, roles=np.array(roles, dtype=np.int8), texts=tuple(texts))
        return f"k{self.n:05d}", pv, meta

    def entries(self, n: int):
        return [self.profile() for _ in range(n)]


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def brute_force(entries, query: ProfileVectors, roles, filt: CandidateFilter) -> dict[str, float]:
    """Dense score of every allowed candidate, one candidate at a time, straight from coverage_block."""
    scores = {}
    for key, pv, meta in entries:
        if not _allowed(key, pv, meta, filt):
            continue
        sims = query.vectors @ pv.vectors.T
        fwd, bwd = coverage_block(sims, query.roles, pv.roles, np.array([0, len(pv)]), roles, PARAMS)
        scores[key] = float(fuse_directions(fwd, bwd, PARAMS.fusion)[0] if bwd is not None else fwd[0])
    return scores


def _allowed(key: str, pv: ProfileVectors, meta: ProfileMeta, filt: CandidateFilter) -> bool:
    return (
        len(pv) > 0
        and meta.kind == filt.kind
        and (filt.bloc is None or meta.bloc == filt.bloc)
        and (filt.exclude_bloc is None or meta.bloc != filt.exclude_bloc)
        and (filt.country is None or meta.country == filt.country)
        and (filt.org_type is None or meta.org_type == filt.org_type)
        and key not in filt.exclude_keys
    )


def exact_index(entries) -> PhraseIndex:
    return PhraseIndex(DIM).bulk_load(entries)


@pytest.fixture(scope="module")
def small():
    corpus = Corpus(seed=1)
    entries = corpus.entries(300)
    return corpus, entries, exact_index(entries)


@pytest.fixture(scope="module")
def large():
    """A few thousand profiles, over the exhaustive threshold, so top_k runs the cascade."""
    corpus = Corpus(seed=2)
    entries = corpus.entries(3000)
    index = PhraseIndex(DIM, exact_below_rows=5_000, shortlist_size=300, rescore_size=60, reduced_dim=48, n_codes=256)
    return corpus, entries, index.bulk_load(entries)


@pytest.mark.parametrize("roles, kind", [(CITY_CITY, "city"), (CITY_ORG, "organisation"), (ORG_CITY, "city")])
def test_exact_scores_equal_per_candidate_coverage(small, roles, kind):
    corpus, entries, index = small
    query = corpus.profile()[1]
    filt = CandidateFilter(kind=kind)
    expected = brute_force(entries, query, roles, filt)

    got = index.top_k(query, roles, PARAMS, k=len(entries), filt=filt, exact=True)

    assert {s.key for s in got} == set(expected)
    for s in got:
        assert s.dense == pytest.approx(expected[s.key], abs=1e-5)
        assert (s.backward is None) == (not roles.reciprocal)
    assert [(-s.dense, s.key) for s in got] == sorted((-s.dense, s.key) for s in got)


def test_reciprocal_dense_is_fused_forward_and_backward(small):
    corpus, _, index = small
    for s in index.top_k(corpus.profile()[1], CITY_CITY, PARAMS, 20, CandidateFilter(kind="city"), exact=True):
        assert s.dense == pytest.approx(2 * s.forward * s.backward / (s.forward + s.backward), abs=1e-6)


def test_small_corpus_is_always_exhaustive(small):
    corpus, entries, index = small
    query = corpus.profile()[1]
    filt = CandidateFilter(kind="city")
    assert index.top_k(query, CITY_CITY, PARAMS, 10, filt) == index.top_k(
        query, CITY_CITY, PARAMS, 10, filt, exact=True
    )


def test_filters_restrict_candidates(small):
    corpus, entries, index = small
    query = corpus.profile()[1]
    own_key, _, own_meta = entries[0]
    partner = next(k for k, _, m in entries[1:] if m.kind == "city" and m.bloc != own_meta.bloc)
    filters = [
        CandidateFilter(kind="city", exclude_bloc=own_meta.bloc, exclude_keys=frozenset({own_key, partner})),
        CandidateFilter(kind="organisation", bloc="Asia", org_type="ngo"),
        CandidateFilter(kind="city", country="Spain"),
        CandidateFilter(kind="organisation", exclude_bloc="EU", country="Kenya"),
    ]
    for filt in filters:
        expected = brute_force(entries, query, CITY_CITY if filt.kind == "city" else CITY_ORG, filt)
        got = index.top_k(query, CITY_CITY if filt.kind == "city" else CITY_ORG, PARAMS, 1000, filt)
        assert {s.key for s in got} == set(expected)
        assert expected  # the filter is not trivially empty


def test_unknown_filter_values_match_nothing_or_exclude_nothing(small):
    corpus, entries, index = small
    query = corpus.profile()[1]
    assert index.top_k(query, CITY_CITY, PARAMS, 10, CandidateFilter(kind="city", bloc="Atlantis")) == []
    everything = index.top_k(query, CITY_CITY, PARAMS, 10, CandidateFilter(kind="city"))
    assert (
        index.top_k(query, CITY_CITY, PARAMS, 10, CandidateFilter(kind="city", exclude_bloc="Atlantis")) == everything
    )


def test_never_suggests_itself_when_excluded(small):
    _, entries, index = small
    key, own, meta = next(e for e in entries if e[2].kind == "city")
    with_self = index.top_k(own, CITY_CITY, PARAMS, 5, CandidateFilter(kind="city"))
    assert with_self[0].key == key  # its own phrases cover it best

    without = index.top_k(own, CITY_CITY, PARAMS, 5, CandidateFilter(kind="city", exclude_keys=frozenset({key})))
    assert key not in {s.key for s in without}


def test_upsert_replaces_vectors_and_meta():
    corpus = Corpus(seed=3)
    entries = corpus.entries(50)
    index = exact_index(entries)
    key = entries[0][0]
    _, new_vectors, _ = corpus.profile(kind="city")
    new_meta = ProfileMeta(kind="organisation", bloc="Asia", country="Japan", org_type="ngo")

    index.upsert(key, new_vectors, new_meta)

    assert len(index) == 50
    np.testing.assert_array_equal(index.vectors_of(key).vectors, new_vectors.vectors)
    assert index.vectors_of(key).texts == new_vectors.texts
    assert index.meta_of(key) == new_meta
    query = corpus.profile()[1]
    orgs = {s.key: s.dense for s in index.top_k(query, CITY_ORG, PARAMS, 100, CandidateFilter(kind="organisation"))}
    expected = brute_force([(key, new_vectors, new_meta)], query, CITY_ORG, CandidateFilter(kind="organisation"))
    assert orgs[key] == pytest.approx(expected[key], abs=1e-5)
    assert key not in {s.key for s in index.top_k(query, CITY_CITY, PARAMS, 100, CandidateFilter(kind="city"))}


def test_remove_forgets_the_profile():
    corpus = Corpus(seed=4)
    entries = corpus.entries(40)
    index = exact_index(entries)
    key, vectors, meta = entries[3]

    index.remove(key)
    index.remove("never-there")

    assert key not in index and len(index) == 39 and key not in set(index.keys())
    with pytest.raises(KeyError):
        index.vectors_of(key)
    got = index.top_k(vectors, CITY_CITY, PARAMS, 100, CandidateFilter(kind=meta.kind))
    assert key not in {s.key for s in got}


def test_many_writes_compact_and_stay_consistent():
    corpus = Corpus(seed=5)
    entries = corpus.entries(400)
    index = PhraseIndex(DIM, exact_below_rows=500, shortlist_size=60, rescore_size=40).bulk_load(entries)
    latest = {k: (v, m) for k, v, m in entries}
    rng = np.random.default_rng(0)
    for _ in range(600):  # rewrites most profiles, grows past capacity, compacts several times
        key = f"k{rng.integers(1, 700):05d}"
        if rng.random() < 0.15:
            index.remove(key)
            latest.pop(key, None)
        else:
            _, vectors, meta = corpus.profile()
            index.upsert(key, vectors, meta)
            latest[key] = (vectors, meta)

    assert set(index.keys()) == set(latest) and len(index) == len(latest)
    storage = index._storage  # compaction is storage's business: looked at from inside
    assert storage.dead_rows_ <= index.compact_ratio * storage.n_rows_
    for key, (vectors, meta) in latest.items():
        np.testing.assert_array_equal(index.vectors_of(key).vectors, vectors.vectors)
        assert index.meta_of(key) == meta
    query = corpus.profile()[1]
    filt = CandidateFilter(kind="city")
    expected = brute_force([(k, v, m) for k, (v, m) in latest.items()], query, CITY_CITY, filt)
    got = index.top_k(query, CITY_CITY, PARAMS, len(latest), filt, exact=True)
    assert {s.key: s.dense for s in got} == pytest.approx(expected, abs=1e-5)


def test_index_grown_by_upserts_alone_switches_to_the_cascade():
    corpus = Corpus(seed=6)
    index = PhraseIndex(DIM, exact_below_rows=300, shortlist_size=50, rescore_size=20, n_codes=64)
    entries = corpus.entries(900)
    for key, vectors, meta in entries:
        index.upsert(key, vectors, meta)

    assert index.fitted
    assert index._cascade.fitted_rows_ >= index._storage.n_rows_ / 4  # refitted as it grew
    filt = CandidateFilter(kind="city")
    agree = sum(
        index.top_k(query, CITY_CITY, PARAMS, 5, filt) == index.top_k(query, CITY_CITY, PARAMS, 5, filt, exact=True)
        for _, query, _ in entries[:20]
    )
    assert agree >= 19


def test_ties_are_ordered_by_key_on_both_paths(large):
    corpus, _, index = large
    _, twin, meta = corpus.profile(kind="city")
    for key in ("tie-c", "tie-a", "tie-b"):
        index.upsert(key, twin, meta)
    try:
        filt = CandidateFilter(kind="city")
        for exact in (True, False):
            got = index.top_k(twin, CITY_CITY, PARAMS, 3, filt, exact=exact)
            assert [s.key for s in got] == ["tie-a", "tie-b", "tie-c"]
            assert got[0].dense == got[1].dense == got[2].dense
    finally:
        for key in ("tie-a", "tie-b", "tie-c"):
            index.remove(key)


def test_cascade_top10_matches_exhaustive(large):
    corpus, entries, index = large
    assert index.fitted  # large enough for the cascade
    rng = np.random.default_rng(7)
    agree = total = 0
    for i in rng.choice(len(entries), 60, replace=False):
        key, vectors, meta = entries[i]
        for roles, kind in ((CITY_CITY, "city"), (CITY_ORG, "organisation")):
            filt = CandidateFilter(
                kind=kind, exclude_bloc=meta.bloc if kind == "city" else None, exclude_keys=frozenset({key})
            )
            fast = index.top_k(vectors, roles, PARAMS, 10, filt)
            exact = index.top_k(vectors, roles, PARAMS, 10, filt, exact=True)
            assert all(isinstance(s, Scored) for s in fast)
            agree += [s.key for s in fast] == [s.key for s in exact]
            total += 1
    assert agree >= 0.99 * total


def test_narrowed_pools_are_the_narrower_filters_own_top_k(large):
    """Pools of narrower filters shortlisted from the wider filter's coded scores: each is the
    exhaustive top of its own filter, and a filter that allows nothing gets an empty pool."""
    corpus, entries, index = large
    rng = np.random.default_rng(11)
    agree = total = 0
    for i in rng.choice(len(entries), 30, replace=False):
        key, vectors, meta = entries[i]
        filt = CandidateFilter(kind="organisation", exclude_keys=frozenset({key}))
        narrower = [
            replace(filt, country=meta.country),
            replace(filt, bloc=meta.bloc),
            replace(filt, country="Atlantis"),
        ]
        pools = index.top_k_narrowed(vectors, CITY_ORG, PARAMS, 10, filt, narrower, pool=20)
        assert len(pools) == 4 and pools[-1] == []
        assert pools[0] == index.top_k(vectors, CITY_ORG, PARAMS, 10, filt, pool=20)
        for f, got in zip(narrower, pools[1:]):
            exact = index.top_k(vectors, CITY_ORG, PARAMS, 10, f, exact=True, pool=20)
            assert {s.key for s in got} <= set(index.keys()) and all(
                _allowed(s.key, index.vectors_of(s.key), index.meta_of(s.key), f) for s in got
            )
            agree += [s.key for s in got] == [s.key for s in exact]
            total += 1
    assert agree == total, f"{agree} of {total}"


def test_cascade_scores_are_exact(large):
    corpus, _, index = large
    query = corpus.profile()[1]
    filt = CandidateFilter(kind="city")
    exact = {s.key: s for s in index.top_k(query, CITY_CITY, PARAMS, 50, filt, exact=True)}
    for s in index.top_k(query, CITY_CITY, PARAMS, 10, filt):
        if s.key in exact:
            assert (s.dense, s.forward, s.backward) == pytest.approx(
                (exact[s.key].dense, exact[s.key].forward, exact[s.key].backward), abs=1e-6
            )


def test_empty_inputs(small):
    corpus, _, index = small
    empty = ProfileVectors(vectors=np.zeros((0, DIM), np.float32), roles=np.zeros(0, np.int8), texts=())
    assert index.top_k(empty, CITY_CITY, PARAMS, 10, CandidateFilter(kind="city")) == []
    assert index.top_k(corpus.profile()[1], CITY_CITY, PARAMS, 0, CandidateFilter(kind="city")) == []

    index.upsert("blank", empty, ProfileMeta(kind="city", bloc="EU", country="Spain"))
    try:
        assert "blank" in index and len(index.vectors_of("blank")) == 0
        got = index.top_k(corpus.profile()[1], CITY_CITY, PARAMS, 1000, CandidateFilter(kind="city"))
        assert "blank" not in {s.key for s in got}
    finally:
        index.remove("blank")


def test_scoring_given_candidates_equals_the_exhaustive_path(large):
    corpus, entries, index = large
    for key, vectors, _ in entries[:5]:
        for roles, filt in (
            (CITY_ORG, CandidateFilter(kind="organisation")),
            (CITY_CITY, CandidateFilter(kind="city", exclude_keys=frozenset({key}))),
        ):
            among = index.top_k_among(vectors, roles, PARAMS, 10, index.allowed(filt))
            assert among == index.top_k(vectors, roles, PARAMS, 10, filt, exact=True)
    assert index.top_k_among(vectors, CITY_CITY, PARAMS, 10, np.zeros(0, dtype=np.int64)) == []


def test_rescoring_reaches_past_its_first_candidates_only_where_they_could_reach_the_pool(large, monkeypatch):
    """From as many rescored as the pool holds, the margin brings in whatever could still belong:
    the pool is the exhaustive one, and far fewer than all candidates are scored exactly."""
    corpus, entries, index = large
    slots = index.allowed(CandidateFilter(kind="city"))
    rescored = []
    exact_scores = index._cascade._exact
    monkeypatch.setattr(
        index._cascade,
        "_exact",
        lambda q, q_roles, at, *rest: rescored.append(len(at)) or exact_scores(q, q_roles, at, *rest),
    )
    deeper = 0
    for _, vectors, _ in entries[:20]:
        rescored.clear()
        got = index.top_k_among(vectors, CITY_CITY, PARAMS, 10, slots, pool=30, rescore=30)
        counts = list(rescored)
        assert got == index.top_k_among(vectors, CITY_CITY, PARAMS, 10, slots, pool=30)
        assert counts[0] == 30 and sum(counts) <= 8 * 30 < len(slots)
        deeper += len(counts) > 1
    assert 0 < deeper  # some queries needed more than the first 30


def test_pickles_for_worker_processes(large):
    corpus, _, index = large
    query = corpus.profile()[1]
    filt = CandidateFilter(kind="city")
    copy = pickle.loads(pickle.dumps(index))
    assert copy.top_k(query, CITY_CITY, PARAMS, 10, filt) == index.top_k(query, CITY_CITY, PARAMS, 10, filt)


def test_profiles_without_interests_are_scored_on_all_phrases(small):
    corpus, entries, index = small
    query = corpus.profile(n_phrases=(0, 3, 2), kind="city")[1]
    filt = CandidateFilter(kind="city")
    expected = brute_force(entries, query, CITY_CITY, filt)
    got = index.top_k(query, CITY_CITY, PARAMS, len(expected), filt)
    assert {s.key: s.dense for s in got} == pytest.approx(expected, abs=1e-5)
    assert any(not (v.roles == PhraseRole.INTEREST).any() for k, v, m in entries if k in expected)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        ProfileMeta(kind="town", bloc="EU", country="Spain")
    with pytest.raises(ValueError):
        CandidateFilter(kind="people")
    index = PhraseIndex(DIM)
    wrong = ProfileVectors(vectors=np.zeros((2, 3), np.float32), roles=np.zeros(2, np.int8), texts=("a", "b"))
    with pytest.raises(ValueError):
        index.upsert("x", wrong, ProfileMeta(kind="city", bloc="EU", country="Spain"))


# A small index where every request runs the cascade, so both paths are checked against the filters.
_PROPERTY_CORPUS = Corpus(seed=9)
_PROPERTY_ENTRIES = _PROPERTY_CORPUS.entries(600)
_PROPERTY_INDEX = PhraseIndex(DIM, exact_below_rows=0, shortlist_size=40, rescore_size=20).bulk_load(_PROPERTY_ENTRIES)
_META = {k: (v, m) for k, v, m in _PROPERTY_ENTRIES}

optional = lambda values: st.none() | st.sampled_from(values)  # noqa: E731


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["city", "organisation"]),
    bloc=optional(BLOCS + ("Atlantis",)),
    exclude_bloc=optional(BLOCS),
    country=optional(("Spain", "India", "Kenya", "Nowhere")),
    org_type=optional(ORG_TYPES),
    excluded=st.sets(st.sampled_from(sorted(_META)), max_size=30),
    exact=st.booleans(),
    k=st.integers(1, 5),  # small k keeps every stage of the cascade in play (shortlist ≥ 50·k)
    query_seed=st.integers(0, 2**16),
)
def test_filters_are_never_violated(kind, bloc, exclude_bloc, country, org_type, excluded, exact, k, query_seed):
    filt = CandidateFilter(
        kind=kind,
        bloc=bloc,
        exclude_bloc=exclude_bloc,
        country=country,
        org_type=org_type,
        exclude_keys=frozenset(excluded),
    )
    query = Corpus(seed=query_seed).profile()[1]
    roles = CITY_CITY if kind == "city" else CITY_ORG

    got = _PROPERTY_INDEX.top_k(query, roles, PARAMS, k, filt, exact=exact)

    allowed = {key for key, (v, m) in _META.items() if _allowed(key, v, m, filt)}
    assert {s.key for s in got} <= allowed
    assert len(got) == min(k, len(allowed))
    assert len({s.key for s in got}) == len(got)
    assert [(-s.dense, s.key) for s in got] == sorted((-s.dense, s.key) for s in got)


def test_allowed_among_is_each_filters_mask_at_the_given_slots():
    index = PhraseIndex(DIM).bulk_load(_PROPERTY_ENTRIES)
    keys = list(index.keys())
    filters = [
        CandidateFilter(kind="city"),
        CandidateFilter(
            kind="city", exclude_bloc=index.meta_of(keys[0]).bloc, exclude_keys=frozenset({keys[0], keys[1], "gone"})
        ),
        CandidateFilter(kind="organisation", country=index.meta_of(keys[2]).country),
        CandidateFilter(kind="organisation", org_type="university", bloc="nowhere"),
        CandidateFilter(kind="city", bloc=index.meta_of(keys[3]).bloc, exclude_keys=frozenset({keys[3]})),
    ]
    index.remove(keys[4])  # a tombstoned slot among those asked about
    slots = np.arange(0, index._storage.n_slots_, 3)
    expected = np.stack([index.allowed_mask(f)[slots] for f in filters])
    assert np.array_equal(index.allowed_among(filters, slots), expected)
    assert expected.any(axis=1)[:3].all()  # the filters do let some through
