"""Excel in and out: workbooks import like CSV sheets, exports import back unchanged, the template imports empty."""

import io

from openpyxl import Workbook, load_workbook

from service.db.models import Profile
from tests.web.conftest import DEMO
from tests.web.test_pages import COHORT, count, sign_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _sheet(body: bytes, name: str | None = None) -> list[tuple]:
    workbook = load_workbook(io.BytesIO(body))
    sheet = workbook[name] if name else workbook.worksheets[0]
    return list(sheet.iter_rows(values_only=True))


def _workbook(rows: list[list]) -> bytes:
    workbook = Workbook()
    workbook.active.title = "Towns"
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


HEADER = ["id", "kind", "name", "country", "bloc", "org_type", "city", "description", "interests", "offers"]


def test_a_workbook_imports_like_a_sheet_and_its_problems_name_sheet_row_and_column(demo, keys):
    good = _workbook(
        [HEADER, ["newtown", "city", "Newtown", "nl", "EU", None, None, "A new town.", "parks\nharbours", 42]]
    )
    r = demo.post("/bundles", content=good, headers={**keys.auth("manager"), "content-type": XLSX})
    assert r.status_code == 200, r.text
    stored = demo.get("/profiles/newtown", headers=keys.auth("manager")).json()
    assert stored["interests"] == ["parks", "harbours"] and stored["offers"] == ["42"] and stored["country"] == "NL"

    bad = _workbook(
        [
            HEADER,
            ["oldtown", "city", "Oldtown", "XX", "EU", None, None, "An old town.", "markets", None],
            ["newtown", "organisation", "Again", "NL", "EU", None, "ghost", "Again.", None, None],
        ]
    )
    r = demo.post("/bundles", content=bad, headers={**keys.auth("manager"), "content-type": XLSX})
    assert r.status_code == 422
    assert [(e["where"], e.get("value")) for e in r.json()["errors"]] == [
        ("sheet “Towns”, row 2, column D (country)", "XX"),
        ("sheet “Towns”, row 3, column F (org_type)", None),
        ("sheet “Towns”, row 3, column G (city)", "ghost"),
    ]
    assert r.json()["errors"][0]["pointer"] == "/rows/2/country"
    r = demo.post("/bundles", content=b"PK\x03\x04 broken", headers={**keys.auth("manager"), "content-type": XLSX})
    assert r.status_code == 422 and "not an Excel workbook" in r.json()["errors"][0]["message"]


def test_the_profiles_workbook_imports_back_unchanged(demo, keys):
    sign_in(demo, keys.manager)
    r = demo.get("/app/export/profiles.xlsx")
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    rows = _sheet(r.content, "Profiles")
    assert list(rows[0]) == HEADER and len(rows) - 1 == len(DEMO["profiles"])
    before = demo.get("/bundles", headers=keys.auth("manager")).json()
    again = demo.post("/bundles", content=r.content, headers={**keys.auth("manager"), "content-type": XLSX})
    assert again.status_code == 200, again.text
    assert again.json()["profiles_unchanged"] == len(DEMO["profiles"])
    assert again.json()["profiles_created"] == again.json()["profiles_updated"] == 0
    assert demo.get("/bundles", headers=keys.auth("manager")).json() == before


def test_the_template_explains_every_column_and_imports_empty(demo, keys):
    sign_in(demo, keys.manager)
    r = demo.get("/app/import/template.xlsx")
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    profiles, columns = _sheet(r.content, "Profiles"), _sheet(r.content, "Columns")
    assert list(profiles[0]) == HEADER and len(profiles) == 2 and profiles[1][0] == "example-town"
    explained = {row[0]: row for row in columns[1:] if row[0]}
    assert set(HEADER) <= explained.keys()
    assert any(row[1] == "allowed values" and "research_centre" in row[2] for row in columns)
    assert ("", "KR", "Korea, Republic of") in [tuple("" if v is None else v for v in row) for row in columns]
    before = count(demo.app, Profile)
    r = demo.post("/bundles", content=r.content, headers={**keys.auth("manager"), "content-type": XLSX})
    assert r.status_code == 200, r.text
    assert r.json()["profiles_created"] == r.json()["profiles_updated"] == r.json()["profiles_unchanged"] == 0
    assert count(demo.app, Profile) == before


def test_suggestions_and_pairing_download_with_names_scores_themes_and_phrases(demo, keys):
    sign_in(demo, keys.manager)
    r = demo.get("/app/profiles/eindhoven/suggestions.xlsx?target=city")
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    rows = _sheet(r.content, "Suggestions")
    assert rows[0][:7] == ("rank", "id", "name", "kind", "country", "bloc", "score")
    page = demo.get("/profiles/eindhoven/suggestions?target=city", headers=keys.auth("manager")).json()
    first = page["items"][0]
    assert rows[1][:3] == (1, first["id"], first["name"]) and abs(rows[1][6] - first["score"]) < 1e-4
    assert rows[1][7] == "\n".join(t["label"] for t in first["shared_themes"])
    assert "↔" in rows[1][8]
    assert demo.get("/app/profiles/eindhoven/suggestions.xlsx?country=XX").status_code == 422

    r = demo.get(f"/app/cohorts/{COHORT}/pairing.xlsx")
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    pairs = _sheet(r.content, "Pairing")
    assert pairs[0][:6] == ("a", "a name", "b", "b name", "score", "locked") and len(pairs) == 5
    assert all(isinstance(row[4], float) and row[1] and row[3] for row in pairs[1:])
    sign_in(demo, keys.member)
    assert demo.get(f"/app/cohorts/{COHORT}/pairing.xlsx").status_code == 403
    assert demo.get("/app/export/profiles.xlsx").status_code == 403
    assert demo.get("/app/profiles/eindhoven/suggestions.xlsx").status_code == 200
