"""Pruning the vector cache to what current profile texts reference: every edit adds rows, nothing else drops them.

A run references what its encoder asked the cache for (every profile's phrases and sentences, and
the themes), and whatever the profiles written since the run read them hold now: those are found by
version and their text read again when the run prunes, so an edit made while the run worked keeps
its vectors. A row cached by a write not yet committed when the run prunes may go; it is encoded
again when next needed, and nothing is ever served from a missing row.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from embeddings import text_key
from service.db import store
from service.db.models import Profile
from service.db.vector_cache import DatabaseVectorCache
from service.live.profiles_text import ProfileText

__all__ = ["ProfileVersions", "ReferencedVectors", "profile_versions", "prune_unreferenced"]

ProfileVersions = dict[str, tuple[int, datetime]]
_VERSIONS = select(Profile.id, Profile.version, Profile.updated_at)
_CHUNK = 500


class ReferencedVectors:
    """The database vector cache, remembering every key asked of it or put in it: what a run references."""

    def __init__(self, cache: DatabaseVectorCache) -> None:
        self.cache = cache
        self.keys_: set[str] = set()

    def get_many(self, model_id: str, keys: Iterable[str]) -> dict[str, np.ndarray]:
        keys = set(keys)
        self.keys_ |= keys
        return self.cache.get_many(model_id, keys)

    def put_many(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        self.keys_.update(vectors)
        self.cache.put_many(model_id, vectors)


def profile_versions(session: Session) -> ProfileVersions:
    """Each profile's version and last write: read before its text, a write in between counts as a change."""
    return {pid: (version, updated) for pid, version, updated in session.execute(_VERSIONS)}


def prune_unreferenced(
    sessions: sessionmaker[Session], model_id: str, referenced: ReferencedVectors, read: ProfileVersions
) -> int:
    """Delete the model's cached vectors that neither the run nor a profile written since references."""
    keep = referenced.keys_
    with sessions() as session:
        changed = [pid for pid, version in profile_versions(session).items() if read.get(pid) != version]
        for start in range(0, len(changed), _CHUNK):
            for row in store.profiles_by_ids(session, changed[start : start + _CHUNK]):
                keep.update(text_key(text) for unit in ProfileText.from_row(row).units for text in unit)
    return referenced.cache.prune(model_id, keep)
