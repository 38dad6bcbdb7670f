"""What a run stores is what it scored: the API serves a batch suggestion exactly as the recommender gave it."""

import json

import pytest
from sqlalchemy import func, select, text

from matching.types import Kind
from service.batch import block_scoring
from service.batch.jobs import RerankParams, rerank
from service.db.engine import migrate
from service.db.models import RunPhrases
from service.domain.suggestions import suggestion_out
from tests.service.batch.conftest import DEMO


@pytest.fixture
def scored(monkeypatch) -> dict:
    """Every suggestion the next run scores, by (profile, target), recorded as the recommender gave it."""
    found: dict = {}
    scorer_block = block_scoring.suggest_block

    def recording(scorer, block, k):
        lists = scorer_block(scorer, block, k)
        found.update({(item.key, item.filt.kind): suggestions for item, suggestions in zip(block, lists)})
        return lists

    monkeypatch.setattr(block_scoring, "suggest_block", recording)
    return found


def _expected(app, profile_id: str, suggestions) -> str:
    live = app.state.live
    asking = live.profile_text(profile_id)
    return json.dumps(
        [suggestion_out(live, i + 1, s, asking).model_dump(mode="json") for i, s in enumerate(suggestions)]
    )


def test_every_batch_served_list_is_the_one_the_run_scored_digit_for_digit(app, demo, keys, scored):
    run = rerank(app.state.settings, app.state.sessions, RerankParams())
    assert len(scored) == 2 * len(DEMO["profiles"])
    for (profile_id, target), suggestions in sorted(scored.items()):
        r = demo.get(f"/profiles/{profile_id}/suggestions?source=batch&target={target}", headers=keys.auth("manager"))
        assert r.status_code == 200 and r.json()["run_id"] == run.id
        assert json.dumps(r.json()["items"]) == _expected(app, profile_id, suggestions), (profile_id, target)
    with app.state.sessions() as s:  # each profile's phrases once per run
        assert s.scalar(select(func.count()).select_from(RunPhrases)) == len(DEMO["profiles"])


def test_a_profile_edited_after_the_run_is_quoted_as_the_run_scored_it(app, demo, keys, scored):
    """The run quotes its own copy of each profile's phrases: an asking profile edited since (served
    from the run when asked for `source=batch`) still reads the phrases the run matched."""
    rerank(app.state.settings, app.state.sessions, RerankParams())
    shown = next(
        s
        for s in scored[("eindhoven", Kind.ORGANISATION.value)]
        if any(m.direction == "forward" and m.need_role == "interest" for m in s.matches)
    )
    quoted = next(m.need for m in shown.matches if m.direction == "forward" and m.need_role == "interest")
    h = keys.auth("admin")
    asking = demo.get("/profiles/eindhoven", headers=h).json()
    body = {k: asking[k] for k in ("kind", "name", "country", "bloc", "org_type", "city", "description", "offers")}
    body["interests"] = [i for i in asking["interests"] if i != quoted] + ["a new interest nobody scored yet"]
    assert demo.put("/profiles/eindhoven", json=body, headers={**h, "If-Match": f'"{asking["version"]}"'}).is_success
    r = demo.get("/profiles/eindhoven/suggestions?source=batch&target=organisation", headers=h).json()
    item = next(i for i in r["items"] if i["id"] == shown.key)
    assert quoted in {m["need"] for m in item["matches"]}
    assert item["matches"] == [m.__dict__ for m in shown.matches]


def test_a_run_stored_before_0006_is_served_unchanged_once_migrated(app, demo, keys):
    """A run's rows written back in the JSON of revision 0005 (0006's downgrade) and migrated again
    serve every list as before."""
    rerank(app.state.settings, app.state.sessions, RerankParams())
    h = keys.auth("manager")
    asked = [(p["id"], target) for p in DEMO["profiles"] for target in ("city", "organisation")]

    def served() -> list[str]:
        return [demo.get(f"/profiles/{p}/suggestions?source=batch&target={t}", headers=h).text for p, t in asked]

    before = served()
    engine = app.state.engine
    migrate(engine, "0005", down=True)
    with engine.connect() as conn:
        detail = conn.execute(text("SELECT detail FROM run_suggestions")).scalars().first()
    assert "matches" in (json.loads(detail) if isinstance(detail, str) else detail)
    migrate(engine, "head")
    assert served() == before
