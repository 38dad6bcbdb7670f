"""Migrations on SQLite and PostgreSQL: the schema they build is the models', and 0005 keeps the rows it finds."""

import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from service.auth import Principal, Role
from service.db.engine import MIGRATIONS, make_engine, make_sessionmaker
from service.db.models import Base
from service.domain import exclusions, partnerships
from service.errors import Forbidden
from tests.conftest import POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request, tmp_path) -> Iterator[Engine]:
    """An engine on a database of its own with no schema at all."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip("TWINNING_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"twinning_migrations_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def upgrade(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_the_migrated_schema_is_the_models(empty_engine):
    upgrade(empty_engine, "head")
    with empty_engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []


def test_0005_keeps_partnerships_agreed_and_held_by_managers_and_exclusions_without_a_maker(empty_engine):
    upgrade(empty_engine, "0004")
    with empty_engine.begin() as conn:
        for pid in ("eindhoven", "seoul"):
            conn.execute(
                text(
                    "INSERT INTO profiles (id, kind, name, country, bloc, description, version, created_at, updated_at)"
                    " VALUES (:id, 'city', :id, 'NL', 'EU', 'A city.', 1, :now, :now)"
                ),
                {"id": pid, "now": "2026-01-01 00:00:00+00:00"},
            )
        conn.execute(
            text(
                "INSERT INTO partnerships (a, b, programme, themes, accepted_by, created_at)"
                " VALUES ('eindhoven', 'seoul', NULL, '[]', 'key-3', :now)"
            ),
            {"now": "2026-01-01 00:00:00+00:00"},
        )
        conn.execute(
            text(
                "INSERT INTO exclusions (a, b, reason, created_by, created_at)"
                " VALUES ('eindhoven', 'seoul', 'no', 'key-4', :now)"
            ),
            {"now": "2026-01-01 00:00:00+00:00"},
        )
    upgrade(empty_engine, "head")
    with make_sessionmaker(empty_engine)() as session:
        eindhoven = Principal(key_id=3, role=Role.MEMBER, profile_id="eindhoven", name=None)
        (row,) = partnerships.list_partnerships(session=session, principal=eindhoven, profile_id="eindhoven")
        assert (row.state, row.held_by_managers, row.removable, row.accepted_by) == ("agreed", True, False, "key-3")
        (excl,) = exclusions.list_exclusions(session=session, principal=eindhoven, profile_id="eindhoven")
        assert (excl.maker, excl.maker_role, excl.reason, excl.removable) == (None, None, None, False)
        with pytest.raises(Forbidden, match="before makers were recorded"):
            exclusions.delete_exclusion(session=session, principal=eindhoven, profile_id="eindhoven", other="seoul")
        with pytest.raises(Forbidden):
            partnerships.delete_partnership(session=session, principal=eindhoven, profile_id="eindhoven", other="seoul")
        manager = Principal(key_id=1, role=Role.MANAGER, profile_id=None, name="x" * 200)
        exclusions.delete_exclusion(session=session, principal=manager, profile_id="eindhoven", other="seoul")
        partnerships.delete_partnership(session=session, principal=manager, profile_id="eindhoven", other="seoul")
        # key labels of 200 characters fit where they are kept
        partnerships.accept_suggestion(session=session, principal=manager, profile_id="eindhoven", other="seoul")
        exclusions.exclude(session=session, principal=manager, profile_id="eindhoven", other="seoul", reason=None)
        assert partnerships.list_partnerships(session=session, principal=manager, profile_id="seoul")[
            0
        ].accepted_by == ("x" * 200)
