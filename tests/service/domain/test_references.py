"""The reference rules, on SQLite and PostgreSQL (issue 17, item 4): the use cases the API and the
workspace call refuse what bundle import refuses, with a problem naming the field and the value.

Each test is a state the round-trip property test (tests/service/api/test_bundle_round_trip.py)
reached, or one the rules were written to refuse; a stored one would export a bundle that the
service's own import refuses.
"""

import pytest
from sqlalchemy import select

from service.auth import Principal, Role
from service.db import store
from service.db.engine import make_engine, make_sessionmaker, migrate
from service.db.models import CohortMember, Profile
from service.domain import bundles, cohorts, exclusions, partnerships, profiles
from service.errors import InvalidBundle, InvalidInput, ProfileNotFound, Referenced
from service.live.index import LiveIndex
from service.schemas import Bundle, CohortBody, ProfileCreate, ProfileFields, ProfilePatch
from service.settings import Settings
from tests.factories import city

ADMIN = Principal(key_id=1, role=Role.ADMIN, profile_id=None, name=None)


def organisation(id: str, **overrides) -> dict:
    body = city(id, kind="organisation", org_type="university", interests=[])
    return body | overrides


@pytest.fixture
def sessions(database_url):
    """Amsterdam and Busan (cities), Fontys (an organisation based in Amsterdam)."""
    engine = make_engine(database_url)
    migrate(engine)
    factory = make_sessionmaker(engine)
    with factory() as session:
        for body in (
            city("amsterdam"),
            city("busan", country="KR", bloc="KR"),
            organisation("fontys", city="amsterdam"),
        ):
            store.create_profile(session, ProfileCreate.model_validate(body))
        session.commit()
    yield factory
    engine.dispose()


@pytest.fixture
def live(sessions, database_url) -> LiveIndex:
    """An index never built: a write's re-index is a no-op, so these tests encode nothing."""
    return LiveIndex(settings=Settings(database_url=database_url), sessions=sessions)


def problems(error: pytest.ExceptionInfo) -> list[tuple[str, str]]:
    return [(p.pointer, p.detail) for p in error.value.errors]


def import_profiles(session, *bodies, **rest) -> None:
    bundle = Bundle.model_validate({"format": "twinning.bundle/1", "profiles": list(bodies), **rest})
    bundles.import_bundle(session=session, live=None, bundle=bundle, accepted_by="test")


@pytest.mark.parametrize(
    ("city_id", "detail"),
    [
        ("ghost", "no profile 'ghost'"),
        ("fontys", "'fontys' is an organisation, not a city"),
        ("philips", "'philips' is the profile itself: a profile cannot be based in itself"),
    ],
)
def test_an_organisation_is_based_in_a_stored_city_on_every_path(sessions, live, city_id, detail):
    body = organisation("philips", city=city_id)
    with sessions() as s:
        with pytest.raises(InvalidInput) as created:
            profiles.create_profile(session=s, live=live, principal=ADMIN, data=ProfileCreate.model_validate(body))
        assert problems(created) == [("/city", detail)]
        with pytest.raises(InvalidBundle) as imported:
            import_profiles(s, body)
        assert problems(imported) == [("/profiles/0/city", detail)]
        assert store.profiles_by_ids(s, ["philips"]) == []


def test_replacing_or_patching_a_city_reference_checks_it(sessions, live):
    with sessions() as s:
        with pytest.raises(InvalidInput) as patched:
            profiles.patch_profile(
                session=s, live=live, principal=ADMIN, profile_id="fontys", body=ProfilePatch(city="ghost"), version=1
            )
        assert problems(patched) == [("/city", "no profile 'ghost'")]
        fields = {k: v for k, v in organisation("fontys", city="busan").items() if k != "id"}
        with pytest.raises(InvalidInput) as replaced:
            data = ProfileFields.model_validate(fields | {"city": "fontys"})
            profiles.replace_profile(session=s, live=live, principal=ADMIN, profile_id="fontys", data=data, version=1)
        assert [p for p, _ in problems(replaced)] == ["/city"]
        data = ProfileFields.model_validate(fields)
        moved = profiles.replace_profile(
            session=s, live=live, principal=ADMIN, profile_id="fontys", data=data, version=1
        )
        assert (moved.city, moved.version) == ("busan", 2)


def test_a_city_others_count_as_a_city_stays_one(sessions, live):
    with sessions() as s:
        cohorts.save_cohort(
            session=s, cohort_id="c", body=CohortBody(name="C", sides={"EU": ["amsterdam"], "KR": ["busan"]})
        )
        to_organisation = ProfilePatch(kind="organisation", org_type="ngo")
        with pytest.raises(InvalidInput) as refused:
            profiles.patch_profile(
                session=s, live=live, principal=ADMIN, profile_id="amsterdam", body=to_organisation, version=1
            )
        assert problems(refused) == [
            (
                "/kind",
                "'amsterdam' is the city of 'fontys', a member of cohort 'c': it stays a city while they refer to it",
            )
        ]
        with pytest.raises(InvalidBundle) as imported:
            import_profiles(s, organisation("amsterdam"))
        assert [p for p, _ in problems(imported)] == ["/profiles/0/kind"]
        # a bundle that moves what refers to it (the organisation, the cohort) may make it an organisation
        import_profiles(
            s,
            organisation("amsterdam"),
            organisation("fontys", city="busan"),
            city("seoul", country="KR", bloc="KR"),
            cohorts=[{"id": "c", "name": "C", "sides": {"EU": ["busan"], "KR": ["seoul"]}}],
        )
        assert s.scalar(select(Profile.kind).where(Profile.id == "amsterdam")) == "organisation"


def test_every_cohort_side_has_a_member_and_every_member_is_a_city(sessions):
    sides = {"EU": [], "KR": ["busan"], "JP": ["fontys"]}
    with sessions() as s:
        with pytest.raises(InvalidInput) as saved:
            cohorts.save_cohort(session=s, cohort_id="c", body=CohortBody(name="C", sides=sides))
        expected = [
            ("/sides/EU", "a side needs at least one member"),
            ("/sides/JP/0", "'fontys' is an organisation: cohort members are cities"),
        ]
        assert problems(saved) == expected
        with pytest.raises(InvalidBundle) as imported:
            import_profiles(s, cohorts=[{"id": "c", "name": "C", "sides": sides}])
        assert problems(imported) == [(f"/cohorts/0{p}", d) for p, d in expected]
        assert s.scalars(select(CohortMember)).all() == []


def test_a_cascade_that_would_leave_a_cohort_one_sided_is_refused(sessions, live):
    with sessions() as s:
        cohorts.save_cohort(
            session=s, cohort_id="c", body=CohortBody(name="C", sides={"EU": ["amsterdam"], "KR": ["busan"]})
        )
        with pytest.raises(Referenced) as refused:
            profiles.delete_profile(session=s, live=live, principal=ADMIN, profile_id="busan", version=1, cascade=True)
        assert refused.value.extra["references"]["cohorts"] == ["c"]
        s.rollback()
        assert sorted(s.scalars(select(CohortMember.profile_id))) == ["amsterdam", "busan"]
        cohorts.delete_cohort(session=s, cohort_id="c")
        gone = profiles.delete_profile(
            session=s, live=live, principal=ADMIN, profile_id="amsterdam", version=1, cascade=True
        )
        assert (gone.deleted, gone.removed.organisations) == ("amsterdam", ["fontys"])
        assert s.scalar(select(Profile.city).where(Profile.id == "fontys")) is None


def test_a_pair_decision_names_the_missing_profile_and_its_field(sessions):
    with sessions() as s:
        with pytest.raises(ProfileNotFound) as excluded:
            exclusions.exclude(session=s, principal=ADMIN, profile_id="busan", other="ghost", reason=None)
        assert problems(excluded) == [("/excluded", "no profile 'ghost'")]
        with pytest.raises(ProfileNotFound) as accepted:
            partnerships.accept_suggestion(session=s, principal=ADMIN, profile_id="busan", other="ghost")
        assert problems(accepted) == [("/other", "no profile 'ghost'")]
        with pytest.raises(InvalidInput) as itself:
            partnerships.accept_suggestion(session=s, principal=ADMIN, profile_id="busan", other="busan")
        assert problems(itself) == [("/other", "'busan' is on both sides: a profile cannot pair with itself")]
        with pytest.raises(InvalidBundle) as imported:
            import_profiles(s, exclusions=[{"profile": "busan", "excluded": "busan"}])
        assert problems(imported) == [
            ("/exclusions/0/excluded", "'busan' is on both sides: a profile cannot pair with itself")
        ]
