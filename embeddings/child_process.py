"""An encoder whose model lives in a spawned child process, started on first use.

Loading torch and the model costs a process ~350 MB that unloading gives back only in part. The
batch job forks its scoring workers from the process that holds the index, so a model loaded there
would sit in the run's memory to the end. Behind a `CachedEncoder` this encoder is asked only for
cache misses: a run with nothing new to encode never starts the child, and one with changes pays
for the model in a process that exits when the encoding is done.
"""

import multiprocessing
from collections.abc import Sequence
from multiprocessing.connection import Connection

import numpy as np

from embeddings.encoder import Encoder

__all__ = ["ChildProcessEncoder", "EncodingFailed"]


class EncodingFailed(RuntimeError):
    """The child process could not encode (its model failed to load, or it died)."""


class ChildProcessEncoder:
    """The `Encoder` interface, encoding in a child process; close it (or use `with`) to stop the child."""

    def __init__(self, encoder: Encoder) -> None:
        self.path = encoder.path
        self.model_id = encoder.model_id
        self.name = encoder.name
        self.batch_size = encoder.batch_size
        self.backend = encoder.backend
        self.export_dir = encoder.export_dir
        self._connection: Connection | None = None
        self._child: multiprocessing.process.BaseProcess | None = None
        self._dim: int | None = None

    @property
    def started(self) -> bool:
        return self._child is not None

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._ask("dim", None))
        return self._dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts in the child; an empty input gives a (0, dim) array."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._ask("encode", list(texts))

    def close(self) -> None:
        """Stop the child, if it was started."""
        if self._child is None:
            return
        try:
            self._connection.send(("stop", None))
        except (BrokenPipeError, OSError):
            pass
        self._child.join()
        self._connection.close()
        self._child = self._connection = None

    def __enter__(self) -> "ChildProcessEncoder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fields(self) -> dict[str, object]:
        """What the child needs to build the same encoder (its model loads there)."""
        names = ("path", "model_id", "name", "batch_size", "backend", "export_dir")
        return {name: getattr(self, name) for name in names}

    def _ask(self, request: str, payload: object) -> object:
        if self._child is None:
            context = multiprocessing.get_context("spawn")
            self._connection, theirs = context.Pipe()
            self._child = context.Process(
                target=_serve, args=(theirs, self._fields()), name="twinning-encoder", daemon=True
            )
            self._child.start()
            theirs.close()
        try:
            self._connection.send((request, payload))
            status, value = self._connection.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
            raise EncodingFailed(f"the encoding process stopped (exit code {self._child.exitcode})") from exc
        if status == "error":
            raise EncodingFailed(value)
        return value


def _serve(connection: Connection, fields: dict[str, object]) -> None:
    """In the child: answer requests until told to stop; an error is answered, not raised."""
    encoder = Encoder(**fields)
    while True:
        request, payload = connection.recv()
        if request == "stop":
            return
        try:
            answer = encoder.dim if request == "dim" else encoder.encode(payload)
        except Exception as exc:  # the parent raises it as EncodingFailed
            connection.send(("error", f"{type(exc).__name__}: {exc}"))
        else:
            connection.send(("ok", answer))
