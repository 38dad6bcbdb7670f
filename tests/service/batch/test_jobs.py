"""Batch re-ranking: runs, incremental encoding, serving, locks, pruning of old runs, diffs, executors.

Failures, kills and lost locks are in `test_failures.py`; runs started through the API in `test_launch.py`.
"""

import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from service.batch.jobs import RerankParams, rerank
from service.batch.run_changes import DIFF_RULE, SCORE_CHANGE
from service.batch.run_lock import take_lock
from service.batch.runs import current_run, run_diff, stored_ranking
from service.db.engine import session_scope
from service.db.models import JobLock, Run, RunPhrases, RunSuggestion
from service.errors import Conflict

DATA = Path(__file__).resolve().parents[3] / "data"
DEMO = json.loads((DATA / "world-cities-eu-korea.json").read_text(encoding="utf-8"))


def _run(app, report=None, **params) -> Run:
    return rerank(app.state.settings, app.state.sessions, RerankParams(**params), report=report)


def test_a_run_stores_top_k_for_both_targets_and_becomes_current(app, demo):
    run = _run(app, k=5)
    assert run.state == "succeeded" and run.counts["profiles"] == len(DEMO["profiles"])
    with app.state.sessions() as s:
        assert current_run(s).id == run.id
        rows = s.scalars(
            select(RunSuggestion).where(RunSuggestion.run_id == run.id, RunSuggestion.profile_id == "eindhoven")
        ).all()
    by_target = {t: [r for r in rows if r.target == t] for t in ("city", "organisation")}
    assert [r.rank for r in by_target["organisation"]] == [1, 2, 3, 4, 5]
    assert by_target["city"] and "seoul" not in {r.other_id for r in by_target["city"]}  # a known partner
    with app.state.sessions() as s:
        assert stored_ranking(s, run.id, "eindhoven", "organisation")[0].matches


def test_a_run_encodes_only_text_that_changed_since_the_last(app, demo):
    """Profiles changed by another process (here: straight in the database) are encoded by the run."""
    from service.db import store
    from service.schemas import ProfileFields

    _run(app)
    assert _run(app).counts["encoded"] == 0
    with session_scope(app.state.sessions) as s:
        seoul = store.profile_out(store.get_profile(s, "seoul")).model_dump(
            exclude={"id", "version", "created_at", "updated_at"}
        )
        seoul["interests"] = seoul["interests"] + ["night-time economy", "river restoration"]
        store.replace_profile(s, "seoul", ProfileFields.model_validate(seoul), expected_version=1)
    assert _run(app).counts["encoded"] == 2


def test_batch_serving_and_fallback_to_live(app, demo, keys):
    h = keys.auth("manager")
    assert demo.get("/profiles/eindhoven/suggestions?source=batch", headers=h).status_code == 404
    run = _run(app)
    r = demo.get("/profiles/eindhoven/suggestions?target=organisation", headers=h).json()
    assert r["source"] == "batch" and r["run_id"] == run.id and r["computed_at"]
    live = demo.get("/profiles/eindhoven/suggestions?target=organisation&source=live", headers=h).json()
    assert [i["id"] for i in r["items"]] == [i["id"] for i in live["items"]]
    assert r["items"][0]["matches"] == live["items"][0]["matches"]
    # filters need live scoring
    assert demo.get("/profiles/eindhoven/suggestions?source=batch&country=KR", headers=h).status_code == 422
    assert demo.get("/profiles/eindhoven/suggestions?country=KR", headers=h).json()["source"] == "live"
    # a profile changed after the run is served live by default
    e = demo.get("/profiles/eindhoven", headers=h).json()
    body = {
        k: e[k] for k in ("kind", "name", "country", "bloc", "org_type", "city", "description", "interests", "offers")
    }
    body["offers"] = e["offers"] + ["design academy exchange"]
    demo.put("/profiles/eindhoven", json=body, headers={**keys.auth("admin"), "If-Match": f'"{e["version"]}"'})
    assert demo.get("/profiles/eindhoven/suggestions", headers=h).json()["source"] == "live"
    assert demo.get("/profiles/eindhoven/suggestions?source=batch", headers=h).json()["source"] == "batch"


def test_runs_never_overlap(app, demo):
    take_lock(app.state.sessions, "elsewhere:1:abc", stale_after=300)
    with pytest.raises(Conflict):
        _run(app)
    with app.state.sessions() as s:
        s.execute(update(JobLock).values(holder=None))
        s.commit()
    assert _run(app).state == "succeeded"


def test_a_stale_lock_of_a_dead_process_is_taken_over(app, demo):
    # a pid that cannot exist on this host
    import socket

    take_lock(app.state.sessions, f"{socket.gethostname()}:99999999:dead", stale_after=300)
    assert _run(app).state == "succeeded"


def test_old_runs_are_pruned(app, demo):
    app.state.settings.keep_runs = 2
    ids = [_run(app).id for _ in range(4)]
    with app.state.sessions() as s:
        assert [r for r in s.scalars(select(Run.id).order_by(Run.id))] == ids[-2:]
        assert s.scalars(select(RunSuggestion).where(RunSuggestion.run_id == ids[0])).first() is None
        assert s.scalars(select(RunPhrases).where(RunPhrases.run_id == ids[0])).first() is None


def test_diff_lists_what_came_in_left_or_changed_score(app, demo, keys):
    h = keys.auth("manager")
    first = _run(app)
    assert demo.get(f"/runs/{first.id}/diff", headers=h).status_code == 404  # nothing earlier
    # Gwangju now wants what Eindhoven offers: it should enter Eindhoven's city suggestions at the top
    g = demo.get("/profiles/gwangju", headers=h).json()
    body = {k: g[k] for k in ("kind", "name", "country", "bloc", "org_type", "city", "description", "offers")}
    body["interests"] = ["intelligent public lighting", "living labs and innovation parks", "m-voting and e-governance"]
    demo.put("/profiles/gwangju", json=body, headers={**keys.auth("admin"), "If-Match": f'"{g["version"]}"'})
    second = _run(app)
    d = demo.get(f"/runs/{second.id}/diff?against=PREVIOUS", headers=h).json()
    assert d["against"] == first.id and d["profiles_changed"] >= 1
    eind = next(c for c in d["changes"] if c["profile"] == "eindhoven" and c["target"] == "city")
    gwangju = [x for x in eind["came_in"] + eind["score_changed"] if x["id"] == "gwangju"]
    assert gwangju and gwangju[0]["rank"] == 1
    # what both runs list is a change only when its score moved by more than SCORE_CHANGE
    for c in d["changes"]:
        assert c["came_in"] or c["left"] or c["score_changed"]
        assert all(abs(x["score"] - x["before"]) > SCORE_CHANGE for x in c["score_changed"])
    with app.state.sessions() as s:
        assert s.get(Run, second.id).diff["rule"] == DIFF_RULE  # stored when the run finished
    only = demo.get(f"/runs/{second.id}/diff?against={first.id}&profile=eindhoven", headers=h).json()
    assert {c["profile"] for c in only["changes"]} == {"eindhoven"}
    assert demo.get(f"/runs/{second.id}/diff?against=yesterday", headers=h).status_code == 422
    assert demo.get("/runs/999/diff", headers=h).status_code == 404


def test_a_diff_stored_under_an_earlier_rule_is_computed_anew(app, demo):
    first, second = _run(app), _run(app)
    moved = {"against": first.id, "changes": [{"profile": "eindhoven", "target": "city", "moved": []}]}
    with session_scope(app.state.sessions) as s:
        s.get(Run, second.id).diff = moved  # as runs finished before diffs named their rule stored it
    with app.state.sessions() as s:
        assert run_diff(s, second.id, first.id) == []  # two runs of the same profiles: nothing changed


def test_every_stage_is_stored_as_it_begins(app, demo):
    """The run's page shows each stage, however short: it is stored before the stage's first progress."""
    seen = []

    def report(p):
        if p.done:
            with app.state.sessions() as s:
                seen.append((p.stage, s.scalar(select(Run.progress).order_by(Run.id.desc()).limit(1))["stage"]))

    _run(app, block_size=8, report=report)
    assert {stage for stage, _ in seen} == {"encoding", "scoring", "storing"}
    assert all(stored == stage for stage, stored in seen), seen


def _stored(app, run_id: int) -> list[tuple]:
    with app.state.sessions() as s:
        return sorted(
            (r.profile_id, r.target, r.rank, r.other_id, r.score, r.detail)
            for r in s.scalars(select(RunSuggestion).where(RunSuggestion.run_id == run_id))
        )


def test_dask_local_cluster_gives_exactly_the_local_results(app, demo):
    from distributed import LocalCluster

    local = _run(app, block_size=8)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = _run(app, block_size=8, dask_address=cluster.scheduler_address)
    assert remote.params["dask_address"] == cluster.scheduler_address
    assert _stored(app, local.id) == _stored(app, remote.id) and _stored(app, local.id)


def test_forked_workers_give_exactly_the_in_process_results(app, demo):
    alone = _run(app, block_size=4)
    forked = _run(app, block_size=4, workers=2)
    assert forked.params["workers"] == 2
    assert _stored(app, alone.id) == _stored(app, forked.id) and _stored(app, alone.id)
