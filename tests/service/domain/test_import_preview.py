"""An import's preview says what the import then does, on SQLite and PostgreSQL (issue 18, item 5).

A property test previews random files over a stored programme (profiles changed or not, phrases
added, removed and reordered, partnerships, exclusions and cohorts new, changed or the same), imports
them, and checks the preview against what the import did: the profiles it created, updated and left,
and, from the stored rows before and after, each partnership, exclusion and cohort it created,
changed or left. A file the preview refuses the import refuses with the same problems.
"""

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from service.db import store
from service.db.engine import make_engine, make_sessionmaker, migrate, session_scope
from service.db.models import Cohort, CohortMember, Exclusion, Partnership, PartnershipProposal, Phrase, Profile
from service.domain.bundles import Draft, import_bundle, import_draft
from service.domain.import_preview import import_as_previewed, import_preview
from service.errors import InvalidBundle
from service.schemas import Bundle, ImportPreview, ImportSummary, PreviewTally
from tests.factories import city

EU, KR = ["amsterdam", "newtown"], ["busan", "seoul"]
PHRASES = ["living labs", "port logistics", "open data", "hydrogen buses"]
STORED = Bundle.model_validate(
    {
        "format": "twinning.bundle/1",
        "profiles": [
            city("amsterdam", interests=PHRASES[:2]),
            city("busan", country="KR", bloc="KR", interests=PHRASES[1:3]),
            city("seoul", country="KR", bloc="KR", interests=PHRASES[2:]),
        ],
        "partnerships": [{"a": "amsterdam", "b": "busan", "programme": "P", "themes": ["ports"]}],
        "exclusions": [{"profile": "amsterdam", "excluded": "seoul", "reason": "r"}],
        "cohorts": [{"id": "c1", "name": "C", "sides": {"EU": ["amsterdam"], "KR": ["busan", "seoul"]}}],
    }
)
WRITTEN = (CohortMember, Cohort, Exclusion, PartnershipProposal, Partnership, Phrase, Profile)


@pytest.fixture
def sessions(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def profiles():
    def make(pid: str, renamed: bool, interests: list[str]) -> dict:
        bloc, country = ("EU", "NL") if pid in EU else ("KR", "KR")
        return city(
            pid, name=pid.title() + (" City" if renamed else ""), country=country, bloc=bloc, interests=interests
        )

    one = st.builds(
        make,
        st.sampled_from(EU + KR),
        st.booleans(),
        st.lists(st.sampled_from(PHRASES), min_size=1, max_size=3, unique=True),
    )
    return st.lists(one, max_size=4, unique_by=lambda p: p["id"])


def pairs():
    return st.tuples(st.sampled_from(EU), st.sampled_from(KR))


partnership = st.builds(
    lambda pair, programme, themes: {"a": pair[0], "b": pair[1], "programme": programme, "themes": themes},
    pairs(),
    st.sampled_from([None, "P", "Q"]),
    st.sampled_from([[], ["ports"], ["energy"]]),
)
exclusion = st.builds(
    lambda pair, flip, reason: {"profile": pair[flip], "excluded": pair[1 - flip], "reason": reason},
    pairs(),
    st.integers(0, 1),
    st.sampled_from([None, "r", "s"]),
)
cohort = st.builds(
    lambda cid, name, kr: {"id": cid, "name": name, "sides": {"EU": ["amsterdam"], "KR": kr}},
    st.sampled_from(["c1", "c2"]),
    st.sampled_from(["C", "D"]),
    st.sampled_from([["busan", "seoul"], ["seoul", "busan"], ["busan"]]),
)
files = st.fixed_dictionaries(
    {
        "format": st.just("twinning.bundle/1"),
        "profiles": profiles(),
        "partnerships": st.lists(partnership, max_size=3, unique_by=lambda p: (p["a"], p["b"])),
        "exclusions": st.lists(exclusion, max_size=2, unique_by=lambda e: frozenset((e["profile"], e["excluded"]))),
        "cohorts": st.lists(cohort, max_size=2, unique_by=lambda c: c["id"]),
    }
)


def rows(session) -> dict[str, dict]:
    """Each stored partnership, exclusion and cohort by its key, as the export writes it."""
    out = store.export_bundle(session)
    return {
        "partnerships": {(p["a"], p["b"]): p for p in out["partnerships"]},
        "exclusions": {tuple(sorted((e["profile"], e["excluded"]))): e["reason"] for e in out["exclusions"]},
        "cohorts": {c["id"]: c for c in out["cohorts"]},
    }


def key(section: str, entry: dict):
    if section == "cohorts":
        return entry["id"]
    ends = (entry["a"], entry["b"]) if section == "partnerships" else (entry["profile"], entry["excluded"])
    return tuple(sorted(ends))


def done(section: str, raw: dict, before: dict, after: dict) -> PreviewTally:
    """What the import did to a section, from its rows before and after."""
    tally = PreviewTally()
    for entry in raw[section]:
        k = key(section, entry)
        if k not in before[section]:
            tally.created += 1
        elif before[section][k] != after[section][k]:
            tally.changed += 1
        else:
            tally.unchanged += 1
    return tally


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=files)
def test_the_preview_says_what_the_import_does(sessions, raw):
    with session_scope(sessions) as session:
        for model in WRITTEN:
            session.execute(delete(model))
    with session_scope(sessions) as session:
        import_bundle(session=session, live=None, bundle=STORED, accepted_by="setup")
    draft = Draft.of(Bundle.model_validate(raw))
    with sessions() as session:
        try:
            preview = import_preview(session=session, draft=draft)
        except InvalidBundle as refused:
            with pytest.raises(InvalidBundle) as imported:
                import_draft(session=session, live=None, draft=draft, accepted_by="manager")
            assert imported.value.errors == refused.errors
            event("refused")
            return
        before = rows(session)
        summary = import_draft(session=session, live=None, draft=draft, accepted_by="manager")
        after = rows(session)
    event("imported")
    assert (summary.profiles_created, summary.profiles_updated, summary.profiles_unchanged) == (
        len(preview.created),
        len(preview.changed),
        len(preview.unchanged),
    )
    for section in ("partnerships", "exclusions", "cohorts"):
        assert getattr(preview, section) == done(section, raw, before, after), section
    # imported, the file changes nothing more
    with sessions() as session:
        again = import_preview(session=session, draft=draft)
    assert not again.created and not again.changed
    for section in ("partnerships", "exclusions", "cohorts"):
        assert getattr(again, section).created == getattr(again, section).changed == 0, section


def test_a_file_is_stored_only_while_its_preview_holds(sessions):
    with session_scope(sessions) as session:
        import_bundle(session=session, live=None, bundle=STORED, accepted_by="setup")
    renamed = Draft.of(STORED.model_copy(update={"profiles": [STORED.profiles[0].model_copy(update={"name": "A"})]}))
    with sessions() as session:
        shown = import_preview(session=session, draft=renamed)
        (change,) = shown.changed
        assert [(f.field, f.before, f.after) for f in change.changes] == [("name", "Amsterdam", "A")]
    # meanwhile amsterdam's interests change: the preview would no longer say the same
    with session_scope(sessions) as session:
        edited = Bundle.model_validate({"format": STORED.format, "profiles": [city("amsterdam", interests=["x"])]})
        store.import_bundle(session, edited)
    with sessions() as session:
        result = import_as_previewed(
            session=session, live=None, draft=renamed, digest=shown.digest, accepted_by="manager"
        )
        assert isinstance(result, ImportPreview) and result.digest != shown.digest
        assert store.get_profile(session, "amsterdam").name == "Amsterdam"
        (change,) = result.changed
        assert {f.field: (f.added, f.removed) for f in change.changes}["interests"] == (PHRASES[:2], ["x"])
        stored = import_as_previewed(
            session=session, live=None, draft=renamed, digest=result.digest, accepted_by="manager"
        )
        assert isinstance(stored, ImportSummary) and stored.profiles_updated == 1
        assert store.get_profile(session, "amsterdam").name == "A"
