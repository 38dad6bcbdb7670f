"""A run prunes the cached vectors that no profile text references any more, and keeps every one still needed."""

import numpy as np
from sqlalchemy import select

from embeddings import text_key
from service.batch.jobs import ProgressReport, RerankParams, rerank
from service.db.models import CachedVector, Run
from service.db.vector_cache import DatabaseVectorCache
from service.live.recommenders import load_themes


def _run(app, report=None) -> Run:
    return rerank(app.state.settings, app.state.sessions, RerankParams(), report=report)


def _cached(app) -> set[tuple[str, str]]:
    with app.state.sessions() as s:
        return set(s.execute(select(CachedVector.model_id, CachedVector.text_hash)).tuples())


def _edit(client, keys, profile_id: str, **changes) -> None:
    p = client.get(f"/profiles/{profile_id}", headers=keys.auth("admin")).json()
    fields = ("kind", "name", "country", "bloc", "org_type", "city", "description", "interests", "offers")
    body = {k: p[k] for k in fields} | changes
    headers = {**keys.auth("admin"), "If-Match": f'"{p["version"]}"'}
    assert client.put(f"/profiles/{profile_id}", json=body, headers=headers).status_code == 200


def test_a_run_prunes_vectors_no_profile_references_and_keeps_every_other(app, demo, keys):
    model = _run(app).model_id
    replaced, replacement = "contactless public transport payment", "tram ticketing in one tap"
    barcelona = demo.get("/profiles/barcelona", headers=keys.auth("admin")).json()
    _edit(demo, keys, "barcelona", interests=[replacement if i == replaced else i for i in barcelona["interests"]])
    cache = DatabaseVectorCache(app.state.sessions)
    asked_once = text_key("a phrase an ad-hoc query encoded once")
    cache.put_many(model, {asked_once: np.ones(4, dtype=np.float32)})
    cache.put_many("another-model@0", {text_key(replaced): np.ones(4, dtype=np.float32)})
    added = "night-time economy charter"

    def edit_while_scoring(progress: ProgressReport) -> None:
        if progress.stage == "scoring" and not progress.done:
            _edit(
                demo,
                keys,
                "busan",
                offers=[*demo.get("/profiles/busan", headers=keys.auth("admin")).json()["offers"], added],
            )

    before = _cached(app)
    run = _run(app, report=edit_while_scoring)
    after = _cached(app)
    gone = {key for m, key in before - after}
    assert gone == {text_key(replaced), asked_once} and run.counts["vectors_pruned"] == 2
    kept = {key for m, key in after if m == model}
    themes = {text_key(t.text) for t in load_themes(app.state.settings.themes_path)}
    assert {text_key(replacement), text_key(added)} | themes <= kept
    assert ("another-model@0", text_key(replaced)) in after  # another model's rows are its own business
    again = _run(app)  # nothing a profile needs was pruned
    assert again.counts["encoded"] == 0 and again.counts["vectors_pruned"] == 0
