"""A run's page on both databases: what changed since the run before (suggestions that came in, left, or changed
score; never a rank that only shifted), and a running run's stage and time left."""

import re

from service.batch.run_changes import SCORE_CHANGE
from service.batch.run_lock import new_holder, release_lock, take_lock
from service.db.engine import session_scope
from service.db.models import Run, RunSuggestion, utcnow
from tests.web.test_pages import sign_in

# Eindhoven's collaborators in two runs, as (other, score) best first: Sónar comes in at the top and
# shifts every other one down a rank; Fontys and the Seoul Digital Foundation keep their scores, the
# 22@ district's moves by a hundredth (no more than SCORE_CHANGE), the University of Barcelona's by a
# twentieth, and Open & Agile Smart Cities leaves
BEFORE = [
    ("fontys", 0.90),
    ("seoul-digital-foundation", 0.80),
    ("22-barcelona", 0.70),
    ("university-of-barcelona", 0.62),
    ("oasc", 0.60),
]
AFTER = [
    ("sonar", 0.95),
    ("fontys", 0.90),
    ("seoul-digital-foundation", 0.80),
    ("22-barcelona", 0.71),
    ("university-of-barcelona", 0.57),
]


def _stored_run(sessions, ranking: list[tuple[str, float]], **fields) -> int:
    with session_scope(sessions) as session:
        run = Run(state="succeeded", model_id="test-model", finished_at=utcnow(), **fields)
        session.add(run)
        session.flush()
        session.add_all(
            RunSuggestion(
                run_id=run.id,
                profile_id="eindhoven",
                target="organisation",
                rank=rank,
                other_id=other,
                score=score,
                detail=b"",
            )
            for rank, (other, score) in enumerate(ranking, 1)
        )
        session.add(
            RunSuggestion(
                run_id=run.id, profile_id="seoul", target="city", rank=1, other_id="eindhoven", score=0.5, detail=b""
            )
        )
        return run.id


def _column(card: str, heading: str) -> str:
    """The items of one column (Came in, Left, Score changed) of a profile's card."""
    found = re.search(rf">{heading}</h4>(.*?)</div>", card, re.S)
    assert found, heading
    return found.group(1)


def test_the_diff_lists_what_came_in_left_or_changed_score_not_rank_shifts(demo, keys):
    assert SCORE_CHANGE == 0.02  # the moves above are chosen either side of it
    sessions = demo.app.state.sessions
    first = _stored_run(sessions, BEFORE)
    second = _stored_run(sessions, AFTER)
    sign_in(demo, keys.manager)

    page = demo.get(f"/app/runs/{second}").text
    assert f"What changed since run #{first}" in page
    assert "1 profile changed." in page  # Seoul's list is the same in both
    (card,) = re.findall(r'<li class="card">(.*?)</li>\s*(?=<li class="card">|</ul>\s*</section>)', page, re.S)
    assert "Eindhoven" in card and "collaborators" in card
    came_in, left, changed = (_column(card, h) for h in ("Came in", "Left", "Score changed"))
    assert "Sónar" in came_in and "0.95" in came_in
    assert "Open &amp; Agile Smart Cities" in left and "was #5" in left
    assert "University of Barcelona" in changed and "0.62 → 0.57" in changed
    # shifted down a rank by Sónar, their scores (nearly) the same: no change to report
    for unchanged in ("Fontys", "Seoul Digital Foundation", "22@ Barcelona"):
        assert unchanged not in card, unchanged
    assert "Moved" not in page

    # the API and the page say the same
    d = demo.get(f"/runs/{second}/diff?against=PREVIOUS", headers=keys.auth("manager")).json()
    (change,) = d["changes"]
    assert [x["id"] for x in change["came_in"]] == ["sonar"]
    assert [x["id"] for x in change["left"]] == ["oasc"]
    assert change["score_changed"] == [{"id": "university-of-barcelona", "rank": 5, "before": 0.62, "score": 0.57}]


def test_the_first_run_says_there_is_nothing_to_compare_it_with(demo, keys):
    only = _stored_run(demo.app.state.sessions, BEFORE)
    sign_in(demo, keys.manager)
    page = demo.get(f"/app/runs/{only}").text
    assert "This is the first run: there is no earlier run to compare it with." in page
    assert "since run #" not in page and "#–" not in page


def test_a_running_run_shows_its_stage_and_time_left_and_refreshes_itself(demo, keys):
    sessions = demo.app.state.sessions
    holder = new_holder()  # this process: alive, holding the lock, so the run is not judged dead
    take_lock(sessions, holder, stale_after=300)
    progress = {"stage": "scoring", "done": 3, "total": 10, "eta_seconds": 4.2}
    with session_scope(sessions) as session:
        run = Run(
            state="running", model_id="test-model", holder=holder, progress=progress, params={"requested_by": "Ana"}
        )
        session.add(run)
        session.flush()
        run_id = run.id
    sign_in(demo, keys.manager)
    try:
        page = demo.get(f"/app/runs/{run_id}").text
    finally:
        release_lock(sessions, holder)
    assert '<meta http-equiv="refresh" content="1">' in page
    assert "<strong>Scoring</strong>: 3 of 10, about 4 s left in this stage" in page
    assert re.search(r'class="stage done">encoding<', page)
    assert re.search(r'class="stage current" aria-current="step">scoring<', page)
    assert "· by Ana" in page
    assert "What changed" not in page


def test_a_queued_run_says_so_and_a_finished_one_its_stages(demo, keys):
    sessions = demo.app.state.sessions
    with session_scope(sessions) as session:
        queued = Run(state="queued", model_id="", params={"requested_by": "Ana"})
        session.add(queued)
        session.flush()
        queued_id = queued.id
    sign_in(demo, keys.manager)
    page = demo.get(f"/app/runs/{queued_id}").text
    assert "Queued: the run's process is starting and loading the model." in page
    assert '<meta http-equiv="refresh"' in page
    with session_scope(sessions) as session:
        session.get(Run, queued_id).state = "failed"
    seconds = {"encoding": 0.4, "scoring": 0.3, "storing": 0.1, "pruning": 0.0, "total": 0.8}
    done = _stored_run(sessions, BEFORE, counts={"profiles": 2, "seconds": seconds})
    page = demo.get(f"/app/runs/{done}").text
    assert "encoding 0.4 · scoring 0.3 · storing 0.1 · pruning 0.0" in page
    assert '<meta http-equiv="refresh"' not in page
