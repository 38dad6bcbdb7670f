"""The encoder whose model lives in a spawned child: the batch's cache misses are encoded there, so
the process that goes on to score never loads the model."""

import numpy as np
import pytest

from embeddings import CachedEncoder, ChildProcessEncoder, Encoder, EncodingFailed, MemoryVectorCache, text_key

TEXTS = [
    "connected LED street lighting",
    "hydrogen fuel cell buses",
    "connected LED street lighting",
    "circular economy hubs",
]


def test_the_child_encodes_as_the_model_does_and_this_process_never_loads_it(encoder):
    fresh = Encoder(encoder.path, model_id=encoder.model_id, name=encoder.name)
    with ChildProcessEncoder(fresh) as child:
        assert not child.started
        np.testing.assert_allclose(child.encode(TEXTS), encoder.encode(TEXTS), atol=1e-5)
        assert child.encode([]).shape == (0, 384)
        assert (child.model_id, child.name, child.dim) == (encoder.model_id, encoder.name, 384)
    assert not child.started and not fresh.loaded


def test_only_cache_misses_reach_the_child_and_a_fully_cached_call_never_starts_it(encoder):
    cache = MemoryVectorCache()
    cache.put_many(encoder.model_id, {text_key(TEXTS[1]): encoder.encode([TEXTS[1]])[0]})
    with ChildProcessEncoder(encoder) as child:
        cached = CachedEncoder(child, cache)
        cached.encode([TEXTS[1]])
        assert not child.started
        cached.encode(TEXTS)
        assert child.started
        assert cached.encoded_count_ == 2  # the two distinct texts the cache lacked


def test_a_failing_child_raises_and_caches_nothing(encoder, tmp_path):
    (tmp_path / "not-a-model").mkdir()
    broken = Encoder(tmp_path / "not-a-model", model_id="broken@0", name="broken")
    cache = MemoryVectorCache()
    with ChildProcessEncoder(broken) as child, pytest.raises(EncodingFailed):
        CachedEncoder(child, cache).encode(TEXTS)
    assert cache.vectors_ == {}
