"""An import on the pages is previewed first, what it creates, changes and leaves, and stored only when
confirmed, only as previewed, only by a manager in the session that previewed it; on both databases."""

import csv
import html
import io
import json
import os
import re

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from starlette.datastructures import FormData

from service.db.models import Profile
from service.web import pending_imports
from service.web.sessions import WebSession
from tests.web.conftest import DEMO
from tests.web.test_pages import count, sign_in

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = ["id", "kind", "name", "country", "bloc", "org_type", "city", "description", "interests", "offers"]
PROFILES = {p["id"]: p for p in DEMO["profiles"]}
NEWTOWN = {
    "id": "newtown",
    "kind": "city",
    "name": "Newtown",
    "country": "NL",
    "bloc": "EU",
    "description": "A new town by the sea.",
    "interests": ["harbour renewal"],
}


def _sheet(*profiles: dict) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for p in profiles:
        writer.writerow([";".join(v) if isinstance(v, list) else (v or "") for v in (p.get(c) for c in COLUMNS)])
    return out.getvalue().encode("utf-8")


def preview(client: TestClient, csrf: str, name: str, body: bytes, media_type: str):
    return client.post("/app/import", data={"csrf": csrf}, files={"file": (name, body, media_type)})


def confirm_fields(page: str) -> list[tuple[str, str]]:
    """The hidden fields of the page's confirm form (its form token first)."""
    form = re.search(r'<form method="post" action="/app/import/confirm".*?</form>', page, re.S)
    assert form, "no confirm form on the page"
    return [(n, html.unescape(v)) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(0))]


def changes_of(page: str, profile_id: str) -> str:
    row = re.search(rf'<tr id="changed-{profile_id}">(.*?)</tr>', page, re.S)
    assert row, f"{profile_id} is not among the changed profiles"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(row.group(1))))


def test_a_sheet_is_previewed_with_what_changes_and_stored_only_when_confirmed(demo, keys):
    csrf = sign_in(demo, keys.manager)
    eindhoven = PROFILES["eindhoven"] | {
        "name": "Eindhoven (NL)",
        "interests": [*PROFILES["eindhoven"]["interests"][1:], "night markets"],
    }
    sheet = _sheet(NEWTOWN, eindhoven, PROFILES["tampere"])
    before = count(demo.app, Profile)

    r = preview(demo, csrf, "towns.csv", sheet, "text/csv")
    assert r.status_code == 200 and "Preview of towns.csv: nothing is stored yet" in r.text
    assert count(demo.app, Profile) == before and demo.app.state.live.profile_text("newtown") is None
    assert "1 new, 1 changed and 1 unchanged profiles" in r.text
    new = r.text[r.text.index("<caption>1 new profile</caption>") :]
    assert '<span class="id">newtown</span></th><td>Newtown</td><td>city</td><td>NL</td>' in new
    changes = changes_of(r.text, "eindhoven")
    assert "name : Eindhoven → Eindhoven (NL)" in changes
    assert "added “night markets”; removed “intelligent public lighting”" in changes
    assert "country" not in changes and "offers" not in changes
    assert "1 profile stays as stored" in r.text
    assert "0 new, 0 changed and 0 unchanged partnerships" in r.text
    fields = confirm_fields(r.text)
    assert fields[0] == ("csrf", csrf)

    done = demo.post("/app/import/confirm", data=dict(fields))
    assert done.status_code == 200 and str(done.url).endswith("/app/import")
    assert "towns.csv was imported: 1 new, 1 updated and 1 unchanged profiles" in done.text
    assert count(demo.app, Profile) == before + 1
    stored = demo.get("/profiles/eindhoven", headers=keys.auth("manager")).json()
    assert stored["name"] == "Eindhoven (NL)" and stored["interests"] == eindhoven["interests"]
    assert demo.app.state.live.profile_text("newtown").name == "Newtown"


def test_a_bundle_and_a_workbook_are_previewed_too(demo, keys):
    csrf = sign_in(demo, keys.manager)
    bundle = {
        "format": "twinning.bundle/1",
        "profiles": [NEWTOWN],
        "partnerships": [{"a": "newtown", "b": "busan"}, {"a": "barcelona", "b": "busan", "themes": ["ports"]}],
        "exclusions": [{"profile": "newtown", "excluded": "seoul", "reason": "too far"}],
    }
    r = preview(demo, csrf, "new.json", json.dumps(bundle).encode(), "application/json")
    assert r.status_code == 200 and "1 new, 0 changed and 0 unchanged profiles" in r.text
    assert "1 new, 1 changed and 0 unchanged partnerships" in r.text
    assert "1 new, 0 changed and 0 unchanged exclusions" in r.text
    assert "Confirm import" in r.text

    workbook = demo.get("/app/export/profiles.xlsx").content
    r = preview(demo, csrf, "profiles.xlsx", workbook, XLSX)
    assert r.status_code == 200
    assert f"0 new, 0 changed and {len(PROFILES)} unchanged profiles" in r.text
    assert "Importing this file would change nothing" in r.text and "Confirm import" not in r.text

    book = load_workbook(io.BytesIO(workbook))
    sheet = book["Profiles"]
    country = [c.value for c in sheet[1]].index("country") + 1
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, 1).value == "seoul")
    sheet.cell(row, [c.value for c in sheet[1]].index("name") + 1).value = "Seoul Metropolitan Government"
    assert sheet.cell(row, country).value == "KR"
    edited = io.BytesIO()
    book.save(edited)
    r = preview(demo, csrf, "profiles.xlsx", edited.getvalue(), XLSX)
    assert f"0 new, 1 changed and {len(PROFILES) - 1} unchanged profiles" in r.text
    assert "name : Seoul → Seoul Metropolitan Government" in changes_of(r.text, "seoul")
    done = demo.post("/app/import/confirm", data=dict(confirm_fields(r.text)))
    assert "profiles.xlsx was imported: 0 new, 1 updated" in done.text
    assert demo.get("/profiles/seoul", headers=keys.auth("manager")).json()["name"] == "Seoul Metropolitan Government"


def test_a_file_with_problems_lists_them_and_offers_nothing_to_confirm(demo, keys):
    csrf = sign_in(demo, keys.manager)
    before = count(demo.app, Profile)
    r = preview(demo, csrf, "towns.csv", _sheet(NEWTOWN, NEWTOWN | {"id": "oldtown", "country": "XX"}), "text/csv")
    assert r.status_code == 422 and "Nothing from towns.csv was stored" in r.text
    assert "1 problem needs fixing" in r.text and "Confirm import" not in r.text and "Preview of" not in r.text
    assert count(demo.app, Profile) == before


def test_a_confirm_after_what_is_stored_changed_shows_the_new_preview_and_stores_nothing(demo, keys):
    csrf = sign_in(demo, keys.manager)
    r = preview(demo, csrf, "towns.csv", _sheet(NEWTOWN), "text/csv")
    assert "1 new, 0 changed and 0 unchanged profiles" in r.text
    stale = confirm_fields(r.text)
    # meanwhile someone stores a newtown of their own
    made = demo.post("/profiles", json=NEWTOWN | {"name": "Newtown-on-Sea"}, headers=keys.auth("admin"))
    assert made.status_code == 201

    r = demo.post("/app/import/confirm", data=dict(stale))
    assert r.status_code == 409 and "What is stored changed since the preview you confirmed" in r.text
    assert "0 new, 1 changed and 0 unchanged profiles" in r.text
    assert "name : Newtown-on-Sea → Newtown" in changes_of(r.text, "newtown")
    assert demo.get("/profiles/newtown", headers=keys.auth("manager")).json()["name"] == "Newtown-on-Sea"

    done = demo.post("/app/import/confirm", data=dict(confirm_fields(r.text)))
    assert "towns.csv was imported: 0 new, 1 updated" in done.text
    assert demo.get("/profiles/newtown", headers=keys.auth("manager")).json()["name"] == "Newtown"


def test_a_confirm_is_refused_altered_from_another_session_too_late_or_by_a_member(demo, keys, monkeypatch):
    csrf = sign_in(demo, keys.manager)
    fields = dict(confirm_fields(preview(demo, csrf, "towns.csv", _sheet(NEWTOWN), "text/csv").text))
    before = count(demo.app, Profile)

    altered = fields | {"filename": "other.csv"}
    r = demo.post("/app/import/confirm", data=altered)
    assert r.status_code == 403 and "changed since: nothing was stored; choose the file again" in r.text
    assert 'action="/app/import"' in r.text  # the upload form, to choose it again

    assert demo.post("/app/import/confirm", data=fields | {"csrf": "x"}).status_code == 403

    monkeypatch.setattr(pending_imports, "PREVIEW_SECONDS", -1)
    r = demo.post("/app/import/confirm", data=fields)
    assert r.status_code == 403 and "minutes old: nothing was stored" in r.text
    monkeypatch.undo()

    # signed in again: a new session, whose form token the old preview's seal is not
    again = sign_in(demo, keys.manager)
    r = demo.post("/app/import/confirm", data=fields | {"csrf": again})
    assert r.status_code == 403 and "made in another session" in r.text

    member = sign_in(demo, keys.member)
    assert demo.post("/app/import/confirm", data=fields | {"csrf": member}).status_code == 403
    assert preview(demo, member, "towns.csv", _sheet(NEWTOWN), "text/csv").status_code == 403
    assert count(demo.app, Profile) == before


def test_a_large_file_crosses_the_confirm_form_in_pieces_the_form_parser_accepts():
    session = WebSession(id=1, token="t" * 43, key_id=1)
    body = os.urandom(3 * 1024 * 1024)  # incompressible: some 4 MiB of base64
    pending = pending_imports.PendingImport(filename="big.xlsx", kind="xlsx", body=body, preview="d", issued=100)
    fields = pending.form_fields(session)
    assert sum(name == "upload" for name, _ in fields) > 1
    assert all(len(value) < 1024 * 1024 for _, value in fields)
    assert pending_imports.PendingImport.opened(FormData(fields), session, now=200) == pending
