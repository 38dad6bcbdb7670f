"""Deciding on several suggestions in one submit on the suggestions page, both databases: plain form
fields (checkboxes tied to the form by their `form` attribute), one message per suggestion."""

import html
import re

from tests.web.test_pages import browser, sign_in


def flashes(page: str) -> list[str]:
    return [
        html.unescape(m) for m in re.findall(r'<div class="flash flash-\w+" role="\w+">\s*<p>(.*?)</p>', page, re.S)
    ]


def test_a_member_accepts_several_suggestions_in_one_submit_and_reads_what_happened_to_each(demo, keys):
    assert (
        demo.post(
            "/profiles/eindhoven/exclusions", json={"excluded": "busan"}, headers=keys.auth("manager")
        ).status_code
        == 201
    )
    csrf = sign_in(demo, keys.member)
    here = "/app/profiles/eindhoven/suggestions?target=city"
    page = demo.get(here).text
    assert '<form id="bulk" method="post" action="/app/profiles/eindhoven/suggestions/decide"' in page
    assert 'id="pick-gwangju" name="selected" value="gwangju" form="bulk"' in page
    r = demo.post(
        "/app/profiles/eindhoven/suggestions/decide",
        data={"csrf": csrf, "back": here, "action": "accept", "selected": ["gwangju", "busan", "suwon"]},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == here
    said = flashes(demo.get(here).text)
    assert said[0] == "Accepted 2 of 3 selected suggestions for Eindhoven."
    assert said[1].startswith("Proposed a partnership of Eindhoven with Gwangju")
    assert said[2].startswith("Busan: nothing was changed (409): an exclusion stands between 'eindhoven' and 'busan'")
    assert said[3].startswith("Proposed a partnership of Eindhoven with Suwon")
    waiting = {
        p["partner"]
        for p in demo.get("/profiles/eindhoven/partnerships", headers=keys.auth("member")).json()
        if p["state"] == "proposed"
    }
    assert waiting == {"gwangju", "suwon"}


def test_a_bulk_reject_records_one_reason_and_nothing_selected_changes_nothing(demo, keys):
    csrf = sign_in(demo, keys.member)
    r = demo.post("/app/profiles/eindhoven/suggestions/decide", data={"csrf": csrf, "action": "reject", "reason": "x"})
    assert "Select at least one suggestion first; nothing was changed." in flashes(r.text)
    r = demo.post(
        "/app/profiles/eindhoven/suggestions/decide",
        data={"csrf": csrf, "action": "reject", "selected": ["gwangju", "suwon"], "reason": "bell\x07"},
    )
    assert flashes(r.text)[0].startswith("The selection is not valid (must not contain control characters")
    assert demo.get("/profiles/eindhoven/exclusions", headers=keys.auth("member")).json() == []
    r = demo.post(
        "/app/profiles/eindhoven/suggestions/decide",
        data={"csrf": csrf, "action": "reject", "selected": ["gwangju", "suwon"], "reason": "not this year"},
    )
    said = flashes(r.text)
    assert said == [
        "Rejected 2 of 2 selected suggestions for Eindhoven.",
        "Gwangju will not be suggested to Eindhoven again (reason: not this year).",
        "Suwon will not be suggested to Eindhoven again (reason: not this year).",
    ]
    excluded = demo.get("/profiles/eindhoven/exclusions", headers=keys.auth("member")).json()
    assert {(e["excluded"], e["reason"]) for e in excluded} == {
        ("gwangju", "not this year"),
        ("suwon", "not this year"),
    }


def test_a_member_cannot_decide_in_bulk_for_another_profile(demo, keys):
    seoul = browser(demo.app)
    csrf = sign_in(seoul, keys.other_member)
    r = seoul.post(
        "/app/profiles/eindhoven/suggestions/decide", data={"csrf": csrf, "action": "accept", "selected": ["busan"]}
    )
    assert r.status_code == 403
    partnerships = demo.get("/profiles/eindhoven/partnerships", headers=keys.auth("member")).json()
    assert all(p["state"] == "agreed" for p in partnerships)  # no proposal was made
    r = seoul.post("/app/profiles/eindhoven/suggestions/decide", data={"action": "accept", "selected": ["busan"]})
    assert r.status_code == 403  # no CSRF token: refused before anything is read
