"""Cohorts: list, read, create, store and delete them, and the cities a cohort may count; pairing a whole
cohort is `service.domain.pairing`."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import store
from service.db.models import Cohort, Profile
from service.domain.references import require_cohort_members
from service.errors import AlreadyExists, FieldProblem
from service.schemas import CohortBody, CohortIn, CohortOut

__all__ = [
    "cohort_out",
    "list_cohorts",
    "get_cohort",
    "create_cohort",
    "save_cohort",
    "delete_cohort",
    "cities_by_bloc",
]


def cohort_out(cohort: Cohort) -> CohortOut:
    return CohortOut(id=cohort.id, name=cohort.name, programme=cohort.programme, sides=cohort.sides())


def list_cohorts(*, session: Session) -> list[Cohort]:
    """Every cohort, ordered by id; every key may read them."""
    return store.list_cohorts(session)


def get_cohort(*, session: Session, cohort_id: str) -> Cohort:
    """The stored cohort; `NotFound` without one."""
    return store.get_cohort(session, cohort_id)


def save_cohort(*, session: Session, cohort_id: str, body: CohortBody) -> Cohort:
    """Create or replace a cohort; every side needs a member and every member must be a stored city
    profile, or nothing is stored (`InvalidInput`). Without a programme named it keeps its own, or
    takes the one its members' partnerships share (`store.settle_cohort_programme`)."""
    require_cohort_members(session, sides=body.sides)
    cohort = store.upsert_cohort(
        session, CohortIn(id=cohort_id, name=body.name, programme=body.programme, sides=body.sides)
    )
    session.commit()
    return cohort


def create_cohort(*, session: Session, cohort_id: str | None, body: CohortBody) -> Cohort:
    """Store a new cohort, its id given or made from its name; an id already taken is `AlreadyExists`
    (`save_cohort` replaces, this never does), a member that is no stored city `InvalidInput`."""
    new_id = store.cohort_id(CohortIn(id=cohort_id, name=body.name, sides=body.sides))
    if session.get(Cohort, new_id) is not None:
        raise AlreadyExists(f"a cohort with id {new_id!r} exists", [FieldProblem("/id", "already taken")])
    return save_cohort(session=session, cohort_id=new_id, body=body)


def cities_by_bloc(*, session: Session) -> dict[str, list[tuple[str, str]]]:
    """Every city profile as (id, name), by bloc in bloc order, then by name: what a cohort's sides are picked from."""
    rows = session.execute(
        select(Profile.bloc, Profile.id, Profile.name)
        .where(Profile.kind == "city")
        .order_by(Profile.bloc, Profile.name)
    )
    out: dict[str, list[tuple[str, str]]] = {}
    for bloc, profile_id, name in rows:
        out.setdefault(bloc, []).append((profile_id, name))
    return out


def delete_cohort(*, session: Session, cohort_id: str) -> None:
    """Delete a cohort (its partnerships stay); `NotFound` without one."""
    session.delete(store.get_cohort(session, cohort_id))
    session.commit()
