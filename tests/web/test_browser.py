"""The workspace end to end in headless Chromium, against a live server on SQLite with the demo data.

Each main page is saved as a screenshot (1280 px wide, and the suggestions page at 390 px too): into
a temporary folder, or into the folder named by TWINNING_SCREENSHOTS; `make screenshots` points it at
docs/screenshots, the README's pictures.
"""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from service.db.models import Profile
from tests.web.browsing import COHORT, PHONE, WIDE, Live, assert_labelled, shot, sign_in


def test_manager_finds_partners_pairs_the_cohort_and_reranks(page: Page, live: Live, shots: Path) -> None:
    sign_in(page, live, live.manager, shots=shots)
    expect(page).to_have_url(f"{live.url}/app/profiles")
    shot(page, shots, "profiles")
    assert_labelled(page)
    # the first Tab reaches the skip link, with a visible focus ring
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"

    # find Eindhoven and open its collaborators
    page.get_by_label("Search").fill("Eindhoven")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Eindhoven", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Eindhoven")
    shot(page, shots, "profile")
    page.get_by_role("link", name="Collaborators").click()
    expect(page.get_by_role("link", name="Collaborators")).to_have_attribute("aria-current", "page")

    # Philips is suggested, with the phrase pairs that made the score and their shared words marked
    philips = page.locator("#s-philips-lighting")
    expect(philips).to_be_visible()
    expect(philips.locator(".pair").first).to_be_visible()
    expect(philips.locator(".pair mark").filter(has_text=re.compile("^light", re.I)).first).to_be_visible()
    expect(philips.locator(".part dt", has_text="dense")).to_be_visible()
    shot(page, shots, "suggestions")
    assert_labelled(page)
    page.set_viewport_size(PHONE)
    shot(page, shots, "suggestions-390", height=2000)
    page.set_viewport_size(WIDE)

    # accept Philips, from the keyboard: it becomes a partner and leaves the list
    philips.get_by_role("button", name=re.compile("Accept Philips")).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="is now a partner of Eindhoven")).to_be_visible()
    expect(page.locator("#s-philips-lighting")).to_have_count(0)

    # reject another with a reason: gone; undo brings it back; reject it again
    other = page.locator("li.suggestion").first
    other_id = other.get_attribute("id")
    other_name = other.locator("h2").inner_text()
    other.locator("details.reject:not(.note) > summary").click()
    other.get_by_label("Reason (optional)").fill("already working together in another programme")
    other.get_by_role("button", name=f"Never suggest {other_name}").click()
    expect(page.get_by_role("status").filter(has_text="already working together")).to_be_visible()
    expect(page.locator(f"#{other_id}")).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(page.locator(f"#{other_id}")).to_have_count(1)
    page.locator(f"#{other_id} details.reject:not(.note) > summary").click()
    page.locator(f"#{other_id}").get_by_role("button", name=f"Never suggest {other_name}").click()
    expect(page.locator(f"#{other_id}")).to_have_count(0)

    # the profile page lists the new partnership and the exclusion
    page.goto(f"{live.url}/app/profiles/eindhoven")
    expect(page.locator("section[aria-labelledby=partners-h]")).to_contain_text("Philips")
    expect(page.locator("section[aria-labelledby=excl-h]")).to_contain_text(other_name)

    # pair the demo cohort and accept the proposal
    page.get_by_role("link", name="Cohorts").click()
    page.get_by_role("link", name="World Cities EU-Korea 2017-18").click()
    expect(page.get_by_role("heading", name=re.compile("Proposed pairing"))).to_be_visible()
    expect(page.locator("li.pairing")).to_have_count(4)
    expect(page.locator("li.pairing .pair").first).to_be_visible()
    expect(page.get_by_role("heading", name="Each city’s regret")).to_be_visible()
    shot(page, shots, "cohort")
    assert_labelled(page)
    page.get_by_role("button", name="Accept this pairing").click()
    expect(page.get_by_role("status").filter(has_text="Accepted 4 pairs")).to_be_visible()
    expect(page.locator("li.pairing .badge", has_text="agreed")).to_have_count(4)

    # start a re-rank, follow it, and read what changed since the first run
    page.get_by_role("link", name="Runs").click()
    page.get_by_role("button", name="Start a re-rank").click()
    expect(page).to_have_url(re.compile(r"/app/runs/2$"))
    # the page refreshes itself while the run works, and says who started it
    expect(page.locator("p.muted", has_text="· by Ana (programme manager)")).to_be_visible()
    expect(page.get_by_role("heading", name="What changed since run #1")).to_be_visible(timeout=45_000)
    expect(page.locator(".facts")).to_contain_text(re.compile(r"encoding [\d.]+ · scoring [\d.]+ · storing [\d.]+"))
    eindhoven = (
        page.locator("ul.diff > li")
        .filter(has=page.get_by_role("link", name="Eindhoven", exact=True))
        .filter(has_text="collaborators")
    )
    expect(eindhoven.locator("h4.left + ul")).to_contain_text("Philips")
    shot(page, shots, "run-diff")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def test_member_cannot_open_another_citys_edit_page(page: Page, live: Live) -> None:
    sign_in(page, live, live.member)
    expect(page).to_have_url(f"{live.url}/app/profiles/eindhoven")
    page.get_by_role("link", name="Edit profile").click()
    expect(page.get_by_label("Interests")).to_be_visible()
    assert_labelled(page)
    response = page.goto(f"{live.url}/app/profiles/seoul/edit")
    assert response.status == 403
    expect(page.get_by_role("heading", name="Forbidden")).to_be_visible()
    page.goto(f"{live.url}/app/profiles/seoul")
    expect(page.get_by_role("link", name="Edit profile")).to_have_count(0)


def test_a_bad_bundle_lists_every_problem_and_stores_nothing(page: Page, live: Live, shots: Path) -> None:
    city = {
        "kind": "city",
        "bloc": "EU",
        "country": "NL",
        "description": "A town by the sea.",
        "interests": ["harbour renewal"],
    }
    bad = {
        "format": "twinning.bundle/1",
        "profiles": [
            city | {"id": "newtown", "name": "Newtown"},
            city | {"id": "Bad Id", "name": "Nowhere", "country": "XX"},
            city | {"id": "oldtown", "name": "Oldtown", "interests": []},
        ],
        "partnerships": [{"a": "newtown", "b": "newtown"}],
    }
    sign_in(page, live, live.manager)
    page.get_by_role("link", name="Import").click()
    page.get_by_label("Bundle or sheet").set_input_files(
        {"name": "bad-bundle.json", "mimeType": "application/json", "buffer": json.dumps(bad).encode()}
    )
    page.get_by_role("button", name="Check and preview").click()
    expect(page.get_by_role("heading", name="Nothing from bad-bundle.json was stored")).to_be_visible()
    expect(page.locator(".error-summary")).to_be_focused()  # a keyboard or screen reader user lands on it
    rows = page.locator("table.problems-table tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.filter(has_text="profile 2 (“Bad Id”), id")).to_contain_text("“Bad Id” is not an id")
    expect(rows.filter(has_text="profile 2 (“Bad Id”), country")).to_contain_text("ISO 3166-1")
    expect(rows.filter(has_text="profile 3 (“oldtown”), interests")).to_contain_text("at least one interest")
    expect(rows.filter(has_text="partnership 1")).to_contain_text("own partner")
    shot(page, shots, "import-errors")
    assert_labelled(page)
    with live.sessions() as session:
        assert session.get(Profile, "newtown") is None


# each direction of the suggestions pages in its own words: (asking, target) → the first card's
# match groups as (head, the role of the needs it quotes), the note on who is suggested, the bloc
# field's placeholder and what the backward part means
DIRECTIONS = {
    "city-to-city": (
        "eindhoven",
        "city",
        [
            ("What Eindhoven asks for → what {other} brings", "interest"),
            ("What {other} asks for → what Eindhoven brings", "interest"),
        ],
        "Partner cities come from other blocs unless you name one.",
        "other blocs",
        "how well Eindhoven covers the candidate city's interests",
    ),
    "city-to-organisation": (
        "eindhoven",
        "organisation",
        [
            ("What Eindhoven asks for → what {other} offers", "interest"),
            ("What {other} offers → what Eindhoven asks for", "offer"),
        ],
        "An organisation ranks high when what it offers covers what Eindhoven asks for.",
        "any",
        "not scored for collaborators (–)",
    ),
    "organisation-to-city": (
        "philips-lighting",
        "city",
        [
            ("What Philips Lighting offers → what {other} asks for", "offer"),
            ("What {other} asks for → what Philips Lighting offers", "interest"),
        ],
        "Cities of every bloc are suggested, unless you name one; "
        "a city ranks high when it asks for what Philips Lighting offers.",
        "any",
        "not scored for collaborators (–)",
    ),
}


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_each_direction_says_what_its_matches_show(page: Page, live: Live, direction: str) -> None:
    asking, target, groups, who, placeholder, backward = DIRECTIONS[direction]
    sign_in(page, live, live.manager)
    page.goto(f"{live.url}/app/profiles/{asking}/suggestions?target={target}")
    first = page.locator("li.suggestion").first
    other = first.locator("h2").inner_text()
    expect(first.locator(".match-head")).to_have_text([head.format(other=other) for head, _ in groups])
    for i, (_, role) in enumerate(groups):
        roles = first.locator(".match-group").nth(i).locator(".side.need .role").all_text_contents()
        assert roles and set(roles) == {role}, (direction, i, roles)
    expect(page.locator("#diversity-help")).to_contain_text(who)
    if "other blocs" not in who:  # an organisation's partner cities and collaborators come from any bloc
        expect(page.locator("#diversity-help")).not_to_contain_text("other blocs")
    expect(page.get_by_label("Bloc")).to_have_attribute("placeholder", placeholder)
    glossary = page.locator("dl.glossary").first
    expect(glossary.locator("dt", has_text="backward").locator("xpath=following-sibling::dd[1]")).to_have_text(backward)


def test_the_board_pictures_every_pair_and_the_interests_nobody_serves(page: Page, live: Live, shots: Path) -> None:
    sign_in(page, live, live.manager)
    page.goto(f"{live.url}/app/cohorts/{COHORT}")
    picture = page.locator("section.picture")
    svg = picture.locator("svg.heatmap[role=img]")
    expect(svg).to_have_attribute("aria-labelledby", "heatmap-1-title heatmap-1-desc")
    expect(svg.locator("#heatmap-1-title")).to_have_text("Scores of EU (rows) with KR (columns)")
    cells = svg.locator("a.cell")
    expect(cells).to_have_count(16)
    # accepting the pairing turns its proposed pairs into agreed ones, marked apart
    pairs = page.locator("li.pairing").count()
    expect(svg.locator("a.cell.proposed, a.cell.agreed")).to_have_count(pairs)
    page.get_by_role("button", name="Accept this pairing").click()
    expect(page.get_by_role("status").filter(has_text=f"Accepted {pairs} pairs")).to_be_visible()
    expect(svg.locator("a.cell.agreed")).to_have_count(pairs)
    expect(svg.locator("a.cell.proposed")).to_have_count(0)
    shot(page, shots, "heatmap", of=picture)

    # an agreed pair's cell leads to its card on the board
    agreed = svg.locator("a.cell.agreed").first
    href = agreed.get_attribute("href")
    assert re.fullmatch(r"#pair-\d", href), href
    agreed.click()
    expect(page).to_have_url(re.compile(f"{href}$"))
    expect(page.locator(href)).to_be_in_viewport()
    # any other pair's cell leads to its own page, with the cell's score and its reasons
    other = svg.locator("a.cell:not(.agreed):not(.proposed)").first
    a, b, score = other.get_attribute("data-a"), other.get_attribute("data-b"), other.locator("text").text_content()
    other.click()
    expect(page).to_have_url(f"{live.url}/app/cohorts/{COHORT}/pairs/{a}/{b}")
    expect(page.locator(".score-value")).to_have_text(score)
    expect(page.locator(".match-head").first).to_contain_text("asks for")
    page.get_by_role("link", name="Back to the board").click()

    # the same scores as a table, with the same links, for the keyboard and screen readers
    page.locator("details.heatmap-table > summary").click()
    table = page.locator("table.scores-table")
    expect(table.locator("tbody tr")).to_have_count(4)
    expect(table.locator("tbody a")).to_have_count(16)
    expect(table.locator("td.agreed .badge")).to_have_count(pairs)
    assert_labelled(page)

    # the interests no member of the other side serves closely
    unserved = page.locator("section[aria-labelledby=unserved-h]")
    expect(unserved.get_by_role("heading", name="Interests nobody on the other side serves well")).to_be_visible()
    expect(unserved).to_contain_text("no close match")
    expect(unserved.locator("tbody tr").first).to_be_visible()

    # at 390 px the picture shrinks to the page: no sideways scroll
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
