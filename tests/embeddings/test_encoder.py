"""The real all-MiniLM-L6-v2 behind Encoder and CachedEncoder: unit float32 rows that put related
phrases close, and a cache that encodes each distinct text once per model."""

import numpy as np
import pytest

from embeddings import CachedEncoder, Encoder, MemoryVectorCache, load_encoder, text_key

LIGHTING = "connected LED street lighting"
RELATED = "intelligent public lighting"
UNRELATED = "hydrogen fuel cell buses"


class TestEncoder:
    def test_rows_are_unit_float32_of_dim_384(self, encoder):
        vectors = encoder.encode([LIGHTING, RELATED, UNRELATED])
        assert encoder.dim == 384
        assert vectors.shape == (3, 384)
        assert vectors.dtype == np.float32
        assert vectors.flags["C_CONTIGUOUS"]
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    def test_related_phrases_are_closer_than_unrelated_ones(self, encoder):
        lighting, related, unrelated = encoder.encode([LIGHTING, RELATED, UNRELATED])
        assert lighting @ related > lighting @ unrelated + 0.3
        assert related @ lighting > related @ unrelated + 0.3

    def test_empty_input_gives_an_empty_matrix_of_the_right_width(self, encoder):
        vectors = encoder.encode([])
        assert vectors.shape == (0, 384)
        assert vectors.dtype == np.float32

    def test_a_phrase_encodes_the_same_alone_or_in_a_batch(self, encoder):
        # cached vectors come from whichever batch first met the text, so batching must not matter
        batch = encoder.encode([LIGHTING, "a much longer sentence about water reuse in dense urban districts"])
        alone = encoder.encode([LIGHTING])
        np.testing.assert_allclose(batch[0], alone[0], atol=1e-5)

    def test_the_model_is_named_and_identified(self, encoder):
        assert encoder.name == "all-MiniLM-L6-v2"
        assert encoder.model_id.startswith("all-MiniLM-L6-v2@")
        assert load_encoder() is encoder  # loaded once per process

    def test_the_weights_load_on_first_encode_not_before(self, encoder):
        fresh = Encoder(encoder.path, model_id=encoder.model_id, name=encoder.name)
        assert not fresh.loaded
        cached = CachedEncoder(fresh, MemoryVectorCache())
        cached.cache.put_many(fresh.model_id, {text_key(LIGHTING): encoder.encode([LIGHTING])[0]})
        cached.encode([LIGHTING])  # a cache hit needs no model
        assert not fresh.loaded
        np.testing.assert_allclose(fresh.encode([RELATED]), encoder.encode([RELATED]), atol=1e-6)
        assert fresh.loaded

    def test_a_missing_model_directory_is_reported(self, tmp_path):
        with pytest.raises(FileNotFoundError):
            load_encoder(str(tmp_path / "no-such-model"))


class TestCachedEncoder:
    def test_each_distinct_text_is_encoded_once(self, encoder):
        cached = CachedEncoder(encoder, MemoryVectorCache())
        first = cached.encode([LIGHTING, RELATED, UNRELATED])
        assert cached.encoded_count_ == 3
        again = cached.encode([UNRELATED, LIGHTING])
        assert cached.encoded_count_ == 3
        assert np.array_equal(again, first[[2, 0]])

    def test_cached_vectors_are_the_model_vectors(self, encoder):
        cached = CachedEncoder(encoder, MemoryVectorCache())
        cached.encode([LIGHTING])
        np.testing.assert_allclose(cached.encode([LIGHTING]), encoder.encode([LIGHTING]), atol=1e-5)

    def test_duplicates_within_one_call_are_encoded_once(self, encoder):
        cached = CachedEncoder(encoder, MemoryVectorCache())
        vectors = cached.encode([LIGHTING, RELATED, LIGHTING, f"  {LIGHTING}\n"])
        assert cached.encoded_count_ == 2
        assert vectors.shape == (4, 384)
        assert np.array_equal(vectors[0], vectors[2])
        assert np.array_equal(vectors[0], vectors[3])
        assert not np.array_equal(vectors[0], vectors[1])

    def test_a_differently_spaced_phrase_is_a_cache_hit(self, encoder):
        cached = CachedEncoder(encoder, MemoryVectorCache())
        cached.encode([RELATED])
        cached.encode(["intelligent   public\tlighting "])
        assert cached.encoded_count_ == 1

    def test_another_model_id_misses_the_cache_and_re_encodes(self, encoder):
        cache = MemoryVectorCache()
        first = CachedEncoder(encoder, cache)
        first.encode([LIGHTING, RELATED])
        other = CachedEncoder(Encoder(encoder.path, model_id="other-model@0", name="other"), cache)
        vectors = other.encode([LIGHTING, RELATED])
        assert other.encoded_count_ == 2
        assert vectors.shape == (2, 384)
        assert len(cache.vectors_) == 4  # one entry per (model, text)
        other.encode([LIGHTING])
        first.encode([RELATED])
        assert (first.encoded_count_, other.encoded_count_) == (2, 2)

    def test_empty_input_encodes_nothing(self, encoder):
        cached = CachedEncoder(encoder, MemoryVectorCache())
        vectors = cached.encode([])
        assert vectors.shape == (0, 384) and vectors.dtype == np.float32
        assert cached.encoded_count_ == 0

    def test_changing_a_returned_matrix_does_not_change_the_cache(self, encoder):
        cached = CachedEncoder(encoder, MemoryVectorCache())
        out = cached.encode([LIGHTING])
        out[:] = 0.0
        np.testing.assert_allclose(np.linalg.norm(cached.encode([LIGHTING]), axis=1), 1.0, atol=1e-5)

    def test_it_reports_the_wrapped_model(self, encoder):
        cached = CachedEncoder(encoder, MemoryVectorCache())
        assert (cached.model_id, cached.name, cached.dim) == (encoder.model_id, encoder.name, 384)
