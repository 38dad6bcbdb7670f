"""The workspace on a phone, 390 px wide, in headless Chromium against a live server (SQLite, the demo data,
one finished run): no page scrolls sideways, tables stack into cards that show every cell, and on the
cohort board a pair's Lock and Forbid are followed in the tab order by the button that re-runs with them."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from service.auth import Role, create_key
from service.db.engine import session_scope
from tests.web.browsing import COHORT, PHONE, Live, renamed_in_another_tab, shot, sign_in

# the elements right of this many pixels that make a page wider than the window (for the failure message)
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map(el => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).replace(/ /g, '.') : ''))
    .slice(0, 12)"""


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def assert_fits(page: Page, *shown: Locator) -> None:
    """The page is no wider than the window, and each of `shown` is visible inside it, no sideways scroll away."""
    width = page.evaluate("window.innerWidth")
    assert width == PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width, (page.url, page.evaluate(OVERFLOWING))
    for element in shown:
        expect(element).to_be_visible()
        box = element.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (page.url, element, box)


def test_every_main_page_fits_a_phone_and_shows_its_key_cells(phone: Page, live: Live, shots: Path) -> None:
    sign_in(phone, live, live.manager)

    phone.goto(f"{live.url}/app/profiles")
    row = phone.locator("table.list tbody tr").filter(has=phone.get_by_role("link", name="Eindhoven", exact=True))
    assert_fits(
        phone,
        row.get_by_role("link", name="Eindhoven", exact=True),
        row.locator("td.country"),
        row.locator("td.phrases-cell"),
        row.get_by_role("link", name="Suggestions for Eindhoven"),
    )
    expect(row.locator("td.country")).to_contain_text("NL")
    shot(phone, shots, "profiles-390", height=1600)

    phone.goto(f"{live.url}/app/profiles/eindhoven")
    assert_fits(
        phone,
        phone.get_by_role("heading", name="Eindhoven", level=1),
        phone.get_by_role("link", name="Edit profile"),
        phone.locator("section[aria-labelledby=partners-h]"),
    )

    phone.goto(f"{live.url}/app/profiles/eindhoven/suggestions?target=organisation")
    first = phone.locator("li.suggestion").first
    assert_fits(phone, first.locator("h2"), first.locator(".pair").first, first.get_by_role("button", name="Accept"))

    phone.goto(f"{live.url}/app/cohorts")
    assert_fits(phone, phone.get_by_role("link", name="World Cities EU-Korea 2017-18"))

    # paired from scratch but for Eindhoven locked with Busan: four cities lose their favourites, a regret each
    phone.goto(f"{live.url}/app/cohorts/{COHORT}?partnerships=ignore&lock=eindhoven|busan")
    pairing = phone.locator("li.pairing").first
    regret = phone.locator("section[aria-labelledby=regret-h] tbody tr").first
    assert_fits(
        phone,
        phone.get_by_role("button", name="Accept this pairing"),
        pairing.locator("h3"),
        pairing.get_by_role("button", name="Re-run pairing", exact=False),
        phone.locator("svg.heatmap").first,
        *(regret.locator("th, td").nth(i) for i in range(6)),
        phone.locator("section[aria-labelledby=unserved-h] tbody tr").first.locator("td").last,
    )
    shot(phone, shots, "cohort-regret-390", of=phone.locator("section[aria-labelledby=regret-h]"))

    phone.goto(f"{live.url}/app/runs")
    run = phone.locator("table.list tbody tr").first
    assert_fits(phone, run.get_by_role("link", name="#1"), run.locator("td.run-state"), run.locator("td.by"))
    expect(run.locator("td.by")).to_contain_text("(command line)")
    shot(phone, shots, "runs-390")
    phone.goto(f"{live.url}/app/runs/1")
    assert_fits(phone, phone.get_by_role("heading", name="Summary"), phone.get_by_text("This is the first run"))

    phone.goto(f"{live.url}/app/import")
    assert_fits(phone, phone.get_by_label("Bundle or sheet"), phone.get_by_role("button", name="Check and preview"))

    phone.goto(f"{live.url}/app/notices")
    assert_fits(phone, phone.get_by_role("heading", name="Notices", level=1))


# the other pages a manager opens, each checked for sideways scrolling only
OTHER_PAGES = (
    "/app/profiles/eindhoven/edit",
    "/app/profiles/eindhoven/delete",
    "/app/profiles/eindhoven/shortlist",
    "/app/new/profile",
    "/app/new/cohort",
    f"/app/cohorts/{COHORT}/edit",
    f"/app/cohorts/{COHORT}/pairs/eindhoven/busan",
    "/app/profiles/philips-lighting/suggestions",
)


def test_the_other_pages_fit_a_phone_too(phone: Page, live: Live) -> None:
    phone.goto(f"{live.url}/app/login")
    assert_fits(phone, phone.get_by_label("API key"))
    sign_in(phone, live, live.manager)
    for path in OTHER_PAGES:
        assert phone.goto(f"{live.url}{path}").status == 200, path
        assert_fits(phone, phone.get_by_role("heading", level=1))
    phone.get_by_role("button", name="Sign out").click()
    with session_scope(live.sessions) as session:
        admin = create_key(session, role=Role.ADMIN, name="Admin on a phone")[0]
    sign_in(phone, live, admin)
    phone.goto(f"{live.url}/app/keys")
    row = phone.locator("table.list tbody tr").filter(has_text="Admin on a phone")
    assert_fits(phone, row.locator("th"), row.locator("td").last)


def test_a_pairs_lock_and_forbid_are_followed_by_its_re_run_button(phone: Page, live: Live) -> None:
    sign_in(phone, live, live.manager)
    phone.goto(f"{live.url}/app/cohorts/{COHORT}?partnerships=ignore")  # the agreed pairs have no Lock box
    pairing = phone.locator("li.pairing").filter(has=phone.get_by_role("checkbox", name="Lock")).first
    lock = pairing.get_by_role("checkbox", name="Lock")
    lock.focus()
    phone.keyboard.press("Space")
    expect(lock).to_be_checked()
    phone.keyboard.press("Tab")
    expect(pairing.get_by_role("checkbox", name="Forbid")).to_be_focused()
    phone.keyboard.press("Tab")
    rerun = pairing.get_by_role("button", name="Re-run pairing", exact=False)
    expect(rerun).to_be_focused()
    phone.keyboard.press("Enter")
    # the board comes back with the pair locked
    expect(phone).to_have_url(re.compile(r"[?&]lock="))
    expect(phone.locator("li.pairing .badge", has_text="locked")).not_to_have_count(0)


def test_the_merge_of_two_edits_fits_a_phone(phone: Page, live: Live, shots: Path) -> None:
    sign_in(phone, live, live.manager)
    other_tab = renamed_in_another_tab(phone, live, "suwon", "Suwon (Gyeonggi)")
    phone.get_by_label("Name", exact=True).fill("Suwon City")
    phone.get_by_role("button", name="Save").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Someone else changed this profile")
    assert_fits(phone, phone.locator("#merge-name"), phone.get_by_role("button", name="Save the merged version"))
    shot(phone, shots, "profile-merge-390", of=phone.locator("section.card").filter(has_text="Who changed what"))
    other_tab.close()
