"""The embedding cache in the database: vectors keyed by (model id, SHA-256 of the normalised text)."""

from collections.abc import Container, Iterable, Mapping

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from service.db.models import CachedVector

__all__ = ["DatabaseVectorCache"]

_CHUNK = 500
_SCAN = 5000  # keys read per step of a prune


class DatabaseVectorCache:
    """Implements `embeddings.VectorCache`; each call runs in its own short transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def get_many(self, model_id: str, keys: Iterable[str]) -> dict[str, np.ndarray]:
        keys = list(keys)
        found: dict[str, np.ndarray] = {}
        with self.sessions() as session:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                rows = session.execute(
                    select(CachedVector.text_hash, CachedVector.vector).where(
                        CachedVector.model_id == model_id, CachedVector.text_hash.in_(chunk)
                    )
                )
                found.update((h, np.frombuffer(v, dtype=np.float32)) for h, v in rows)
        return found

    def put_many(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        if not vectors:
            return
        rows = [
            {"model_id": model_id, "text_hash": h, "vector": np.asarray(v, dtype=np.float32).tobytes()}
            for h, v in vectors.items()
        ]
        with self.sessions() as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            for start in range(0, len(rows), _CHUNK):
                # a concurrent writer may have cached the same text: that row is just as good
                session.execute(insert(CachedVector).values(rows[start : start + _CHUNK]).on_conflict_do_nothing())
            session.commit()

    def prune(self, model_id: str, keep: Container[str]) -> int:
        """Delete this model's rows whose key is not in `keep`, a step at a time; returns how many went.

        Keys are read in order, `_SCAN` at a time, and each step deletes in its own short transaction,
        so neither memory nor a lock grows with the cache. Rows of other models are left to whoever
        encodes with them.
        """
        pruned, after = 0, ""
        while True:
            with self.sessions() as session:
                keys = list(
                    session.scalars(
                        select(CachedVector.text_hash)
                        .where(CachedVector.model_id == model_id, CachedVector.text_hash > after)
                        .order_by(CachedVector.text_hash)
                        .limit(_SCAN)
                    )
                )
                if not keys:
                    return pruned
                unreferenced = [k for k in keys if k not in keep]
                for start in range(0, len(unreferenced), _CHUNK):
                    chunk = unreferenced[start : start + _CHUNK]
                    session.execute(
                        delete(CachedVector).where(CachedVector.model_id == model_id, CachedVector.text_hash.in_(chunk))
                    )
                session.commit()
            pruned += len(unreferenced)
            after = keys[-1]
