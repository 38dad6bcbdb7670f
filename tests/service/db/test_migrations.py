"""Migrations on SQLite and PostgreSQL: the schema they build is the models', 0005 and 0006 keep the rows
they find, 0009 indexes them for search, and 0012 gives partnerships and cohorts their programme by id."""

import json
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, Engine, column, create_engine, insert, inspect, select, table, text
from sqlalchemy.engine import make_url

from matching.explain import PhraseMatch
from matching.recommend import Suggestion
from service.auth import Principal, Role
from service.batch.runs import stored_ranking
from service.db.engine import make_engine, make_sessionmaker, migrate
from service.db.models import Base, Cohort, Partnership, Programme
from service.db.search import described_by_models
from service.domain import exclusions, partnerships
from service.domain import profiles as domain_profiles
from service.domain import runs as domain_runs
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
    migrate(engine, revision)


def downgrade(engine: Engine, revision: str) -> None:
    migrate(engine, revision, down=True)


def test_the_migrated_schema_is_the_models(empty_engine):
    upgrade(empty_engine, "head")
    with empty_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": described_by_models})
        differences = compare_metadata(context, Base.metadata)
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


def _json_detail_of_0005(s: Suggestion) -> dict:
    """The JSON detail runs stored before 0006."""
    parts = {"dense": s.dense, "lexical": s.lexical, "forward": s.forward, "backward": s.backward, "handset": s.handset}
    return {
        "parts": parts,
        "features": s.features,
        "contributions": s.contributions,
        "matches": [m.__dict__ for m in s.matches],
        "shared_themes": s.shared_themes,
        "shared_terms": s.shared_terms,
    }


STORED_BEFORE_0006 = {
    ("eindhoven", "city", 1): Suggestion(
        key="seoul",
        score=0.812345,
        dense=0.627512,
        lexical=0.224891,
        forward=0.522705,
        backward=0.784888,
        matches=[
            PhraseMatch("smart lighting", "interest", "smart lighting", "offer", 0.8876, "forward"),
            PhraseMatch("living labs", "interest", "Seoul runs living labs.", "description", 0.2428, "forward", False),
            PhraseMatch("smart lighting", "interest", "smart lighting", "offer", 0.8876, "backward"),
        ],
        shared_themes=["public-lighting"],
        shared_terms=["lighting", "smart lighting"],
        handset=0.546988,
        features={"fit": 0.627512, "lexical": 0.224891, "themes": 1.0, "popularity": 0.3, "language": 0.0},
        contributions={"fit": 1.0, "lexical": 0.4, "themes": 0.2, "popularity": -2.37, "language": -0.0},
    ),
    ("eindhoven", "organisation", 1): Suggestion(  # a run before the learned ranker: no features
        key="philips-lighting",
        score=0.4,
        dense=0.36,
        lexical=0.2170601,  # not rounded as today's recommender rounds
        forward=0.36,
        backward=None,
        matches=[PhraseMatch("smart lighting", "interest", "connected LED street lighting", "offer", 0.71, "forward")],
    ),
    ("seoul", "city", 1): Suggestion(
        key="eindhoven",
        score=0.8,
        dense=0.627512,
        lexical=0.224891,
        forward=0.784888,
        backward=0.522705,
        matches=[PhraseMatch("smart lighting", "offer", "smart lighting", "interest", 0.8876, "forward")],
        handset=0.5,
    ),
}


def _read_back(engine: Engine) -> list[str]:
    with make_sessionmaker(engine)() as session:
        return [json.dumps(asdict(s)) for (p, t, _) in STORED_BEFORE_0006 for s in stored_ranking(session, 1, p, t)]


def test_0006_migrates_stored_runs_to_read_back_as_stored_and_its_downgrade_restores_their_json(empty_engine):
    upgrade(empty_engine, "0005")
    runs = table(
        "runs",
        *(column(c) for c in ("id", "state", "started_at", "model_id")),
        *(column(c, JSON()) for c in ("params", "counts", "progress")),
    )
    stored = table(
        "run_suggestions",
        *(column(c) for c in ("run_id", "profile_id", "target", "rank", "other_id", "score")),
        column("detail", JSON()),
    )
    written = sorted(
        (
            {"run_id": 1, "profile_id": p, "target": t, "rank": r, "other_id": s.key, "score": s.score}
            | {"detail": _json_detail_of_0005(s)}
            for (p, t, r), s in STORED_BEFORE_0006.items()
        ),
        key=lambda w: (w["profile_id"], w["target"]),
    )
    oldest = written[1]["detail"]  # eindhoven → philips-lighting, as the first runs stored it
    del oldest["parts"]["handset"], oldest["features"], oldest["contributions"]
    with empty_engine.begin() as conn:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        run = {"id": 1, "state": "succeeded", "started_at": now, "model_id": "m"}
        conn.execute(insert(runs), [run | {"params": {}, "counts": {}, "progress": {}}])
        conn.execute(insert(stored), written)
    upgrade(empty_engine, "head")
    read = _read_back(empty_engine)
    assert read == [json.dumps(asdict(s)) for s in STORED_BEFORE_0006.values()]
    with make_sessionmaker(empty_engine)() as session:
        assert [tuple(r) for r in domain_runs.all_stored_suggestions(session=session, run_id=1)] == sorted(
            (p, t, r, s.key, s.score) for (p, t, r), s in STORED_BEFORE_0006.items()
        )
    downgrade(empty_engine, "0005")
    with empty_engine.connect() as conn:
        rows = conn.execute(select(stored).order_by(stored.c.profile_id, stored.c.target)).mappings().all()
    restored = [json.dumps(dict(r)) for r in rows]
    assert [restored[0], restored[2]] == [json.dumps(written[0]), json.dumps(written[2])]
    upgrade(empty_engine, "head")
    assert _read_back(empty_engine) == read


def test_0009_indexes_the_profiles_it_finds_for_search_and_its_downgrade_drops_the_index(empty_engine):
    upgrade(empty_engine, "0008")
    now = "2026-01-01 00:00:00+00:00"
    with empty_engine.begin() as conn:
        for pid, name, description in (
            ("barcelona", "Barcelona", "Home of the Sónar festival."),
            ("eindhoven", "Eindhoven", "A city of light."),
            ("seoul", "Seoul", "A city of e-governance."),
        ):
            conn.execute(
                text(
                    "INSERT INTO profiles (id, kind, name, country, bloc, description, version, created_at, updated_at)"
                    " VALUES (:id, 'city', :name, 'NL', 'EU', :description, 1, :now, :now)"
                ),
                {"id": pid, "name": name, "description": description, "now": now},
            )
        conn.execute(
            text(
                "INSERT INTO phrases (profile_id, role, position, text) VALUES"
                " ('eindhoven', 'interest', 0, 'streetlights'), ('seoul', 'offer', 0, 'street lights')"
            )
        )
    upgrade(empty_engine, "head")

    def search(q: str, *, names_only: bool = False) -> set[str]:
        with make_sessionmaker(empty_engine)() as session:
            return domain_profiles.search_profile_ids(session=session, q=q, names_only=names_only)

    assert search("sonar") == {"barcelona"} and search("sonar", names_only=True) == set()
    assert search("barcelona", names_only=True) == {"barcelona"}
    assert search("street lights") == search("streetlights") == {"eindhoven", "seoul"}
    assert search("egovernance") == {"seoul"}
    downgrade(empty_engine, "0008")
    assert not any(name.startswith("profile_search") for name in inspect(empty_engine).get_table_names())
    upgrade(empty_engine, "head")
    assert search("sonar") == {"barcelona"}


def test_0012_files_partnerships_under_programmes_and_cohorts_by_id_and_its_downgrade_restores_the_names(
    empty_engine,
):
    """The demo's case: partnerships of "World Cities 2017-18" crossing the sides of a cohort named
    otherwise become that cohort's; another programme's and an organisation's stay outside it."""
    upgrade(empty_engine, "0011")
    now = "2026-01-01 00:00:00+00:00"
    with empty_engine.begin() as conn:
        for pid, kind, bloc in (
            ("eindhoven", "city", "EU"),
            ("tampere", "city", "EU"),
            ("seoul", "city", "KR"),
            ("gwangju", "city", "KR"),
            ("philips", "organisation", "EU"),
        ):
            conn.execute(
                text(
                    "INSERT INTO profiles (id, kind, name, country, bloc, description, version, created_at, updated_at)"
                    " VALUES (:id, :kind, :id, 'NL', :bloc, 'A profile.', 1, :now, :now)"
                ),
                {"id": pid, "kind": kind, "bloc": bloc, "now": now},
            )
        for a, b, programme in (
            ("eindhoven", "seoul", "World Cities 2017-18"),
            ("gwangju", "tampere", "World Cities 2017-18"),
            ("eindhoven", "philips", "World Cities 2017-18"),
            ("seoul", "tampere", "Another programme"),
            ("eindhoven", "gwangju", None),
        ):
            conn.execute(
                text(
                    "INSERT INTO partnerships (a, b, programme, themes, accepted_by, created_at, members_agreed)"
                    " VALUES (:a, :b, :programme, '[]', 'key-1', :now, false)"
                ),
                {"a": a, "b": b, "programme": programme, "now": now},
            )
        conn.execute(text("INSERT INTO cohorts (id, name) VALUES ('wc', 'World Cities EU-Korea 2017-18')"))
        for position, (side, member) in enumerate(
            (("EU", "eindhoven"), ("EU", "tampere"), ("KR", "seoul"), ("KR", "gwangju"))
        ):
            conn.execute(
                text("INSERT INTO cohort_members (cohort_id, side, position, profile_id) VALUES ('wc', :side, :p, :m)"),
                {"side": side, "p": position, "m": member},
            )
    upgrade(empty_engine, "head")
    with make_sessionmaker(empty_engine)() as session:
        cohort = session.get(Cohort, "wc")
        assert cohort.programme == "World Cities 2017-18"
        assert len(cohort.members) == 4  # rebuilding tables on SQLite deletes no member by cascade
        rows = {(p.a, p.b): (p.programme, p.cohort_id) for p in session.scalars(select(Partnership))}
        assert rows == {
            ("eindhoven", "seoul"): ("World Cities 2017-18", "wc"),
            ("gwangju", "tampere"): ("World Cities 2017-18", "wc"),
            ("eindhoven", "philips"): ("World Cities 2017-18", None),
            ("seoul", "tampere"): ("Another programme", None),
            ("eindhoven", "gwangju"): (None, None),
        }
        assert sorted(session.scalars(select(Programme.name))) == ["Another programme", "World Cities 2017-18"]
    downgrade(empty_engine, "0011")
    with empty_engine.connect() as conn:
        assert dict(conn.execute(text("SELECT a || '=' || b, programme FROM partnerships")).all()) == {
            "eindhoven=seoul": "World Cities 2017-18",
            "gwangju=tampere": "World Cities 2017-18",
            "eindhoven=philips": "World Cities 2017-18",
            "seoul=tampere": "Another programme",
            "eindhoven=gwangju": None,
        }
        assert conn.execute(text("SELECT count(*) FROM cohort_members")).scalar() == 4
    upgrade(empty_engine, "head")
