"""The embedding cache in the database: vectors keyed by (model id, SHA-256 of the normalised text)."""

from collections.abc import Iterable, Mapping

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from service.db.models import CachedVector

__all__ = ["DatabaseVectorCache"]

_CHUNK = 500


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
