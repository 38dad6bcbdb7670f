"""Text to unit vectors: model loading, sentence splitting, batched and cached encoding."""

from embeddings.cache import CachedEncoder, MemoryVectorCache, VectorCache, text_key
from embeddings.child_process import ChildProcessEncoder, EncodingFailed
from embeddings.encoder import Encoder, default_model_path, load_encoder
from embeddings.text import normalise, split_description

__all__ = [
    "CachedEncoder",
    "ChildProcessEncoder",
    "Encoder",
    "EncodingFailed",
    "MemoryVectorCache",
    "VectorCache",
    "default_model_path",
    "load_encoder",
    "normalise",
    "split_description",
    "text_key",
]
