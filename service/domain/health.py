"""The service's health: the database answers, and whether the live index is built."""

from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from service.live.index import LiveIndex

__all__ = ["health_status"]


def health_status(*, engine: Engine, sessions: sessionmaker[Session], live: LiveIndex) -> dict[str, Any]:
    """ "ok" once the database answers a query; the index's status beside it (built, profiles, model, ranker)."""
    with sessions() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "database": engine.dialect.name, "index": live.status()}
