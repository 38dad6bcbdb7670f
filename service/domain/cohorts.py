"""Cohorts: list, read, store and delete them; pairing a whole cohort is `service.domain.pairing`."""

from sqlalchemy.orm import Session

from service.db import store
from service.db.models import Cohort
from service.domain.references import require_cohort_members
from service.schemas import CohortBody, CohortIn, CohortOut

__all__ = ["cohort_out", "list_cohorts", "get_cohort", "save_cohort", "delete_cohort"]


def cohort_out(cohort: Cohort) -> CohortOut:
    return CohortOut(id=cohort.id, name=cohort.name, sides=cohort.sides())


def list_cohorts(*, session: Session) -> list[Cohort]:
    """Every cohort, ordered by id; every key may read them."""
    return store.list_cohorts(session)


def get_cohort(*, session: Session, cohort_id: str) -> Cohort:
    """The stored cohort; `NotFound` without one."""
    return store.get_cohort(session, cohort_id)


def save_cohort(*, session: Session, cohort_id: str, body: CohortBody) -> Cohort:
    """Create or replace a cohort; every side needs a member and every member must be a stored city
    profile, or nothing is stored (`InvalidInput`)."""
    require_cohort_members(session, sides=body.sides)
    cohort = store.upsert_cohort(session, CohortIn(id=cohort_id, name=body.name, sides=body.sides))
    session.commit()
    return cohort


def delete_cohort(*, session: Session, cohort_id: str) -> None:
    """Delete a cohort (its partnerships stay); `NotFound` without one."""
    session.delete(store.get_cohort(session, cohort_id))
    session.commit()
