"""Database engine, sessions and schema migrations (applied with Alembic on start)."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["make_engine", "migrate", "make_sessionmaker", "session_scope"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, *, idle_in_transaction_timeout: float | None = None) -> Engine:
    """Create an engine; SQLite gets foreign keys on and a busy timeout, since it is shared by threads.

    `idle_in_transaction_timeout` (seconds, PostgreSQL only) has the server end a session that sits
    in a transaction that long without a word, so its row locks cannot outlive a frozen client.
    SQLite has no server to do that: a process frozen inside a write holds the database's write lock
    until it is killed or goes on.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    connect_args = {}
    if idle_in_transaction_timeout is not None:
        milliseconds = max(1, round(idle_in_transaction_timeout * 1000))
        connect_args["options"] = f"-c idle_in_transaction_session_timeout={milliseconds}"
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def migrate(engine: Engine, revision: str = "head", *, down: bool = False) -> None:
    """Bring the schema to an Alembic revision (the newest by default), downgrading to it when `down`.

    On SQLite foreign keys are off while the migrations run, in one transaction: a migration that
    rebuilds a table (SQLite alters columns that way) would otherwise delete the rows referring to
    it by cascade. The references are checked before it commits; a broken one aborts it whole.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: first
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                (command.downgrade if down else command.upgrade)(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration broke references: {broken[:5]}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back whole on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
