"""Text to unit vectors: model loading, sentence splitting, batched and cached encoding."""

from embeddings.cache import CachedEncoder, MemoryVectorCache, VectorCache, text_key
from embeddings.child_process import ChildProcessEncoder, EncodingFailed
from embeddings.encoder import BACKENDS, Encoder, default_export_root, default_model_path, load_encoder
from embeddings.onnx_export import MissingExport, export_onnx
from embeddings.text import normalise, split_description

__all__ = [
    "BACKENDS",
    "CachedEncoder",
    "ChildProcessEncoder",
    "Encoder",
    "EncodingFailed",
    "MemoryVectorCache",
    "MissingExport",
    "VectorCache",
    "default_export_root",
    "default_model_path",
    "export_onnx",
    "load_encoder",
    "normalise",
    "split_description",
    "text_key",
]
