"""An import in headless Chromium, against the live demo server: a sheet is previewed, then confirmed."""

from pathlib import Path

from playwright.sync_api import Page, expect

from service.db.models import Profile
from tests.web.browsing import Live, assert_labelled, shot, sign_in

SHEET = (
    "id,kind,name,country,bloc,org_type,city,description,interests,offers\n"
    "harbourtown,city,Harbourtown,NL,EU,,,A port town renewing its harbour.,"
    "harbour renewal;ferry links,port logistics\n"
)


def test_a_sheet_is_previewed_then_stored_when_confirmed(page: Page, live: Live, shots: Path) -> None:
    sign_in(page, live, live.manager)
    page.get_by_role("link", name="Import").click()
    page.get_by_label("Bundle or sheet").set_input_files(
        {"name": "harbour.csv", "mimeType": "text/csv", "buffer": SHEET.encode()}
    )
    page.get_by_role("button", name="Check and preview").click()
    expect(page.get_by_role("heading", name="Preview of harbour.csv: nothing is stored yet")).to_be_visible()
    expect(page.get_by_role("table", name="1 new profile")).to_contain_text("Harbourtown")
    shot(page, shots, "import-preview")
    assert_labelled(page)
    with live.sessions() as session:
        assert session.get(Profile, "harbourtown") is None

    page.get_by_role("button", name="Confirm import").click()
    expect(page.get_by_role("status")).to_contain_text("harbour.csv was imported: 1 new, 0 updated")
    with live.sessions() as session:
        assert session.get(Profile, "harbourtown").name == "Harbourtown"
