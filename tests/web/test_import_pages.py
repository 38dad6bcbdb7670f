"""The import page and the profile form list every problem at once, in a reader's words, in a focused summary."""

import html
import re

from service.db.models import Profile
from tests.web.test_pages import count, hidden, sign_in


def _problem_rows(html: str) -> list[tuple[str, str, str]]:
    """(where, value, message) of each row of the import page's problems table."""
    cell = r"<td[^>]*>(.*?)</td>"
    rows = re.findall(rf'<tr id="problem-\d+"><th scope="row">(.*?)</th>{cell}{cell}</tr>', html)
    return [(where, re.sub(r"</?code[^>]*>", "", value), message) for where, value, message in rows]


def test_an_import_lists_every_problem_of_a_sheet_in_one_pass_and_focuses_them(demo, keys):
    csrf = sign_in(demo, keys.manager)
    before = count(demo.app, Profile)
    sheet = (
        "id;kind;name;country;bloc;org_type;city;description;interests;offers\n"
        "newtown;city;Newtown;NL;EU;;;A new town.;parks;\n"
        "oldtown;city;Oldtown;XX;EU;;;An old town.;markets;\n"
        "lab;organisation;Lab;NL;EU;;ghost;A lab.;;sensors\n"
        "newtown;city;Newtown again;NL;EU;;;Again.;harbours;\n"
    )
    r = demo.post("/app/import", data={"csrf": csrf}, files={"file": ("towns.csv", sheet.encode(), "text/csv")})
    assert r.status_code == 422
    assert re.search(r'<section class="card problems-card error-summary"[^>]*tabindex="-1" autofocus>', r.text)
    assert "4 problems need fixing" in r.text
    rows = _problem_rows(r.text)
    assert [(where, value) for where, value, _ in rows] == [
        ("row 3, column country", "XX"),
        ("row 4, column org_type", ""),
        ("row 4, column city", "ghost"),
        ("row 5, column id", "newtown"),
    ]
    assert rows[0][2].startswith("“XX” is not a country code: use the two capital letters")
    assert "an organisation needs its type, one of company" in rows[1][2]
    assert rows[3][2].startswith("“newtown” is already the id of row 2")
    # no machine words on the page: pydantic's patterns and JSON pointers stay in the API's answer
    assert "String should match" not in r.text and "/rows/" not in r.text
    assert count(demo.app, Profile) == before


def test_a_bundles_problems_name_the_profile_they_are_in(demo, keys):
    csrf = sign_in(demo, keys.manager)
    bundle = b'{"format": "twinning.bundle/1", "profiles": [{"id": "Bad Id", "kind": "city"}]}'
    r = demo.post("/app/import", data={"csrf": csrf}, files={"file": ("b.json", bundle, "application/json")})
    assert r.status_code == 422
    rows = _problem_rows(r.text)
    assert rows[0][0] == "profile 1 (“Bad Id”), id" and rows[0][1] == "Bad Id"
    assert rows[0][2].startswith("“Bad Id” is not an id: an id is 1 to 64 lower-case letters")
    assert {where for where, _, _ in rows[1:]} == {
        "profile 1 (“Bad Id”), name",
        "profile 1 (“Bad Id”), country",
        "profile 1 (“Bad Id”), bloc",
        "profile 1 (“Bad Id”), description",
        "profile 1 (“Bad Id”), interests",
    }


def test_the_edit_form_lists_every_problem_at_once_in_a_summary_linking_to_each_field(demo, keys):
    csrf = sign_in(demo, keys.member)
    version = hidden(demo.get("/app/profiles/eindhoven/edit").text, "version")
    data = {
        "csrf": csrf,
        "version": version,
        "kind": "city",
        "name": "Eindhoven",
        "country": "XX",
        "bloc": "EU",
        "org_type": "company",
        "city": "ghost",
        "description": "A city.",
        "interests": "",
        "offers": "",
    }
    r = demo.post("/app/profiles/eindhoven/edit", data=data)
    assert r.status_code == 422
    summary = re.search(r'<div class="card error-summary"[^>]*tabindex="-1" autofocus>(.*?)</div>', r.text, re.S)
    assert summary and "Nothing was saved: 4 problems need fixing" in summary.group(1)
    links = re.findall(r'<a href="#([a-z_]+)">([^<]+)</a>', summary.group(1))
    assert [field for field, _ in links] == ["country", "org_type", "city", "interests"]
    texts = {field: html.unescape(text) for field, text in links}
    assert texts["country"].startswith("Country: “XX” is not a country code")
    assert texts["org_type"].startswith("Organisation type: must be empty for a city")
    assert texts["city"] == "City profile: no profile 'ghost'"
    assert texts["interests"] == "Interests: a city needs at least one interest"
    # each problem also sits beside its field, which the summary's link leads to
    beside = dict(re.findall(r'<ul class="field-error" id="([a-z_]+)-error">(.*?)</ul>', r.text, re.S))
    assert set(beside) == {"country", "org_type", "city", "interests"}
    assert r.text.startswith("<!doctype html>") and "<title>Error: Edit Eindhoven" in r.text
    assert demo.get("/profiles/eindhoven", headers=keys.auth("member")).json()["version"] == int(version)
