"""A content-hash cache in front of an encoder, so unchanged text is never encoded twice."""

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np

from embeddings.encoder import Encoder
from embeddings.text import normalise

__all__ = ["CachedEncoder", "MemoryVectorCache", "VectorCache", "text_key"]


def text_key(text: str) -> str:
    """Return the SHA-256 hex digest of the normalised text: the cache key within one model."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


class VectorCache(Protocol):
    """Where cached vectors live; the service backs it with a database table."""

    def get_many(self, model_id: str, keys: Iterable[str]) -> Mapping[str, np.ndarray]: ...

    def put_many(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None: ...


class MemoryVectorCache:
    """A dict-backed cache for tests, evaluation and benchmarks."""

    def __init__(self) -> None:
        self.vectors_: dict[tuple[str, str], np.ndarray] = {}

    def get_many(self, model_id: str, keys: Iterable[str]) -> dict[str, np.ndarray]:
        return {k: self.vectors_[(model_id, k)] for k in keys if (model_id, k) in self.vectors_}

    def put_many(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        for key, vector in vectors.items():
            self.vectors_[(model_id, key)] = vector


class CachedEncoder:
    """Encode texts, asking the cache first and encoding only the misses, in one batch."""

    def __init__(self, encoder: Encoder, cache: VectorCache) -> None:
        self.encoder = encoder
        self.cache = cache
        self.encoded_count_ = 0

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    @property
    def name(self) -> str:
        return self.encoder.name

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return one unit row per text, in order; duplicates and cached texts are not encoded."""
        keys = [text_key(t) for t in texts]
        found = dict(self.cache.get_many(self.model_id, set(keys)))
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts):
            if key not in found and key not in missing:
                missing[key] = normalise(text)
        if missing:
            fresh = self.encoder.encode(list(missing.values()))
            new = dict(zip(missing.keys(), fresh))
            self.cache.put_many(self.model_id, new)
            found.update(new)
            self.encoded_count_ += len(new)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(np.stack([found[k] for k in keys]), dtype=np.float32)
