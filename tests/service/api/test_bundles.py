"""Bundles: all-or-nothing import with every problem listed, idempotent upsert, export round trip, CSV."""

import json
from pathlib import Path

from tests.factories import city

DATA = Path(__file__).resolve().parents[3] / "data"


def _bundle(*profiles, **rest) -> dict:
    return {"format": "twinning.bundle/1", "profiles": list(profiles), **rest}


def test_demo_bundle_imports_and_reimport_is_idempotent(client, keys):
    raw = json.loads((DATA / "world-cities-eu-korea.json").read_text())
    h = keys.auth("manager")
    first = client.post("/bundles", json=raw, headers=h).json()
    assert first["profiles_created"] == len(raw["profiles"])
    second = client.post("/bundles", json=raw, headers=h).json()
    assert second["profiles_created"] == 0 and second["profiles_updated"] == 0
    assert second["profiles_unchanged"] == len(raw["profiles"])
    assert client.get("/profiles/eindhoven", headers=h).json()["version"] == 1
    exported = client.get("/bundles", headers=h).json()
    assert {p["id"] for p in exported["profiles"]} == {p["id"] for p in raw["profiles"]}
    assert len(exported["partnerships"]) == len(raw["partnerships"])
    assert exported["cohorts"][0]["sides"] == raw["cohorts"][0]["sides"]


def test_export_imports_back_unchanged(client, keys):
    raw = json.loads((DATA / "world-cities-eu-korea.json").read_text())
    h = keys.auth("manager")
    client.post("/bundles", json=raw, headers=h)
    exported = client.get("/bundles", headers=h).json()
    again = client.post("/bundles", json=exported, headers=h).json()
    assert again["profiles_updated"] == 0 and again["profiles_created"] == 0


def test_one_bad_profile_stores_nothing_and_every_problem_is_listed(client, keys):
    bundle = _bundle(
        city("eindhoven"),
        city("seoul", country="ZZ", bloc="KR"),
        city("Bad Id"),
        partnerships=[{"a": "eindhoven", "b": "nowhere"}],
    )
    r = client.post("/bundles", json=bundle, headers=keys.auth("manager"))
    assert r.status_code == 422
    pointers = {e["pointer"] for e in r.json()["errors"]}
    assert {"/profiles/1/country", "/profiles/2/id"} <= pointers
    assert client.get("/profiles", headers=keys.auth("manager")).json()["total"] == 0


def test_dangling_references_are_listed_with_paths(client, keys):
    bundle = _bundle(
        city("eindhoven"),
        partnerships=[{"a": "eindhoven", "b": "nowhere"}],
        cohorts=[{"name": "C", "sides": {"EU": ["eindhoven"], "KR": ["ghost"]}}],
        exclusions=[{"profile": "eindhoven", "excluded": "phantom"}],
    )
    r = client.post("/bundles", json=bundle, headers=keys.auth("manager"))
    assert r.status_code == 422
    pointers = {e["pointer"] for e in r.json()["errors"]}
    assert pointers == {"/partnerships/0/b", "/cohorts/0/sides/KR/0", "/exclusions/0/excluded"}
    assert client.get("/profiles", headers=keys.auth("manager")).json()["total"] == 0


def test_update_via_bundle_bumps_version_and_keeps_other_data(client, keys):
    h = keys.auth("manager")
    client.post("/bundles", json=_bundle(city("eindhoven"), city("seoul", country="KR", bloc="KR")), headers=h)
    r = client.post("/bundles", json=_bundle(city("eindhoven", interests=["hydrogen"])), headers=h).json()
    assert r["profiles_updated"] == 1
    assert client.get("/profiles/eindhoven", headers=h).json()["version"] == 2
    assert client.get("/profiles/seoul", headers=h).json()["version"] == 1


def test_wrong_format_and_not_json(client, keys):
    h = keys.auth("manager")
    r = client.post("/bundles", json={"format": "other", "profiles": []}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/format"
    r = client.post("/bundles", content=b"[1,2", headers={**h, "content-type": "application/json"})
    assert r.status_code == 422


CSV = (
    "id,kind,name,country,bloc,org_type,city,description,interests,offers\n"
    "eindhoven,city,Eindhoven,NL,EU,,,Design city.,public lighting;living labs,lighting pilots\n"
    "philips,organisation,Philips,NL,EU,company,eindhoven,Lighting company.,,"
    "connected LED street lighting;lighting software\n"
)


def test_csv_import(client, keys):
    h = {**keys.auth("manager"), "content-type": "text/csv"}
    r = client.post("/bundles", content=CSV.encode(), headers=h)
    assert r.status_code == 200, r.text
    got = client.get("/profiles/philips", headers=keys.auth("manager")).json()
    assert got["offers"] == ["connected LED street lighting", "lighting software"] and got["city"] == "eindhoven"


def test_bad_csv_lists_rows_and_stores_nothing(client, keys):
    bad = CSV + "seoul,city,Seoul,QQ,KR,,,Capital.,m-voting,\nbusan,city,Busan,KR,KR,company,,Port.,expo,\n"
    r = client.post("/bundles", content=bad.encode(), headers={**keys.auth("manager"), "content-type": "text/csv"})
    assert r.status_code == 422
    pointers = {e["pointer"] for e in r.json()["errors"]}
    assert pointers == {"/rows/4/country", "/rows/5/org_type"}
    assert client.get("/profiles", headers=keys.auth("manager")).json()["total"] == 0


def test_json_nested_too_deeply_is_a_problem(client, keys):
    deep = b'{"format": "twinning.bundle/1", "profiles": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = client.post("/bundles", content=deep, headers={**keys.auth("manager"), "content-type": "application/json"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "Invalid bundle" and r.json()["errors"] == [
        {
            "pointer": "/",
            "detail": "nested too deeply",
            "where": "the whole file",
            "message": "the JSON is nested too deeply to read",
        }
    ]


def test_a_csv_cell_over_the_csv_limit_is_a_problem_and_stores_nothing(client, keys):
    huge = CSV + "seoul,city,Seoul,KR,KR,,," + "d" * (128 * 1024 + 1) + ",m-voting,\n"
    r = client.post("/bundles", content=huge.encode(), headers={**keys.auth("manager"), "content-type": "text/csv"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    [problem] = r.json()["errors"]
    assert problem["pointer"] == "/rows/4" and "field larger than field limit" in problem["detail"]
    assert client.get("/profiles", headers=keys.auth("manager")).json()["total"] == 0


def test_control_characters_in_csv_cells_are_listed(client, keys):
    bad = CSV + "seoul,city,Se\x00oul,KR,KR,,,Capital.,m-\x00voting,\n"
    r = client.post("/bundles", content=bad.encode(), headers={**keys.auth("manager"), "content-type": "text/csv"})
    assert r.status_code == 422
    assert {e["pointer"] for e in r.json()["errors"]} == {"/rows/4/name", "/rows/4/interests/0"}
    assert client.get("/profiles", headers=keys.auth("manager")).json()["total"] == 0


def test_a_dry_run_answers_the_preview_and_stores_nothing(client, keys):
    h = keys.auth("manager")
    client.post("/bundles", json=_bundle(city("eindhoven"), city("tampere", country="FI")), headers=h)
    file = _bundle(city("eindhoven", name="Eindhoven (NL)"), city("tampere", country="FI"), city("delft"))
    r = client.post("/bundles?dry_run=true", json=file, headers=h)
    assert r.status_code == 200, r.text
    preview = r.json()
    assert [p["id"] for p in preview["created"]] == ["delft"]
    assert [p["id"] for p in preview["unchanged"]] == ["tampere"]
    (changed,) = preview["changed"]
    assert changed["id"] == "eindhoven"
    assert [(c["field"], c["before"], c["after"]) for c in changed["changes"]] == [
        ("name", "Eindhoven", "Eindhoven (NL)")
    ]
    assert client.get("/profiles/delft", headers=h).status_code == 404
    assert client.post("/bundles?dry_run=true", json=file, headers=keys.auth("member")).status_code == 403
    bad = client.post("/bundles?dry_run=true", json=_bundle(city("delft", country="XX")), headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/profiles/0/country"
    done = client.post("/bundles", json=file, headers=h).json()
    assert (done["profiles_created"], done["profiles_updated"], done["profiles_unchanged"]) == (1, 1, 1)
