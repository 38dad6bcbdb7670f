"""For every state the API can reach, `GET /bundles` imports again unchanged (issue 17, item 4).

A hypothesis state machine drives random sequences of API writes through the app, on SQLite and
PostgreSQL: profiles created, replaced, patched, imported and deleted (with and without cascade),
pair decisions, exclusions, cohorts and their pairings, by admins, managers, the profiles' own
members and other members. A write the reference rules must refuse is checked to be a 4xx, and every
4xx to change nothing; a cascade must report what it took. At the end of each sequence the export
is imported into an empty second database, which must accept it and export it again: the same
bundle, save that an exclusion reads as its maker's side only where a member made it (an import is
a manager's, so the copy reads each of them from its first side: the same pair, held both ways).
The export also imports back into the app's own database changing nothing.
"""

import json
import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from service.auth import Role, create_key
from service.db.engine import make_engine, make_sessionmaker, migrate, session_scope
from service.db.models import (
    ApiKey,
    Cohort,
    CohortMember,
    Exclusion,
    Partnership,
    PartnershipProposal,
    Phrase,
    Profile,
)
from service.domain import bundles

# where each profile of the pool is; any of them may be created as either kind
PLACES = {
    "amsterdam": ("NL", "EU"),
    "barcelona": ("ES", "EU"),
    "busan": ("KR", "KR"),
    "seoul": ("KR", "KR"),
    "fontys": ("NL", "EU"),
    "kaist": ("KR", "KR"),
}
IDS = sorted(PLACES)
GHOST = "ghost"  # never created: every reference to it must be refused
# a small pool of texts, so the vector cache answers nearly every encoding
PHRASES = ["smart lighting", "living labs", "port logistics", "hydrogen buses", "open data"]
DESCRIPTIONS = ["A city that wants partners abroad.", "Research on urban mobility and energy."]
REASONS = [None, "already cooperating"]
COHORTS = ["c1", "c2"]
SIDES = ["EU", "KR", "JP"]
# the rows the machine writes, children first; cached vectors are kept so later examples hit the cache
WRITTEN = (CohortMember, Cohort, Exclusion, PartnershipProposal, Partnership, Phrase, Profile)

ids = st.sampled_from(IDS)
refs = st.sampled_from([*IDS, GHOST])
kinds = st.sampled_from(["city", "organisation"])
cities = st.one_of(st.none(), refs)
phrases = st.lists(st.sampled_from(PHRASES), max_size=2, unique=True)
# who writes: an admin or a manager, the profile's own member, or another profile's member
actors = st.sampled_from(["admin", "manager", "own", "stranger"])


def profile_body(pid: str, kind: str, city: str | None, interests: list[str], offers: list[str]) -> dict:
    country, bloc = PLACES[pid]
    return {
        "id": pid,
        "kind": kind,
        "name": pid.title(),
        "country": country,
        "bloc": bloc,
        "org_type": None if kind == "city" else "university",
        "city": city,
        "description": DESCRIPTIONS[len(pid) % 2],
        "interests": interests,
        "offers": offers,
    }


def clear(sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        for model in WRITTEN:
            session.execute(delete(model))
        session.execute(delete(ApiKey).where(ApiKey.role == Role.MEMBER.value))


def meaning(bundle: dict) -> dict:
    """A bundle with each exclusion as the pair it holds between (both ways) and its reason."""
    pairs = sorted((sorted((e["profile"], e["excluded"])), e["reason"]) for e in bundle["exclusions"])
    return bundle | {"exclusions": pairs}


@pytest.fixture
def empty_database_url(database_url, tmp_path) -> Iterator[str]:
    """A second, empty database of the same kind, migrated, for the export to be imported into."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'copy.db'}"
        yield url
        return
    admin = create_engine(os.environ["TWINNING_TEST_POSTGRES_URL"], isolation_level="AUTOCOMMIT")
    name = f"twinning_copy_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_every_state_the_api_reaches_exports_a_bundle_that_imports_again(app, client, empty_database_url):
    sessions = app.state.sessions
    live = app.state.live
    copy_engine = make_engine(empty_database_url)
    migrate(copy_engine)
    copies = make_sessionmaker(copy_engine)
    with session_scope(sessions) as session:
        admin = {"Authorization": f"Bearer {create_key(session, role=Role.ADMIN)[0]}"}
        manager = {"Authorization": f"Bearer {create_key(session, role=Role.MANAGER)[0]}"}

    class ApiWrites(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            clear(sessions)
            live.profiles_changed(IDS)  # drop whatever the previous example left in the index
            with session_scope(sessions) as session:
                self.members = {
                    pid: {"Authorization": f"Bearer {create_key(session, role=Role.MEMBER, profile_id=pid)[0]}"}
                    for pid in IDS
                }
            self.dead: set[str] = set()  # profiles deleted once: their member keys died with them
            self.state = self.export()

        # the state, read through the export

        def export(self) -> dict:
            r = client.get("/bundles", headers=manager)
            assert r.status_code == 200, r.text
            return r.json()

        def profiles(self) -> dict[str, dict]:
            return {p["id"]: p for p in self.state["profiles"]}

        def city_ok(self, pid: str, city: str | None) -> bool:
            stored = self.profiles()
            return city is None or (city != pid and stored.get(city, {}).get("kind") == "city")

        def counted_as_city(self, pid: str) -> bool:
            named = any(p["city"] == pid and p["id"] != pid for p in self.state["profiles"])
            return named or any(pid in ms for c in self.state["cohorts"] for ms in c["sides"].values())

        def headers(self, actor: str, pid: str) -> dict[str, str]:
            if actor in ("admin", "manager"):
                return admin if actor == "admin" else manager
            owner = pid if actor == "own" else next(p for p in IDS if p != pid)
            return self.members[owner]

        def may_write(self, actor: str, pid: str) -> bool:
            """Whether the actor may write the profile's own data (its fields, its pair decisions)."""
            return actor in ("admin", "manager") or (actor == "own" and pid not in self.dead)

        def write(self, method: str, url: str, headers: dict[str, str], expect: str | None, **kw) -> dict | None:
            """Send a write; `expect` is "ok" (2xx), "refused" (4xx) or None (either, as the pair rules say)."""
            r = client.request(method, url, headers=headers, **kw)
            assert r.status_code < 500, (method, url, r.text)
            after = self.export()
            if r.status_code >= 400:
                assert after == self.state, ("a refused write changed something", method, url, r.text)
            if expect == "ok":
                assert r.status_code < 300, (method, url, kw, r.text)
            elif expect == "refused":
                assert r.status_code >= 400, ("a write that breaks a rule was stored", method, url, kw, r.text)
            self.state = after
            return r.json() if r.status_code == 200 and r.content else None

        def version(self, pid: str) -> str:
            r = client.get(f"/profiles/{pid}", headers=admin)
            return r.headers["ETag"] if r.status_code == 200 else '"1"'

        # profiles

        @rule(pid=ids, kind=kinds, city=cities, interests=phrases, offers=phrases, actor=actors)
        def create_profile(self, pid, kind, city, interests, offers, actor):
            body = profile_body(pid, kind, city, interests, offers)
            valid = (kind != "city" or interests) and pid not in self.profiles() and self.city_ok(pid, city)
            allowed = actor == "admin" or (actor == "own" and pid not in self.dead)
            expect = "ok" if valid and allowed else "refused"
            self.write("POST", "/profiles", self.headers(actor, pid), expect, json=body)

        @rule(pid=ids, kind=kinds, city=cities, interests=phrases, offers=phrases, actor=actors)
        def replace_profile(self, pid, kind, city, interests, offers, actor):
            body = profile_body(pid, kind, city, interests, offers)
            valid = (kind != "city" or interests) and pid in self.profiles() and self.city_ok(pid, city)
            valid = valid and (kind == "city" or not self.counted_as_city(pid))
            allowed = actor == "admin" or (actor == "own" and pid not in self.dead)
            expect = "ok" if valid and allowed else "refused"
            headers = self.headers(actor, pid) | {"If-Match": self.version(pid)}
            self.write("PUT", f"/profiles/{pid}", headers, expect, json=body)

        @rule(pid=ids, city=cities, to_organisation=st.booleans(), actor=actors)
        def patch_profile(self, pid, city, to_organisation, actor):
            body: dict = {"city": city}
            if to_organisation:
                body |= {"kind": "organisation", "org_type": "ngo"}
            valid = pid in self.profiles() and self.city_ok(pid, city)
            valid = valid and not (to_organisation and self.counted_as_city(pid))
            allowed = actor == "admin" or (actor == "own" and pid not in self.dead)
            expect = "ok" if valid and allowed else "refused"
            headers = self.headers(actor, pid) | {"If-Match": self.version(pid)}
            self.write("PATCH", f"/profiles/{pid}", headers, expect, json=body)

        @rule(pid=ids, kind=kinds, city=cities, interests=phrases)
        def import_profile(self, pid, kind, city, interests):
            bundle = {"format": "twinning.bundle/1", "profiles": [profile_body(pid, kind, city, interests, [])]}
            valid = (kind != "city" or interests) and self.city_ok(pid, city)
            valid = valid and (kind == "city" or not self.counted_as_city(pid))
            self.write("POST", "/bundles", manager, "ok" if valid else "refused", json=bundle)

        @rule(pid=ids, cascade=st.booleans(), actor=st.sampled_from(["admin", "own"]))
        def delete_profile(self, pid, cascade, actor):
            before = self.state
            partners = sorted(
                p["b"] if p["a"] == pid else p["a"] for p in before["partnerships"] if pid in (p["a"], p["b"])
            )
            excluded = sorted(
                e["excluded"] if e["profile"] == pid else e["profile"]
                for e in before["exclusions"]
                if pid in (e["profile"], e["excluded"])
            )
            in_cohorts = sorted(c["id"] for c in before["cohorts"] if any(pid in ms for ms in c["sides"].values()))
            based = sorted(p["id"] for p in before["profiles"] if p["city"] == pid)
            one_sided = any(
                sum(1 for ms in c["sides"].values() if set(ms) - {pid}) < 2
                for c in before["cohorts"]
                if c["id"] in in_cohorts
            )
            exists = pid in self.profiles()
            if not exists or not self.may_write(actor, pid) or (cascade and actor != "admin"):
                expect = "refused"
            elif cascade:
                expect = "refused" if one_sided else "ok"
            else:  # who made an exclusion is not in the export: those of its own member do not block
                expect = "refused" if partners or in_cohorts or based else None
            headers = self.headers(actor, pid) | {"If-Match": self.version(pid)}
            url = f"/profiles/{pid}" + ("?cascade=true" if cascade else "")
            answer = self.write("DELETE", url, headers, expect)
            if pid not in self.profiles() and exists:
                self.dead.add(pid)
            if answer is not None:  # what a cascade took is what referred to it
                removed = answer["removed"]
                assert (sorted(removed["partnerships"]), removed["cohorts"]) == (partners, in_cohorts)
                assert (sorted(removed["exclusions"]), removed["organisations"]) == (excluded, based)

        # pair decisions

        @rule(pid=ids, other=refs, actor=actors)
        def accept(self, pid, other, actor):
            stored = self.profiles()
            if pid not in stored or other not in stored or other == pid or not self.may_write(actor, pid):
                expect = "refused"
            else:  # a member's accept across an exclusion is refused
                expect = "ok" if actor in ("admin", "manager") else None
            self.write("POST", f"/profiles/{pid}/suggestions/{other}/accept", self.headers(actor, pid), expect)

        @rule(pid=ids, other=refs, reason=st.sampled_from(REASONS), actor=actors)
        def exclude(self, pid, other, reason, actor):
            stored = self.profiles()
            valid = pid in stored and other in stored and other != pid and self.may_write(actor, pid)
            body = {"excluded": other, "reason": reason}
            url = f"/profiles/{pid}/exclusions"
            self.write("POST", url, self.headers(actor, pid), "ok" if valid else "refused", json=body)

        @rule(pid=ids, other=ids, actor=actors)
        def end_partnership(self, pid, other, actor):
            self.write("DELETE", f"/profiles/{pid}/partnerships/{other}", self.headers(actor, pid), None)

        @rule(pid=ids, other=ids, actor=actors)
        def remove_exclusion(self, pid, other, actor):
            self.write("DELETE", f"/profiles/{pid}/exclusions/{other}", self.headers(actor, pid), None)

        # cohorts

        @rule(
            cid=st.sampled_from(COHORTS),
            sides=st.dictionaries(
                st.sampled_from(SIDES), st.lists(refs, max_size=2, unique=True), min_size=1, max_size=3
            ),
            actor=st.sampled_from(["manager", "own"]),
        )
        def put_cohort(self, cid, sides, actor):
            stored = self.profiles()
            members = [m for ms in sides.values() for m in ms]
            valid = len(sides) >= 2 and all(sides.values()) and len(set(members)) == len(members)
            valid = valid and all(stored.get(m, {}).get("kind") == "city" for m in members) and actor == "manager"
            body = {"name": cid.upper(), "sides": sides}
            self.write("PUT", f"/cohorts/{cid}", self.headers(actor, IDS[0]), "ok" if valid else "refused", json=body)

        @rule(cid=st.sampled_from(COHORTS))
        def delete_cohort(self, cid):
            exists = any(c["id"] == cid for c in self.state["cohorts"])
            self.write("DELETE", f"/cohorts/{cid}", manager, "ok" if exists else "refused")

        @rule(cid=st.sampled_from(COHORTS), a=ids, b=ids)
        def accept_cohort_pair(self, cid, a, b):
            cohort = next((c for c in self.state["cohorts"] if c["id"] == cid), None)
            side = {m: s for s, ms in (cohort["sides"] if cohort else {}).items() for m in ms}
            valid = a in side and b in side and side[a] != side[b]
            body = {"pairs": [[a, b]]}
            self.write("POST", f"/cohorts/{cid}/pairing/accept", manager, "ok" if valid else "refused", json=body)

        def teardown(self) -> None:
            exported = self.export()
            # into an empty database: accepted, and exported again as the same bundle
            clear(copies)
            with copies() as session:
                draft = bundles.read_json(json.dumps(exported).encode())
                bundles.import_draft(session=session, live=None, draft=draft, accepted_by="round trip")
                again = bundles.export_bundle(session=session)
            assert meaning(again) == meaning(exported)
            # into its own database: nothing changes
            r = client.post("/bundles", json=exported, headers=manager)
            assert r.status_code == 200, r.text
            assert r.json()["profiles_created"] == r.json()["profiles_updated"] == 0
            assert self.export() == exported

    try:
        run_state_machine_as_test(
            ApiWrites,
            settings=settings(
                max_examples=25,
                stateful_step_count=20,
                deadline=None,
                derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        copy_engine.dispose()


def test_a_reference_error_is_a_problem_naming_the_field_and_the_value(client, keys):
    admin = keys.auth("admin")
    body = profile_body("fontys", "organisation", GHOST, [], [])
    r = client.post("/profiles", json=body, headers=admin)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"pointer": "/city", "detail": "no profile 'ghost'"}]
    assert client.get("/bundles", headers=keys.auth("manager")).json()["profiles"] == []
