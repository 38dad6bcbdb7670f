"""The profile list's filters and search on the pages, on both databases: codes in either case, a country
picker by name, the full-text search (accents folded, words joined and split, in step with writes), and the run
diff's profile filter, which finds profiles by that search."""

import re

import pytest
from fastapi.testclient import TestClient

from service.batch.jobs import RerankParams, rerank
from tests.factories import city
from tests.web.test_pages import sign_in

LISTED = re.compile(r'<th scope="row"><a href="/app/profiles/([^"]+)"')
COUNTRY_OPTION = re.compile(r'<option value="([A-Z]{2})" ?(selected)?>([^<]+)</option>')


@pytest.fixture
def manager(demo, keys) -> TestClient:
    """The demo's client, signed in as a manager."""
    sign_in(demo, keys.manager)
    return demo


def listed(client: TestClient, query: str) -> list[str]:
    page = client.get(f"/app/profiles?{query}")
    assert page.status_code == 200, page.text
    return LISTED.findall(page.text)


def test_bloc_and_country_codes_are_found_in_either_case(manager):
    korean_cities = ["busan", "gwangju", "seoul", "suwon"]
    assert listed(manager, "kind=city&bloc=kr") == listed(manager, "kind=city&bloc=KR") == korean_cities
    assert listed(manager, "kind=city&bloc=Kr&country=kr") == korean_cities
    assert listed(manager, "country=nl") == ["eindhoven", "fontys", "philips-lighting"]


def test_the_country_picker_names_the_countries_profiles_are_in_and_sends_their_code(manager):
    page = manager.get("/app/profiles").text
    assert 'name="country" value=' not in page  # no two-letter text box any more
    options = COUNTRY_OPTION.findall(page)
    assert [(code, name) for code, _, name in options] == [
        ("BE", "Belgium"),
        ("DK", "Denmark"),
        ("FI", "Finland"),
        ("NL", "Netherlands"),
        ("KR", "South Korea"),
        ("ES", "Spain"),
        ("GB", "United Kingdom"),
    ]
    assert not any(selected for _, selected, _ in options)
    chosen = manager.get("/app/profiles?country=NL").text
    assert [name for _, selected, name in COUNTRY_OPTION.findall(chosen) if selected] == ["Netherlands"]
    # a link may name the country: "Netherlands" is the Netherlands, never cut to "NE"
    for query in ("country=Netherlands", "country=netherlands", "country=%20nl%20"):
        assert listed(manager, query) == ["eindhoven", "fontys", "philips-lighting"], query
    named = manager.get("/app/profiles?country=Netherlands").text
    assert [code for code, selected, _ in COUNTRY_OPTION.findall(named) if selected] == ["NL"]
    # a country no profile is in stays chosen in the picker, and nothing matches
    empty = manager.get("/app/profiles?country=FR").text
    assert ("FR", "selected", "France") in COUNTRY_OPTION.findall(empty) and "No profile matches" in empty


def test_the_search_folds_accents_and_finds_joined_and_split_words(manager):
    assert listed(manager, "q=sonar") == listed(manager, "q=S%C3%93NAR") == ["sonar"]  # Sónar, either way
    streetlights = ["busan", "philips-lighting", "seoul"]  # streetlight pilots, street lighting, streetlights
    assert listed(manager, "q=streetlights") == listed(manager, "q=streetlight") == streetlights
    # "street lights" also finds Eindhoven: a "street-level" test bed and "public lighting"
    assert listed(manager, "q=street+lights") == ["busan", "eindhoven", "philips-lighting", "seoul"]
    assert listed(manager, "q=egovernance") == ["eindhoven", "seoul"]  # e-governance
    assert listed(manager, "q=livinglabs") == listed(manager, "q=living+labs") == ["eindhoven", "seoul"]
    page = manager.get("/app/profiles?q=street+lights&kind=organisation").text
    assert LISTED.findall(page) == ["philips-lighting"] and "1 profile matching “street lights”" in page


def test_the_search_follows_a_profile_written_since(manager, keys):
    assert listed(manager, "q=zeppelin") == []
    body = city("friedrichshafen", name="Friedrichshafen", country="DE", interests=["Zeppelin museum"])
    assert manager.post("/profiles", json=body, headers=keys.auth("admin")).status_code == 201
    assert listed(manager, "q=zeppelin") == ["friedrichshafen"]
    r = manager.delete("/profiles/friedrichshafen", headers={**keys.auth("admin"), "If-Match": '"1"'})
    assert r.status_code == 204
    assert listed(manager, "q=zeppelin") == []


RUN_DIFF_HEADS = re.compile(r'<h3><a href="/app/profiles/([^"]+)">')


def test_the_run_diff_finds_a_profile_by_its_name_as_well_as_by_its_id(manager, keys):
    settings, sessions = manager.app.state.settings, manager.app.state.sessions
    rerank(settings, sessions, RerankParams())
    r = manager.post("/profiles/eindhoven/exclusions", json={"excluded": "fontys"}, headers=keys.auth("manager"))
    assert r.status_code == 201, r.text
    second = rerank(settings, sessions, RerankParams())

    def shown(profile: str) -> set[str]:
        page = manager.get(f"/app/runs/{second.id}", params={"profile": profile})
        assert page.status_code == 200, page.text
        return set(RUN_DIFF_HEADS.findall(page.text))

    assert {"eindhoven", "fontys"} <= shown("")
    assert shown("fontys") == shown("Fontys") == shown("FONTYS university") == {"fontys"}
    # names only: Fontys's description speaks of Eindhoven, and "applied sciences" are words of its name
    assert shown("Eindhoven") == shown("eindhoven") == {"eindhoven"}
    assert shown("applied sciences") == {"fontys"}
    assert shown("zeppelin") == set()


def test_the_suggestions_page_takes_a_bloc_in_either_case(manager):
    page = manager.get("/app/profiles/doosan/suggestions?target=city&bloc=kr")
    assert page.status_code == 200, page.text
    shown = set(re.findall(r'<li class="card suggestion" id="s-([^"]+)"', page.text))
    assert shown and shown <= {"busan", "gwangju", "seoul", "suwon"}
