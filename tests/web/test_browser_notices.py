"""The notice board and deciding on several suggestions at once, in headless Chromium against a live server
(SQLite, the demo data, one finished run); bulk decisions with JavaScript switched off."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from service.auth import Role, create_key
from service.db.engine import session_scope
from tests.web.browsing import WIDE, Live, assert_labelled, shot, sign_in


@pytest.fixture
def page_without_js(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=WIDE, java_script_enabled=False)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def busan_proposes_to_eindhoven(live: Live) -> None:
    with session_scope(live.sessions) as session:
        secret = create_key(session, role=Role.MEMBER, profile_id="busan", name="Busan desk")[0]
    r = httpx.post(
        f"{live.url}/profiles/busan/suggestions/eindhoven/accept", headers={"Authorization": f"Bearer {secret}"}
    )
    assert r.status_code == 200 and r.json()["state"] == "proposed"


def test_a_member_sees_its_notices_counted_reads_the_board_and_answers_a_proposal(
    page: Page,
    live: Live,
    shots: Path,
) -> None:
    busan_proposes_to_eindhoven(live)
    sign_in(page, live, live.member)
    notices = page.get_by_role("navigation", name="Main").get_by_role("link", name="Notices")
    expect(notices).to_contain_text("new")
    notices.click()
    expect(page.get_by_role("heading", name="Notices", level=1)).to_be_visible()
    assert_labelled(page)
    waiting = page.locator("#w-busan-eindhoven")
    expect(waiting).to_contain_text("Busan proposed a partnership with Eindhoven")
    expect(waiting).to_contain_text("new")
    expect(page.get_by_role("heading", name="New suggestions for you")).to_be_visible()
    expect(page.get_by_role("heading", name="What re-rank #1 changed for you")).to_be_visible()
    expect(page.get_by_text("This is the first re-ranking")).to_be_visible()
    # the visit cleared the count
    expect(notices).to_have_text("Notices")
    shot(page, shots, "notices")
    waiting.get_by_role("button", name="Accept the partnership of Busan with Eindhoven").click()
    expect(page.get_by_role("status")).to_contain_text("Busan is now a partner of Eindhoven")
    expect(page.get_by_text("No proposal waits for your answer.")).to_be_visible()


def test_a_member_accepts_and_rejects_several_suggestions_without_javascript(
    page_without_js: Page,
    live: Live,
    shots: Path,
) -> None:
    page = page_without_js
    sign_in(page, live, live.member)
    page.goto(f"{live.url}/app/profiles/eindhoven/suggestions?target=city")
    assert_labelled(page)
    page.get_by_label("Select Gwangju").check()
    page.get_by_label("Select Suwon").check()
    shot(page, shots, "suggestions-bulk", height=900)
    page.get_by_role("button", name="Accept the selected").click()
    messages = page.get_by_role("status")
    expect(messages.first).to_have_text("Accepted 2 of 2 selected suggestions for Eindhoven.")
    # one message per suggestion, in the page's order
    for name in ("Gwangju", "Suwon"):
        expect(messages.filter(has_text=f"Proposed a partnership of Eindhoven with {name}")).to_have_count(1)
    expect(page.locator("#s-gwangju")).to_contain_text("proposal sent")
    page.get_by_label("Select Gwangju").check()
    page.get_by_label("Select Suwon").check()
    page.get_by_label("Reason for rejecting (optional)").fill("not in this programme")
    page.get_by_role("button", name="Reject the selected").click()
    expect(messages.first).to_have_text("Rejected 2 of 2 selected suggestions for Eindhoven.")
    rejected = messages.filter(
        has_text="Gwangju will not be suggested to Eindhoven again (reason: not in this programme)."
    )
    expect(rejected).to_have_count(1)
    expect(page.locator("#s-gwangju")).to_have_count(0)
    expect(page.locator("#s-suwon")).to_have_count(0)
    # each has its own undo, back on the same page
    rejected.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("status").first).to_contain_text("Gwangju may be suggested to Eindhoven again")
    expect(page.locator("#s-gwangju")).to_have_count(1)
    expect(page.locator("#s-suwon")).to_have_count(0)


def test_a_manager_sees_the_runs_finished_since_the_last_visit(page: Page, live: Live) -> None:
    sign_in(page, live, live.manager)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Notices").click()
    expect(page.get_by_role("link", name="Re-rank #1")).to_be_visible()
    page.reload()
    expect(page.get_by_text("No run finished since your last visit.")).to_be_visible()
