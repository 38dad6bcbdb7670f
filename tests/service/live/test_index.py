"""The engine as a server and a batch run build it: from cached vectors, kept out of the collector's way."""

import gc

from fastapi.testclient import TestClient

from embeddings import CachedEncoder, Encoder, MemoryVectorCache
from matching.scoring import Kind
from service.app import create_app
from service.live.profiles_text import ProfileText, many_profile_vectors
from service.live.recommenders import build_recommender

PROFILES = [
    ProfileText(
        "eindhoven",
        Kind.CITY,
        "Eindhoven",
        "EU",
        "NL",
        None,
        "A city of light and design.",
        ("smart street lighting",),
        ("innovation parks",),
    ),
    ProfileText(
        "seoul", Kind.CITY, "Seoul", "AS", "KR", None, "", ("innovation districts",), ("connected LED lighting",)
    ),
    ProfileText(
        "philips", Kind.ORGANISATION, "Philips", "EU", "NL", "company", "", (), ("intelligent public lighting",)
    ),
]


def test_a_build_from_cached_vectors_never_loads_the_weights(encoder):
    cache = MemoryVectorCache()
    many_profile_vectors(CachedEncoder(encoder, cache), PROFILES)  # an earlier run cached every text
    fresh = Encoder(encoder.path, model_id=encoder.model_id, name=encoder.name)
    cached = CachedEncoder(fresh, cache)
    recommender = build_recommender(PROFILES, cached, tagger=None)
    assert not fresh.loaded
    assert cached.encoded_count_ == 0
    assert sorted(recommender.index.keys()) == ["eindhoven", "philips", "seoul"]
    assert recommender.index.dim == 384


def test_the_server_keeps_its_index_objects_out_of_the_collector_while_it_runs(settings):
    gc.unfreeze()
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").status_code == 200
        assert gc.get_freeze_count() > 0  # startup froze what it built
    assert gc.get_freeze_count() == 0  # shutdown hands them back
