"""The ONNX backends: an export made once from the packaged weights, loaded offline, whose vectors are
the torch vectors' within quantisation error and are cached under a model id of their own."""

import sys

import numpy as np
import pytest

from embeddings import (
    CachedEncoder,
    ChildProcessEncoder,
    Encoder,
    MemoryVectorCache,
    MissingExport,
    export_onnx,
    load_encoder,
)
from embeddings.onnx_export import FP32_FILE, INT8_FILE, is_exported, load_onnx_model

PHRASES = [
    "connected LED street lighting",
    "intelligent public lighting",
    "hydrogen fuel cell buses",
    "financing deep building retrofits",
    "Since 2011 the city has a strategy for flood risk management.",
    "training programmes on youth entrepreneurship",
]


@pytest.fixture(scope="session")
def export_root(tmp_path_factory):
    """One export per test session, made by the first ONNX encoder that loads."""
    return tmp_path_factory.mktemp("encoders")


@pytest.fixture(scope="session")
def int8_encoder(export_root):
    encoder = load_encoder(backend="onnx-int8", export_root=export_root)
    encoder.load()
    return encoder


@pytest.fixture(scope="session")
def fp32_encoder(export_root, int8_encoder):
    return load_encoder(backend="onnx", export_root=export_root)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


class TestExport:
    def test_the_first_load_exports_both_graphs_into_a_directory_named_by_the_model(self, int8_encoder, export_root):
        assert int8_encoder.export_dir.parent == export_root
        assert int8_encoder.export_dir.name == load_encoder().model_id.replace(
            "@", "-"
        )  # changed weights get an export of their own
        assert is_exported(int8_encoder.export_dir)
        assert {p.name for p in (int8_encoder.export_dir / "onnx").iterdir()} == {FP32_FILE, INT8_FILE}
        assert not [p for p in export_root.iterdir() if p.name.startswith(".")]  # no staging left behind

    def test_an_existing_export_is_reused_not_made_again(self, int8_encoder, fp32_encoder):
        graph = int8_encoder.export_dir / "onnx" / INT8_FILE
        before = graph.stat().st_mtime_ns
        assert export_onnx(int8_encoder.path, int8_encoder.export_dir) == int8_encoder.export_dir
        fresh = Encoder(
            int8_encoder.path,
            model_id=int8_encoder.model_id,
            name=int8_encoder.name,
            backend="onnx-int8",
            export_dir=int8_encoder.export_dir,
        )
        fresh.encode(PHRASES[:1])
        assert graph.stat().st_mtime_ns == before

    def test_the_export_loads_without_the_source_weights(self, int8_encoder, tmp_path):
        # nothing but the exported files: a source path that does not exist is never read
        offline = Encoder(
            tmp_path / "no-such-model", model_id="x", name="x", backend="onnx-int8", export_dir=int8_encoder.export_dir
        )
        np.testing.assert_allclose(offline.encode(PHRASES), int8_encoder.encode(PHRASES), atol=1e-6)

    def test_without_the_export_libraries_the_error_says_how_to_get_them(self, encoder, tmp_path, monkeypatch):
        monkeypatch.setitem(sys.modules, "optimum.onnxruntime.configuration", None)  # import fails
        with pytest.raises(MissingExport, match="make install"):
            export_onnx(encoder.path, tmp_path / "export")
        assert not (tmp_path / "export").exists()

    def test_loading_a_directory_that_holds_no_export_is_reported(self, tmp_path):
        with pytest.raises(MissingExport, match="export_onnx"):
            load_onnx_model(tmp_path, quantised=True)


class TestVectors:
    def test_rows_are_unit_float32_of_dim_384(self, int8_encoder, fp32_encoder):
        for onnx in (int8_encoder, fp32_encoder):
            vectors = onnx.encode(PHRASES)
            assert onnx.dim == 384
            assert vectors.shape == (len(PHRASES), 384)
            assert vectors.dtype == np.float32 and vectors.flags["C_CONTIGUOUS"]
            np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        assert int8_encoder.encode([]).shape == (0, 384)

    def test_int8_vectors_are_close_to_the_torch_vectors(self, int8_encoder, encoder):
        assert cosines(int8_encoder.encode(PHRASES), encoder.encode(PHRASES)).min() >= 0.97

    def test_fp32_vectors_are_the_torch_vectors(self, fp32_encoder, encoder):
        assert cosines(fp32_encoder.encode(PHRASES), encoder.encode(PHRASES)).min() >= 0.9999

    def test_related_phrases_stay_closer_than_unrelated_ones(self, int8_encoder):
        lighting, related, unrelated = int8_encoder.encode(PHRASES[:3])
        assert lighting @ related > lighting @ unrelated + 0.3

    def test_a_phrase_encodes_within_quantisation_error_alone_or_in_a_batch(self, int8_encoder, encoder):
        # dynamic quantisation takes one activation scale per batch, so a cached int8 vector depends on the
        # batch that first met its text (torch's does not): by about as much as int8 differs from torch
        alone = int8_encoder.encode(PHRASES[:1])[0]
        batch = int8_encoder.encode([PHRASES[0], " ".join(PHRASES)])[0]
        assert float(alone @ batch) >= 0.97
        np.testing.assert_array_equal(int8_encoder.encode(PHRASES[:1])[0], alone)  # and the same batch, the same

    def test_a_child_process_encodes_with_the_same_backend(self, int8_encoder):
        with ChildProcessEncoder(int8_encoder) as child:
            assert child.model_id == int8_encoder.model_id
            np.testing.assert_allclose(child.encode(PHRASES), int8_encoder.encode(PHRASES), atol=1e-6)


class TestCacheKey:
    def test_each_backend_has_its_own_model_id_and_one_name(self, int8_encoder, fp32_encoder, encoder):
        ids = {encoder.model_id, fp32_encoder.model_id, int8_encoder.model_id}
        assert len(ids) == 3
        assert all(i.startswith(encoder.model_id) for i in ids)
        assert {int8_encoder.name, fp32_encoder.name} == {encoder.name}
        assert (encoder.backend, fp32_encoder.backend, int8_encoder.backend) == ("torch", "onnx", "onnx-int8")

    def test_torch_vectors_in_the_cache_are_never_served_as_int8_ones(self, int8_encoder, encoder):
        cache = MemoryVectorCache()
        CachedEncoder(encoder, cache).encode(PHRASES)
        cached = CachedEncoder(int8_encoder, cache)
        vectors = cached.encode(PHRASES)
        assert cached.encoded_count_ == len(PHRASES)
        np.testing.assert_allclose(vectors, int8_encoder.encode(PHRASES), atol=1e-6)

    def test_an_unknown_backend_is_refused(self, encoder):
        with pytest.raises(ValueError, match="onnx-int8"):
            load_encoder(backend="tensorrt")
        with pytest.raises(ValueError, match="export directory"):
            Encoder(encoder.path, model_id="x", name="x", backend="onnx")
