"""The batch's encoding stage: missing texts are encoded by a spawned child into the database cache,
so the process that goes on to score never loads the model."""

import numpy as np
import pytest

from embeddings import CachedEncoder, Encoder, text_key
from service.batch_encoding import EncodingFailed, encode_missing, missing_texts
from service.db import make_engine, make_sessionmaker, migrate
from service.vector_cache import DatabaseVectorCache

TEXTS = ["connected LED street lighting", "hydrogen fuel cell buses", "connected LED street lighting", "circular economy hubs"]


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_only_texts_without_a_cached_vector_are_missing(sessions, encoder):
    DatabaseVectorCache(sessions).put_many(encoder.model_id, {text_key(TEXTS[1]): encoder.encode([TEXTS[1]])[0]})
    assert missing_texts(sessions, encoder.model_id, TEXTS) == [TEXTS[0], TEXTS[3]]


def test_a_child_process_encodes_the_missing_texts_and_this_one_never_loads_the_model(sessions, encoder):
    fresh = Encoder(encoder.path, model_id=encoder.model_id, name=encoder.name)
    progress = []
    assert encode_missing(sessions, fresh, TEXTS, on_progress=lambda done, total: progress.append((done, total))) == 3
    assert not fresh.loaded
    assert progress[-1] == (3, 3)
    cached = CachedEncoder(fresh, DatabaseVectorCache(sessions))
    np.testing.assert_allclose(cached.encode(TEXTS), encoder.encode(TEXTS), atol=1e-5)  # all from the cache
    assert cached.encoded_count_ == 0 and not fresh.loaded
    assert encode_missing(sessions, fresh, TEXTS) == 0  # nothing left: no child at all


def test_a_failing_child_fails_the_stage_and_caches_nothing(sessions, encoder, tmp_path):
    (tmp_path / "not-a-model").mkdir()
    broken = Encoder(tmp_path / "not-a-model", model_id="broken@0", name="broken")
    with pytest.raises(EncodingFailed):
        encode_missing(sessions, broken, TEXTS)
    assert missing_texts(sessions, "broken@0", TEXTS) == [TEXTS[0], TEXTS[1], TEXTS[3]]
