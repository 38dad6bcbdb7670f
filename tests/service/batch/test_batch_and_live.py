"""Batch and live agree: a batch-served list scores a pair as live scoring does, and ranks the
candidates created or changed since its run, scored live and merged in."""

import pytest

from service.app import create_app
from service.batch.jobs import RerankParams, rerank
from tests.service.batch.conftest import DEMO

NEW_CITY = {
    "id": "lisbon",
    "kind": "city",
    "name": "Lisbon",
    "country": "PT",
    "bloc": "EU",
    "description": "Lisbon works on smart public lighting, open data platforms and start-up districts.",
    "interests": ["intelligent public street lighting", "hydrogen fuel cell buses", "innovation parks"],
    "offers": ["start-up district management", "open municipal data platform"],
}


def _run(app):
    run = rerank(app.state.settings, app.state.sessions, RerankParams())
    app.state.live.follow_run(run.id, wait=True)
    return run


def _both(client, headers, profile_id: str, target: str) -> tuple[dict, dict]:
    batch = client.get(f"/profiles/{profile_id}/suggestions?source=batch&target={target}", headers=headers).json()
    live = client.get(f"/profiles/{profile_id}/suggestions?source=live&target={target}", headers=headers).json()
    return batch, live


def _editable(profile: dict) -> dict:
    fields = ("kind", "name", "country", "bloc", "org_type", "city", "description", "interests", "offers")
    return {k: profile[k] for k in fields}


def test_every_pair_a_run_serves_scores_as_live_scoring_does_once_the_run_is_current(app, demo, keys):
    """A city written after the server started is scored live in the index's TF-IDF space; the run fits
    its own space, which the live index takes on, so both give every pair the same score and parts."""
    h = keys.auth("admin")
    assert demo.post("/profiles", json=NEW_CITY, headers=h).status_code == 201
    run = _run(app)
    assert app.state.live.lexicon_run == run.id
    compared = 0
    for profile in [*DEMO["profiles"], NEW_CITY]:
        for target in ("city", "organisation"):
            batch, live = _both(demo, h, profile["id"], target)
            assert batch["source"] == "batch" and batch["run_id"] == run.id
            assert [i["id"] for i in batch["items"]] == [i["id"] for i in live["items"]], (profile["id"], target)
            for b, v in zip(batch["items"], live["items"]):
                assert not b["fresh"]
                assert b["score"] == pytest.approx(v["score"], abs=1e-6), (profile["id"], target, b["id"])
                for part in ("dense", "lexical", "forward", "backward"):
                    assert b["parts"][part] == pytest.approx(v["parts"][part], abs=1e-6), (b["id"], part)
                assert b["shared_terms"] == v["shared_terms"]
                compared += 1
    assert compared > 300


def test_a_restarted_server_scores_with_the_current_runs_statistics(app, demo, keys, settings):
    h = keys.auth("admin")
    assert demo.post("/profiles", json=NEW_CITY, headers=h).status_code == 201
    run = _run(app)
    restarted = create_app(settings)
    restarted.state.live.start()
    assert restarted.state.live.lexicon_run == run.id
    query = restarted.state.live.recommender.lexical.statistics()
    assert query.terms == app.state.live.recommender.lexical.statistics().terms


def test_a_city_created_after_the_run_is_ranked_in_the_batch_lists_it_belongs_to_marked_fresh(app, demo, keys):
    h = keys.auth("admin")
    run = _run(app)
    before = {asking: _both(demo, h, asking, "city")[0] for asking in ("seoul", "busan", "suwon", "gwangju")}
    assert demo.post("/profiles", json=NEW_CITY, headers=h).status_code == 201
    placed = 0
    for asking, stored in before.items():
        batch, live = _both(demo, h, asking, "city")
        assert batch["source"] == "batch" and batch["run_id"] == run.id
        scores = [i["score"] for i in batch["items"]]
        assert scores == sorted(scores, reverse=True) and [i["rank"] for i in batch["items"]] == list(
            range(1, len(scores) + 1)
        )
        fresh = [i for i in batch["items"] if i["fresh"]]
        assert [i["id"] for i in fresh] in ([], ["lisbon"])
        for item in fresh:  # as live scoring gives it
            assert item["score"] == next(i["score"] for i in live["items"] if i["id"] == "lisbon")
            placed += 1
        # everyone else as the run scored them, in the run's order
        kept = [(i["id"], i["score"]) for i in batch["items"] if not i["fresh"]]
        assert kept == [(i["id"], i["score"]) for i in stored["items"]][: len(kept)]
    assert placed >= 3  # a lighting, hydrogen and innovation-park city: a fit for the Korean cities


def test_a_candidate_changed_after_the_run_gives_its_stale_entry_up_for_a_live_one(app, demo, keys):
    h = keys.auth("admin")
    _run(app)
    before, _ = _both(demo, h, "seoul", "organisation")
    stale = before["items"][0]
    candidate = demo.get(f"/profiles/{stale['id']}", headers=h).json()
    body = _editable(candidate)
    body["offers"] = ["school canteen menus", "folk music archives"]  # nothing Seoul asks for any more
    r = demo.put(f"/profiles/{stale['id']}", json=body, headers={**h, "If-Match": f'"{candidate["version"]}"'})
    assert r.status_code == 200
    after, live = _both(demo, h, "seoul", "organisation")
    assert after["source"] == "batch"
    entries = [i for i in after["items"] if i["id"] == stale["id"]]
    assert len(entries) <= 1
    for entry in entries:
        assert entry["fresh"] and entry["score"] < stale["score"]
        assert entry["score"] == next(i["score"] for i in live["items"] if i["id"] == entry["id"])
    kept = [(i["id"], i["score"]) for i in after["items"] if not i["fresh"]]
    assert kept == [(i["id"], i["score"]) for i in before["items"][1:]][: len(kept)]
