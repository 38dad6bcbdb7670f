"""GET /profiles's filters and full-text search as a person expects them, on SQLite (FTS5) and PostgreSQL
(tsvector): codes in either case, accents folded, words found joined and split, the index in step with writes."""

from tests.factories import city


def organisation(id: str, **overrides) -> dict:
    return city(id, kind="organisation", org_type="company", interests=[], **overrides)


def found(client, keys, **params) -> list[str]:
    r = client.get("/profiles", params=params, headers=keys.auth("manager"))
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["items"]]


def store(client, keys, *bodies: dict) -> None:
    for body in bodies:
        r = client.post("/profiles", json=body, headers=keys.auth("admin"))
        assert r.status_code == 201, r.text


def test_bloc_and_country_codes_are_found_in_either_case(client, keys):
    store(
        client,
        keys,
        city("eindhoven"),
        city("seoul", country="KR", bloc="KR"),
        city("busan", country="KR", bloc="KR"),
        city("kyiv", country="UA", bloc="eap"),  # a bloc stored in lower case
    )
    for bloc in ("kr", "KR", "Kr"):
        assert found(client, keys, bloc=bloc) == ["busan", "seoul"]
    assert found(client, keys, bloc="EAP") == ["kyiv"]
    assert found(client, keys, country="nl") == ["eindhoven"]
    assert found(client, keys, country="kR", bloc="kr") == ["busan", "seoul"]


def test_a_country_is_a_code_and_anything_else_is_a_problem_naming_it(client, keys):
    r = client.get("/profiles", params={"country": "Netherlands"}, headers=keys.auth("manager"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/query/country"


ACCENTED = [
    city("barcelona", country="ES", name="Barcelona", interests=["Sónar music festival", "urban mobility"]),
    city("sao-paulo", country="BR", bloc="LA", name="São Paulo", interests=["favela upgrading"]),
    city("zurich", country="CH", name="Zürich", interests=["Düsseldorf exchange"]),
    city("plain", name="Plain City", interests=["sonar mapping of the harbour", "malmo ferries"]),
    city("malmo", country="SE", name="Malmö", interests=["harbour renewal"]),
]


# each query and the ids it finds: the profiles are stored once per database for all of them
ACCENT_CASES = {
    "sonar": ["barcelona", "plain"],  # no accent finds the accented word and the plain one
    "SÓNAR": ["barcelona", "plain"],  # an accent (and capitals) in the query finds both too
    "sao paulo": ["sao-paulo"],
    "SAO PAULO": ["sao-paulo"],
    "zurich": ["zurich"],
    "dusseldorf": ["zurich"],  # in an interest, not the name
    "malmö": ["malmo", "plain"],
    "harbours": ["malmo", "plain"],  # and stemmed: "harbours" finds harbour
    "Malmo": ["malmo", "plain"],
}


def test_search_ignores_case_and_accents_both_ways(client, keys):
    store(client, keys, *ACCENTED)
    assert {q: found(client, keys, q=q) for q in ACCENT_CASES} == ACCENT_CASES


JOINED_AND_SPLIT = [
    city(id, description=description, interests=interests, offers=offers)
    for id, description, interests, offers in (
        ("joined", "A city.", ["smart streetlights"], []),
        ("split", "A city.", ["street lights with sensors"], []),
        ("hyphen", "A city.", ["e-governance and m-voting"], []),
        ("oneword", "A city.", ["egovernance"], ["livinglabs"]),
        ("labs", "Its harbour street. Lights of the old town are famous.", ["living labs"], []),
        ("lab3", "A city.", ["smart city lab", "public lighting", "data platforms"], []),
    )
]

JOINED_CASES = {
    # a joined query word finds the words apart, and two query words find them joined
    "streetlights": ["joined", "split"],
    "street lights": ["joined", "labs", "split"],  # labs has both words, in its description
    "street-lights": ["joined", "labs", "split"],
    "egovernance": ["hyphen", "oneword"],
    "e governance": ["hyphen", "oneword"],
    "e-governance": ["hyphen", "oneword"],
    "living labs": ["labs", "oneword"],
    "livinglabs": ["labs", "oneword"],
    "mvoting": ["hyphen"],
    # a query word starts a word: "light" finds lights and lighting
    "street light": ["joined", "labs", "split"],
    "light": ["lab3", "labs", "split"],
    # words in any order; joined only in the order written
    "lights street": ["labs", "split"],
    # stemmed as English: "lights" finds lighting; but a word must start a word, and "light" is inside streetlights
    "lights": ["lab3", "labs", "split"],
    "streetlight": ["joined", "split"],
    "street lighting": ["joined", "labs", "split"],
    # two words are joined, not three
    "smartcitylab": [],
    "smartcity lab": ["lab3"],
    # never across phrases ("public lighting", "data platforms") or a full stop ("street. Lights")
    "lightingdata": [],
    "harbourstreet": ["labs"],
    "streetlights harbour": [],
    # every word must be found
    "street zeppelin": [],
}


def test_search_finds_words_joined_and_split(client, keys):
    store(client, keys, *JOINED_AND_SPLIT)
    assert {q: found(client, keys, q=q) for q in JOINED_CASES} == JOINED_CASES


def test_a_search_without_a_word_finds_nothing_and_one_of_spaces_is_no_search(client, keys):
    store(client, keys, city("eindhoven"), city("seoul", country="KR", bloc="KR"))
    assert found(client, keys, q="%") == []
    assert found(client, keys, q='" * OR NEAR(') == []
    assert found(client, keys, q="   ") == ["eindhoven", "seoul"]


def test_matches_are_listed_by_id_and_paged_by_cursor_with_the_other_filters(client, keys):
    store(
        client,
        keys,
        *(city(f"city-{n}", interests=[f"living labs {n}"]) for n in (3, 1, 4, 2)),
        city("city-0", interests=["harbours"]),
        organisation("org-1", offers=["living lab software"]),
    )
    h = keys.auth("manager")
    first = client.get("/profiles", params={"q": "living lab", "kind": "city", "limit": 3}, headers=h).json()
    assert [p["id"] for p in first["items"]] == ["city-1", "city-2", "city-3"] and first["total"] == 4
    rest = client.get(
        "/profiles", params={"q": "living lab", "kind": "city", "limit": 3, "cursor": first["next_cursor"]}, headers=h
    ).json()
    assert [p["id"] for p in rest["items"]] == ["city-4"] and rest["next_cursor"] is None
    assert found(client, keys, q="living lab") == ["city-1", "city-2", "city-3", "city-4", "org-1"]


def test_the_index_follows_create_replace_patch_delete_and_import(client, keys):
    admin = keys.auth("admin")
    store(client, keys, city("tampere", name="Tampere", interests=["tram lines"]))
    assert found(client, keys, q="tram") == ["tampere"]

    body = city("tampere", name="Tampere", interests=["district heating"])
    r = client.put("/profiles/tampere", json=body, headers={**admin, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert found(client, keys, q="tram") == [] and found(client, keys, q="districtheating") == ["tampere"]

    r = client.patch("/profiles/tampere", json={"name": "Tampere Región"}, headers={**admin, "If-Match": '"2"'})
    assert r.status_code == 200, r.text
    assert found(client, keys, q="region") == ["tampere"] and found(client, keys, q="heating") == ["tampere"]

    bundle = {
        "format": "twinning.bundle/1",
        "profiles": [
            city("tampere", name="Tampere", interests=["Sónar nights"]),  # changed by the import
            city("oulu", name="Oulu", interests=["arctic streetlights"]),  # created by it
        ],
    }
    r = client.post("/bundles", json=bundle, headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["profiles_created"], r.json()["profiles_updated"]) == (1, 1)
    assert found(client, keys, q="sonar") == ["tampere"] and found(client, keys, q="region") == []
    assert found(client, keys, q="street lights") == ["oulu"]
    r = client.post("/bundles", json=bundle, headers=admin)  # unchanged: indexed as it was
    assert r.json()["profiles_unchanged"] == 2 and found(client, keys, q="sonar") == ["tampere"]

    r = client.delete("/profiles/oulu", headers={**admin, "If-Match": '"1"'})
    assert r.status_code == 204
    assert found(client, keys, q="street lights") == []
    store(client, keys, city("oulu", name="Oulu", interests=["snow"]))  # the id again: only its new text
    assert found(client, keys, q="street lights") == [] and found(client, keys, q="snow") == ["oulu"]
