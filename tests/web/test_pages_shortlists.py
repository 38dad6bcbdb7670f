"""Shortlists on the workspace pages, both databases: saved from the suggestions page with a note,
listed, re-noted and removed on the shortlist page; another member's shortlist is out of reach."""

import html

from tests.web.test_pages import browser, sign_in


def test_a_member_shortlists_a_suggestion_with_a_note_and_edits_and_removes_it(demo, keys):
    csrf = sign_in(demo, keys.member)
    here = "/app/profiles/eindhoven/suggestions?target=city"
    page = demo.get(here).text
    assert 'action="/app/profiles/eindhoven/shortlist/busan"' in page and "Shortlist of Eindhoven</a> (0)" in page
    r = demo.post(
        "/app/profiles/eindhoven/shortlist/busan",
        data={"csrf": csrf, "note": "lighting pilots\nask about living labs", "back": here},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == here
    page = demo.get(here).text
    assert "Busan is on the shortlist of Eindhoven." in page and "on the shortlist</span>" in page
    assert "lighting pilots\nask about living labs" in page and "Shortlist of Eindhoven</a> (1)" in page
    listed = demo.get("/app/profiles/eindhoven/shortlist").text
    assert 'id="k-busan"' in listed and "lighting pilots" in listed
    # a note with a control character is refused where it was typed, and the old one kept
    r = demo.post("/app/profiles/eindhoven/shortlist/busan", data={"csrf": csrf, "note": "bell\x07"})
    assert r.status_code == 200 and "The note is not valid (must not contain control characters" in html.unescape(
        r.text
    )
    r = demo.post("/app/profiles/eindhoven/shortlist/busan", data={"csrf": csrf, "note": "x" * 1001})
    assert "at most 1000 characters" in html.unescape(r.text)
    assert (
        demo.get("/profiles/eindhoven/shortlist", headers=keys.auth("member"))
        .json()[0]["note"]
        .startswith("lighting pilots")
    )
    r = demo.post("/app/profiles/eindhoven/shortlist/busan", data={"csrf": csrf, "note": "call in May"})
    assert "The note on Busan was saved." in r.text and "call in May" in r.text
    r = demo.post("/app/profiles/eindhoven/shortlist/busan/remove", data={"csrf": csrf})
    assert "Busan is off the shortlist of Eindhoven." in r.text and "Nothing on the shortlist yet" in r.text
    assert demo.get("/profiles/eindhoven/shortlist", headers=keys.auth("member")).json() == []


def test_a_member_cannot_open_or_change_another_profiles_shortlist(demo, keys):
    assert (
        demo.put("/profiles/eindhoven/shortlist/busan", json={"note": "ours"}, headers=keys.auth("member")).status_code
        == 201
    )
    seoul = browser(demo.app)
    csrf = sign_in(seoul, keys.other_member)
    assert seoul.get("/app/profiles/eindhoven/shortlist").status_code == 403
    assert "ours" not in seoul.get("/app/profiles/eindhoven").text
    assert seoul.post("/app/profiles/eindhoven/shortlist/busan", data={"csrf": csrf, "note": "x"}).status_code == 403
    assert seoul.post("/app/profiles/eindhoven/shortlist/busan/remove", data={"csrf": csrf}).status_code == 403
    manager = browser(demo.app)
    sign_in(manager, keys.manager)
    assert "ours" in manager.get("/app/profiles/eindhoven/shortlist").text
    assert [e["note"] for e in demo.get("/profiles/eindhoven/shortlist", headers=keys.auth("manager")).json()] == [
        "ours"
    ]
