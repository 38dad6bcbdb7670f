"""The notice board through the API on both databases: what waits for a member's or a manager's answer,
what is new since the key's last visit (counted, and cleared by a visit), and what the last run changed."""

import json
from pathlib import Path

import pytest

from service.auth import Role, create_key
from service.batch.jobs import RerankParams, rerank
from service.db.engine import session_scope
from tests.service.batch.test_batch_and_live import NEW_CITY

DATA = Path(__file__).resolve().parents[3] / "data"
DEMO = json.loads((DATA / "world-cities-eu-korea.json").read_text(encoding="utf-8"))


@pytest.fixture
def demo(client, keys):
    assert client.post("/bundles", json=DEMO, headers=keys.auth("admin")).status_code == 200
    return client


@pytest.fixture
def busan(app, demo) -> dict[str, str]:
    with session_scope(app.state.sessions) as session:
        secret = create_key(session, role=Role.MEMBER, profile_id="busan", name="Busan desk")[0]
    return {"Authorization": f"Bearer {secret}"}


# a Korean city: Eindhoven's partner cities come from other blocs
INCHEON = NEW_CITY | {"id": "incheon", "name": "Incheon", "country": "KR", "bloc": "KR"}


def run(app) -> int:
    done = rerank(app.state.settings, app.state.sessions, RerankParams())
    app.state.live.follow_run(done.id, wait=True)
    return done.id


def live_ids(client, profile_id: str, headers: dict[str, str]) -> list[str]:
    return [s["id"] for s in client.get(f"/profiles/{profile_id}/suggestions", headers=headers).json()["items"]]


def test_a_members_board_counts_what_is_new_and_a_visit_clears_it(app, demo, keys, busan):
    eindhoven = keys.auth("member")
    assert demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=busan).json()["state"] == "proposed"
    board = demo.get("/notices", headers=eindhoven).json()
    assert board["profile"] == "eindhoven" and board["last_visit"] is None
    assert [(p["profile"], p["proposer"], p["proposed_by"], p["new"]) for p in board["waiting"]] == [
        ("eindhoven", "busan", "Busan desk", True)
    ]
    suggested = live_ids(demo, "eindhoven", eindhoven)
    assert [s["id"] for s in board["new_suggestions"]] == board["suggested"] == suggested  # a first visit: all new
    assert board["count"] == 1 + len(suggested) and board["last_run"] is None and board["runs_finished"] == []
    # reading it marks nothing; a visit does, and answers the board as it was seen
    assert demo.get("/notices", headers=eindhoven).json()["count"] == board["count"]
    assert demo.post("/notices/seen", headers=eindhoven).json()["count"] == board["count"]
    after = demo.get("/notices", headers=eindhoven).json()
    assert (after["count"], after["new_suggestions"], after["last_visit"] is not None) == (0, [], True)
    assert [(p["proposer"], p["new"]) for p in after["waiting"]] == [("busan", False)]  # listed until answered
    # a city that enters the list after the visit is new, and only it
    assert demo.post("/profiles", json=INCHEON, headers=keys.auth("admin")).status_code == 201
    assert "incheon" in live_ids(demo, "eindhoven", eindhoven)
    board = demo.get("/notices", headers=eindhoven).json()
    assert ([s["id"] for s in board["new_suggestions"]], board["count"]) == (["incheon"], 1)
    # answering the proposal takes it off the board
    assert demo.post("/profiles/eindhoven/suggestions/busan/accept", headers=eindhoven).json()["state"] == "agreed"
    assert demo.get("/notices", headers=eindhoven).json()["waiting"] == []


def test_a_member_sees_only_its_own_profiles_proposals_and_cannot_answer_anothers(app, demo, keys, busan):
    assert demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=busan).status_code == 200
    seoul = keys.auth("other_member")
    assert demo.get("/notices", headers=seoul).json()["waiting"] == []
    assert demo.get("/notices", headers=busan).json()["waiting"] == []  # its own proposal waits for Eindhoven
    assert demo.post("/profiles/eindhoven/suggestions/busan/accept", headers=seoul).status_code == 403
    assert demo.delete("/profiles/eindhoven/partnerships/busan", headers=seoul).status_code == 403
    assert [p["proposer"] for p in demo.get("/notices", headers=keys.auth("member")).json()["waiting"]] == ["busan"]
    # a visit is the key's own: Seoul's leaves Eindhoven's count as it was
    before = demo.get("/notices", headers=keys.auth("member")).json()["count"]
    demo.post("/notices/seen", headers=seoul)
    assert demo.get("/notices", headers=keys.auth("member")).json()["count"] == before


def test_a_managers_board_lists_every_waiting_proposal_and_the_runs_finished_since_its_visit(app, demo, keys, busan):
    manager = keys.auth("manager")
    assert demo.post("/profiles/busan/suggestions/eindhoven/accept", headers=busan).status_code == 200
    assert demo.post("/profiles/eindhoven/suggestions/suwon/accept", headers=keys.auth("member")).status_code == 200
    board = demo.get("/notices", headers=manager).json()
    assert [(p["proposer"], p["profile"]) for p in board["waiting"]] == [("busan", "eindhoven"), ("eindhoven", "suwon")]
    assert (board["profile"], board["new_suggestions"], board["runs_finished"], board["count"]) == (None, [], [], 2)
    demo.post("/notices/seen", headers=manager)
    assert demo.get("/notices", headers=manager).json()["count"] == 0
    first = run(app)
    board = demo.get("/notices", headers=manager).json()
    assert ([r["id"] for r in board["runs_finished"]], board["count"]) == ([first], 1)
    demo.post("/notices/seen", headers=manager)
    board = demo.get("/notices", headers=manager).json()
    assert (board["runs_finished"], board["count"], len(board["waiting"])) == ([], 0, 2)
    # a manager's confirm from the board is the manager's accept: agreed at once, off the board
    assert demo.post("/profiles/suwon/suggestions/eindhoven/accept", headers=manager).json()["state"] == "agreed"
    assert [p["proposer"] for p in demo.get("/notices", headers=manager).json()["waiting"]] == ["busan"]


def test_a_member_reads_what_the_last_run_changed_for_its_profile(app, demo, keys, busan):
    first = run(app)
    board = demo.get("/notices", headers=busan).json()
    assert board["last_run"] | {"finished_at": None} == {
        "run": first,
        "finished_at": None,
        "against": None,
        "since_visit": True,
        "changes": [],
    }
    demo.post("/notices/seen", headers=busan)
    assert demo.post("/profiles", json=NEW_CITY, headers=keys.auth("admin")).status_code == 201
    second = run(app)
    board = demo.get("/notices", headers=busan).json()
    last = board["last_run"]
    assert (last["run"], last["against"], last["since_visit"]) == (second, first, True)
    (cities,) = [c for c in last["changes"] if c["target"] == "city"]
    assert cities["profile"] == "busan" and "lisbon" in [e["id"] for e in cities["came_in"]]
    assert all(c["profile"] == "busan" for c in last["changes"])
    assert board["count"] == 1 + len(board["new_suggestions"])
    demo.post("/notices/seen", headers=busan)
    board = demo.get("/notices", headers=busan).json()
    assert (board["last_run"]["since_visit"], board["count"]) == (False, 0)
    assert board["last_run"]["changes"] == last["changes"]  # still shown, no longer counted
