"""The profile list's country picker and search box in headless Chromium, against the live demo server."""

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.browsing import Live, assert_labelled, shot, sign_in


def listed(page: Page) -> list[str]:
    return page.locator("table.list tbody th[scope=row] .id").all_inner_texts()


def test_the_country_picker_lists_countries_by_name_and_filters_by_their_code(
    page: Page, live: Live, shots: Path
) -> None:
    sign_in(page, live, live.manager)
    picker = page.get_by_label("Country")
    expect(picker.locator("option")).to_have_text(
        ["Any", "Belgium", "Denmark", "Finland", "Netherlands", "South Korea", "Spain", "United Kingdom"]
    )
    # from the keyboard, as a person picks from a list: typing the name's start chooses it
    picker.focus()
    page.keyboard.type("Neth")
    expect(picker).to_have_value("NL")
    page.get_by_label("Kind").select_option("organisation")
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(r"[?&]country=NL(&|$)"))
    assert listed(page) == ["fontys", "philips-lighting"]
    expect(page.get_by_label("Country")).to_have_value("NL")
    expect(page.get_by_label("Country").locator("option:checked")).to_have_text("Netherlands")
    shot(page, shots, "profiles-country-picker")
    assert_labelled(page)
    # a bloc in lower case finds its cities
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Bloc").fill("kr")
    page.get_by_label("Kind").select_option("city")
    page.get_by_role("button", name="Find").click()
    assert listed(page) == ["busan", "gwangju", "seoul", "suwon"]


def test_the_search_box_folds_accents_and_finds_joined_and_split_words(page: Page, live: Live, shots: Path) -> None:
    sign_in(page, live, live.manager)
    search = page.get_by_label("Search")
    expect(search).to_have_accessible_description(re.compile("“sonar” finds Sónar"))
    search.fill("sonar")
    search.press("Enter")
    assert listed(page) == ["sonar"]
    expect(page.get_by_role("link", name="Sónar", exact=True)).to_be_visible()
    expect(page.get_by_text("1 profile matching “sonar”")).to_be_visible()

    page.get_by_label("Search").fill("street lights")
    page.get_by_role("button", name="Find").click()
    assert listed(page) == ["busan", "eindhoven", "philips-lighting", "seoul"]
    expect(page.get_by_label("Search")).to_have_value("street lights")
    shot(page, shots, "profiles-search")

    page.get_by_label("Search").fill("egovernance")
    page.get_by_role("button", name="Find").click()
    assert listed(page) == ["eindhoven", "seoul"]
    page.get_by_label("Search").fill("zeppelin airships")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_text("No profile matches")).to_be_visible()
