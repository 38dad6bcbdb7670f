"""The pair-decision rules in the domain layer, on SQLite and PostgreSQL (issue 17, item 1).

The use cases are called as the API and the pages call them, with principals of each role; a
property test drives random sequences of decisions on one pair against the rules written out as
a small model, and checks the stored rows and every refusal after each step.
"""

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.auth import Principal, Role, create_key
from service.db import store
from service.db.engine import make_engine, make_sessionmaker, migrate
from service.db.models import ApiKey, CohortMember, Exclusion, Partnership, PartnershipProposal, Profile
from service.domain import exclusions, partnerships, references
from service.errors import Conflict, Forbidden, NotFound, Referenced
from service.schemas import CohortIn, ProfileCreate
from tests.factories import city

MANAGER = Principal(key_id=1, role=Role.MANAGER, profile_id=None, name="IUC programme office")
ADMIN = Principal(key_id=2, role=Role.ADMIN, profile_id=None, name=None)


def member(profile_id: str) -> Principal:
    return Principal(key_id=10 + len(profile_id), role=Role.MEMBER, profile_id=profile_id, name=f"{profile_id} office")


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    factory = make_sessionmaker(engine)
    with factory() as session:
        for pid, bloc in (("amsterdam", "EU"), ("busan", "KR"), ("fontys", "EU")):
            body = city(pid, bloc=bloc, country="NL" if bloc == "EU" else "KR")
            if pid == "fontys":
                body |= {"kind": "organisation", "org_type": "university", "city": "amsterdam", "interests": []}
            store.create_profile(session, ProfileCreate.model_validate(body))
        session.commit()
    yield factory
    engine.dispose()


def pair_state(session: Session) -> tuple:
    """(partnership held by "members"/"managers" or None, proposer or None, exclusion maker or None)."""
    row = store.get_partnership(session, "amsterdam", "busan")
    proposal = store.get_proposal(session, "amsterdam", "busan")
    excl = store.get_exclusion(session, "amsterdam", "busan")
    held = None if row is None else ("managers" if row.held_by_managers else "members")
    maker = None if excl is None else (excl.maker if excl.maker_role == "member" else excl.maker_role)
    return held, proposal.proposer if proposal else None, maker


def test_accept_proposes_confirms_and_a_manager_records(sessions):
    with sessions() as s:
        out = partnerships.accept_suggestion(
            session=s, principal=member("amsterdam"), profile_id="amsterdam", other="busan"
        )
        assert (out.state, out.waiting_for, out.accepted) == ("proposed", "busan", 0)
        assert pair_state(s) == (None, "amsterdam", None)
        assert store.partner_ids(s, "busan") == set()  # what suggestions, pairing and runs read
        (waiting,) = partnerships.list_partnerships(session=s, principal=member("busan"), profile_id="busan")
        assert (waiting.state, waiting.partner, waiting.proposer, waiting.waiting_for) == (
            "proposed",
            "amsterdam",
            "amsterdam",
            "busan",
        )
        out = partnerships.accept_suggestion(
            session=s, principal=member("busan"), profile_id="busan", other="amsterdam"
        )
        assert (out.state, out.created) == ("agreed", 1)
        assert pair_state(s) == ("members", None, None)
        row = store.get_partnership(s, "amsterdam", "busan")
        assert (row.proposer, row.proposed_by, row.accepted_by) == ("amsterdam", "amsterdam office", "busan office")
        assert store.partner_ids(s, "busan") == {"amsterdam"}
        # a member's accept of an organisation is a proposal too; a manager's is agreed at once
        out = partnerships.accept_suggestion(
            session=s, principal=member("amsterdam"), profile_id="amsterdam", other="fontys"
        )
        assert out.state == "proposed"
        out = partnerships.accept_suggestion(session=s, principal=MANAGER, profile_id="fontys", other="amsterdam")
        assert (out.state, out.created, out.accepted_by) == ("agreed", 1, "IUC programme office")
        row = store.get_partnership(s, "amsterdam", "fontys")
        assert row.held_by_managers and row.proposer == "amsterdam"
        with pytest.raises(Forbidden):
            partnerships.delete_partnership(
                session=s, principal=member("fontys"), profile_id="fontys", other="amsterdam"
            )


def test_a_programme_makes_a_members_partnership_the_managers(sessions):
    with sessions() as s:
        for who in ("amsterdam", "busan"):
            partnerships.accept_suggestion(
                session=s, principal=member(who), profile_id=who, other="busan" if who == "amsterdam" else "amsterdam"
            )
        row = store.get_partnership(s, "amsterdam", "busan")
        assert not row.held_by_managers
        row.programme_row = store.programme_named(s, "IUC Asia 2021-23")  # as an import or the cohort board does
        s.commit()
        with pytest.raises(Forbidden, match="IUC Asia 2021-23"):
            partnerships.delete_partnership(session=s, principal=member("busan"), profile_id="busan", other="amsterdam")
        assert (
            partnerships.delete_partnership(session=s, principal=ADMIN, profile_id="busan", other="amsterdam")
            == "ended"
        )


def test_exclusion_views_hide_the_other_sides_reason_and_key(sessions):
    with sessions() as s:
        exclusions.exclude(
            session=s, principal=member("busan"), profile_id="busan", other="amsterdam", reason="no port"
        )
        theirs = exclusions.list_exclusions(session=s, principal=member("amsterdam"), profile_id="amsterdam")
        assert [(e.excluded, e.reason, e.created_by, e.maker, e.removable) for e in theirs] == [
            ("busan", None, None, "busan", False)
        ]
        for principal, profile_id in ((member("busan"), "busan"), (MANAGER, "amsterdam")):
            (seen,) = exclusions.list_exclusions(session=s, principal=principal, profile_id=profile_id)
            assert (seen.reason, seen.created_by, seen.removable) == ("no port", "busan office", True)


def test_deleting_a_profile_others_refer_to(sessions):
    with sessions() as s:
        create_key(s, role=Role.MEMBER, profile_id="amsterdam")
        store.create_profile(s, ProfileCreate.model_validate(city("antwerp", country="BE")))
        store.upsert_cohort(s, CohortIn(id="c", name="C", sides={"EU": ["amsterdam", "antwerp"], "KR": ["busan"]}))
        exclusions.exclude(session=s, principal=member("amsterdam"), profile_id="amsterdam", other="busan", reason=None)
        s.commit()
        amsterdam = store.get_profile(s, "amsterdam")
        with pytest.raises(Referenced) as refused:
            references.delete_profile(session=s, principal=member("amsterdam"), profile=amsterdam, cascade=False)
        # its own exclusion does not block; the cohort and the organisation based in it do
        assert refused.value.extra["references"] == {
            "partnerships": [],
            "proposals": [],
            "exclusions": [],
            "cohorts": ["c"],
            "organisations": ["fontys"],
            "shortlist": [],
            "shortlisted": 0,
        }
        with pytest.raises(Forbidden):
            references.delete_profile(session=s, principal=member("amsterdam"), profile=amsterdam, cascade=True)
        done = references.delete_profile(session=s, principal=MANAGER, profile=amsterdam, cascade=True)
        s.commit()
        assert (done.removed.exclusions, done.removed.cohorts, done.keys_revoked) == (["busan"], ["c"], 1)
        assert s.scalar(select(Profile.city).where(Profile.id == "fontys")) is None
        assert sorted(s.scalars(select(CohortMember.profile_id))) == ["antwerp", "busan"]
        assert s.scalars(select(Exclusion)).all() == []
        assert s.scalar(select(ApiKey.revoked_at)) is not None


# the rules as a model: state = (partnership held by, proposer, exclusion maker)
ACTORS = ("amsterdam", "busan", "manager")
ACTIONS = ("accept", "end", "exclude", "allow")


@dataclass
class Model:
    held: str | None = None
    proposer: str | None = None
    maker: str | None = None

    def step(self, actor: str, side: str, action: str) -> type[Exception] | None:
        """Apply one decision taken by `actor` for `side`; returns the refusal the rules give, if any."""
        manager = actor == "manager"
        if action == "accept":
            if manager:
                self.held, self.proposer = "managers", None
            elif self.held is None and self.proposer not in (None, side):
                self.held, self.proposer = "members", None
            elif self.held is None and self.proposer is None:
                if self.maker is not None:
                    return Conflict
                self.proposer = side
        elif action == "end":
            if self.proposer is not None:
                self.proposer = None
            elif self.held is None:
                return NotFound
            elif self.held == "managers" and not manager:
                return Forbidden
            else:
                self.held = None
        elif action == "exclude":
            self.proposer = None
            if manager:
                self.maker = "manager"
            elif self.maker is None:
                self.maker = side
        elif action == "allow":
            if self.maker is None:
                return NotFound
            if not manager and self.maker != side:
                return Forbidden
            self.maker = None
        return None


def _decide(session: Session, actor: str, side: str, action: str) -> None:
    principal = MANAGER if actor == "manager" else member(actor)
    other = "busan" if side == "amsterdam" else "amsterdam"
    call = {
        "accept": lambda: partnerships.accept_suggestion(
            session=session, principal=principal, profile_id=side, other=other
        ),
        "end": lambda: partnerships.delete_partnership(
            session=session, principal=principal, profile_id=side, other=other
        ),
        "exclude": lambda: exclusions.exclude(
            session=session, principal=principal, profile_id=side, other=other, reason=f"{actor} says no"
        ),
        "allow": lambda: exclusions.delete_exclusion(
            session=session, principal=principal, profile_id=side, other=other
        ),
    }
    call[action]()


STEPS = st.lists(
    st.tuples(st.sampled_from(ACTORS), st.sampled_from(("amsterdam", "busan")), st.sampled_from(ACTIONS)).filter(
        lambda t: t[0] == "manager" or t[0] == t[1]  # a member speaks for its own profile only
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_any_sequence_of_decisions_follows_the_rules(sessions, steps):
    with sessions() as s:
        for model in (Exclusion, Partnership, PartnershipProposal):
            s.execute(delete(model))
        s.commit()
        model = Model()
        for actor, side, action in steps:
            refusal = model.step(actor, side, action)
            if refusal is None:
                _decide(s, actor, side, action)
            else:
                with pytest.raises(refusal):
                    _decide(s, actor, side, action)
                s.rollback()
            assert pair_state(s) == (model.held, model.proposer, model.maker), (actor, side, action)
            # a pair is never a proposal and a partnership at once, and the other side never sees a reason
            assert not (model.held and model.proposer)
            for profile_id in ("amsterdam", "busan"):
                for e in exclusions.list_exclusions(session=s, principal=member(profile_id), profile_id=profile_id):
                    assert (e.reason is not None) == (e.maker == profile_id)
