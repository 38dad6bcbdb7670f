"""The notice board page on both databases: the navigation counts what is new, a visit clears it, and
proposals are answered from the board under the same rules as elsewhere."""

import html
import re

from service.auth import Role, create_key
from service.db.engine import session_scope
from tests.web.test_pages import browser, sign_in


def nav_count(page: str) -> int:
    found = re.search(r'href="/app/notices"[^>]*>Notices(?: <span class="count">(\d+)<span)?', page)
    assert found, "no notices link in the navigation"
    return int(found.group(1) or 0)


def busan_key(app) -> str:
    with session_scope(app.state.sessions) as session:
        return create_key(session, role=Role.MEMBER, profile_id="busan", name="Busan desk")[0]


def test_the_navigation_counts_new_notices_and_a_visit_clears_them(demo, keys):
    busan = {"Authorization": f"Bearer {busan_key(demo.app)}"}
    assert demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=busan).status_code == 200
    sign_in(demo, keys.member)
    expected = demo.get("/notices", headers=keys.auth("member")).json()["count"]
    assert expected >= 2  # the proposal and, on a first visit, every suggestion
    assert nav_count(demo.get("/app/profiles").text) == expected
    board = demo.get("/app/notices").text
    assert nav_count(board) == 0 and 'aria-current="page">Notices' in board
    assert "Busan</a> proposed a partnership with Eindhoven" in board and '<span class="badge">new</span>' in board
    assert 'action="/app/profiles/eindhoven/suggestions/busan/accept"' in board
    assert "This is the first re-ranking" not in board and "No re-ranking has finished yet." in board
    again = demo.get("/app/notices").text
    assert '<span class="badge">new</span>' not in again and "No new partner-city suggestion" in again
    assert nav_count(demo.get("/app/profiles").text) == 0


def test_a_member_accepts_or_declines_a_proposal_from_the_board(demo, keys):
    busan = {"Authorization": f"Bearer {busan_key(demo.app)}"}
    demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=busan)
    demo.post("/profiles/suwon/suggestions/eindhoven/accept", headers=keys.auth("manager"))  # agreed: not waiting
    csrf = sign_in(demo, keys.member)
    r = demo.post(
        "/app/profiles/eindhoven/partnerships/busan/remove",
        data={"csrf": csrf, "back": "/app/notices"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/app/notices"
    board = html.unescape(demo.get("/app/notices").text)
    assert "The proposal of Busan to Eindhoven was declined." in board and "No proposal waits for your answer." in board
    demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=busan)
    r = demo.post("/app/profiles/eindhoven/suggestions/busan/accept", data={"csrf": csrf, "back": "/app/notices"})
    assert "Busan is now a partner of Eindhoven" in html.unescape(r.text)


def test_a_manager_board_offers_confirming_every_waiting_proposal_and_a_member_sees_only_its_own(demo, keys):
    busan = {"Authorization": f"Bearer {busan_key(demo.app)}"}
    demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=busan)
    demo.post("/profiles/eindhoven/suggestions/gwangju/accept", headers=keys.auth("member"))
    manager = browser(demo.app)
    sign_in(manager, keys.manager)
    board = manager.get("/app/notices").text
    assert 'action="/app/profiles/eindhoven/suggestions/busan/accept"' in board
    assert 'action="/app/profiles/gwangju/suggestions/eindhoven/accept"' in board
    assert "Runs finished since your last visit" in board
    seoul = browser(demo.app)
    csrf = sign_in(seoul, keys.other_member)
    board = seoul.get("/app/notices").text
    assert "No proposal waits for your answer." in board and "busan/accept" not in board
    r = seoul.post("/app/profiles/eindhoven/suggestions/busan/accept", data={"csrf": csrf, "back": "/app/notices"})
    assert r.status_code == 403
