"""ONNX exports of a local sentence-transformers model, made once on this machine and loaded offline.

sentence-transformers exports through its own backend (`backend="onnx"`, Optimum underneath) and
quantises with `sentence_transformers.backend.export_dynamic_quantized_onnx_model`. One export
directory holds a whole sentence-transformers model (tokenizer, pooling, normalisation) with two
graphs under `onnx/`: the fp32 export and its int8 dynamic quantisation.

The quantisation is per channel (one scale per output row of each weight matrix): per tensor, one
scale for a whole matrix, was measured at mean cosine 0.965 to the torch vectors, too far to share
thresholds calibrated on them. Weights are signed int8 over the full range ("avx512_vnni" in
Optimum's presets); ONNX Runtime runs the graph on any x86-64 CPU and picks its kernels at run time.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["FP32_FILE", "INT8_FILE", "MissingExport", "export_onnx", "is_exported", "load_onnx_model"]

log = logging.getLogger(__name__)

FP32_FILE = "model.onnx"
INT8_FILE = "model_qint8_per_channel.onnx"
_INT8_SUFFIX = "qint8_per_channel"  # the helper names its file model_<suffix>.onnx
_FILES = (FP32_FILE, INT8_FILE)


class MissingExport(FileNotFoundError):
    """The ONNX export a backend needs is not on disk and cannot be made (its export libraries are missing)."""


def is_exported(target: Path) -> bool:
    """Whether `target` holds a complete export (both graphs and the model's own files)."""
    return (target / "modules.json").is_file() and all((target / "onnx" / name).is_file() for name in _FILES)


def export_onnx(source: Path, target: Path) -> Path:
    """Export the model in `source` to ONNX fp32 and int8 in `target`, unless it is there already.

    The export is written beside `target` and renamed into place, so a reader never meets half an
    export, and of two processes exporting at once the first rename wins and the other's is dropped.
    Needs only the files in `source`: nothing is fetched.

    Parameters
    ----------
    source : Path
        A sentence-transformers model directory with torch weights.
    target : Path
        The export directory to create.

    Returns
    -------
    Path
        `target`.
    """
    if is_exported(target):
        return target
    try:
        from optimum.onnxruntime.configuration import AutoQuantizationConfig
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.backend import export_dynamic_quantized_onnx_model
    except ImportError as exc:
        raise MissingExport(
            f"no ONNX export in {target}, and it cannot be made here ({exc}): install optimum-onnx and onnxruntime "
            "(the project's dependencies: `make install`), or use the torch backend"
        ) from exc

    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("exporting %s to ONNX in %s (once)", source, target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model = SentenceTransformer(
            str(source), device="cpu", backend="onnx", model_kwargs={"export": True, "provider": "CPUExecutionProvider"}
        )
        model.save_pretrained(str(staging))
        config = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=True)
        export_dynamic_quantized_onnx_model(model, config, str(staging), file_suffix=_INT8_SUFFIX)
        if not is_exported(staging):
            raise RuntimeError(f"the ONNX export of {source} is incomplete: {sorted(os.listdir(staging / 'onnx'))}")
        try:
            staging.rename(target)
        except OSError:
            if not is_exported(target):  # not another process's finished export: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def load_onnx_model(target: Path, *, quantised: bool) -> object:
    """The SentenceTransformer of an export on ONNX Runtime's CPU provider: fp32, or int8 if `quantised`."""
    from sentence_transformers import SentenceTransformer

    if not is_exported(target):
        raise MissingExport(f"no ONNX export in {target}: make it with `embeddings.export_onnx(model_dir, target)`")
    file_name = INT8_FILE if quantised else FP32_FILE
    return SentenceTransformer(
        str(target),
        device="cpu",
        backend="onnx",
        local_files_only=True,
        model_kwargs={"file_name": file_name, "provider": "CPUExecutionProvider"},
    )
