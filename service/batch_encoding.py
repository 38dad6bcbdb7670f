"""The batch's encoding stage: texts the vector cache lacks are encoded in a process of its own.

Loading torch and the model costs a process ~350 MB that unloading gives back only in part. The
scoring that follows forks workers from the process holding the index, so the model would sit in
the run's memory until the end. A short-lived spawned child encodes the missing texts into the
database cache instead; the run then builds its index from cached vectors alone and never loads
the weights. When this process has the model loaded already (the server), or the database lives
only in this process (in-memory SQLite), the texts are encoded here.
"""

import multiprocessing
import queue
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from embeddings import CachedEncoder, text_key
from embeddings.encoder import Encoder, load_encoder
from service.db import make_engine, make_sessionmaker
from service.models import CachedVector
from service.vector_cache import DatabaseVectorCache

__all__ = ["EncodingFailed", "encode_missing"]

_CHUNK = 2_048  # texts per encode call: the unit of progress


class EncodingFailed(RuntimeError):
    """The encoding process stopped before it had cached every missing text."""


def missing_texts(sessions: sessionmaker[Session], model_id: str, texts: Sequence[str]) -> list[str]:
    """The distinct texts with no cached vector for the model, in first-seen order."""
    with sessions() as session:
        cached = set(session.scalars(select(CachedVector.text_hash).where(CachedVector.model_id == model_id)))
    wanted = {text_key(t): t for t in texts}
    return [t for key, t in wanted.items() if key not in cached]


def encode_missing(
    sessions: sessionmaker[Session], encoder: Encoder, texts: Sequence[str], on_progress: Callable[[int, int], None] | None = None
) -> int:
    """Encode and cache the texts the cache lacks for this encoder's model; returns how many were encoded."""
    missing = missing_texts(sessions, encoder.model_id, texts)
    if not missing:
        return 0
    with sessions() as session:
        url = session.get_bind().url
    if encoder.loaded or url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        cached = CachedEncoder(encoder, DatabaseVectorCache(sessions))
        for start in range(0, len(missing), _CHUNK):
            cached.encode(missing[start : start + _CHUNK])
            if on_progress:
                on_progress(min(start + _CHUNK, len(missing)), len(missing))
        return cached.encoded_count_
    return _encode_in_child(url, str(encoder.path), encoder.batch_size, missing, on_progress)


def _encode_in_child(url: URL, model_path: str, batch_size: int, texts: list[str], on_progress: Callable[[int, int], None] | None) -> int:
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    child = context.Process(
        target=_child_main, args=(url.render_as_string(hide_password=False), model_path, batch_size, texts, messages), name="twinning-encode"
    )
    child.start()
    encoded, error = 0, None
    try:
        while True:
            try:
                kind, value = messages.get(timeout=1.0)
            except queue.Empty:
                if not child.is_alive():
                    break
                continue
            if kind == "done":
                encoded = value
                if on_progress:
                    on_progress(value, len(texts))
            elif kind == "error":
                error = value
                break
            else:  # "finished"
                break
    finally:
        child.join()
    if error is not None or child.exitcode != 0:
        raise EncodingFailed(error or f"the encoding process exited with code {child.exitcode}")
    return encoded


def _child_main(url: str, model_path: str, batch_size: int, texts: list[str], messages) -> None:  # noqa: ANN001
    """In the spawned child: encode every text into the cache, reporting how many are done."""
    try:
        engine = make_engine(url)
        encoder = CachedEncoder(load_encoder(model_path, batch_size), DatabaseVectorCache(make_sessionmaker(engine)))
        for start in range(0, len(texts), _CHUNK):
            encoder.encode(texts[start : start + _CHUNK])
            messages.put(("done", encoder.encoded_count_))
        engine.dispose()
        messages.put(("finished", encoder.encoded_count_))
    except BaseException as exc:  # the parent fails the run with this message
        messages.put(("error", f"{type(exc).__name__}: {exc}"))
        raise
