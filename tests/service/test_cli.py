"""The `twinning` command on a real SQLite file: import, export, keys, suggest, eval."""

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.db.engine import make_engine, make_sessionmaker
from service.db.models import Run
from service.settings import get_settings

DATA = Path(__file__).resolve().parents[2] / "data"
runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TWINNING_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("TWINNING_DATA_DIR", str(DATA))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_import_export_round_trip(env):
    r = runner.invoke(app, ["import", str(DATA / "world-cities-eu-korea.json")])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["profiles_created"] == 21
    out = env / "out.json"
    assert runner.invoke(app, ["export", "-o", str(out)]).exit_code == 0
    assert len(json.loads(out.read_text())["profiles"]) == 21
    again = runner.invoke(app, ["import", str(out)])
    assert json.loads(again.stdout)["profiles_unchanged"] == 21


def test_bad_bundle_fails_with_every_problem_and_stores_nothing(env):
    bad = env / "bad.json"
    bad.write_text(json.dumps({"format": "twinning.bundle/1", "profiles": [{"id": "X"}]}))
    r = runner.invoke(app, ["import", str(bad)])
    assert r.exit_code == 2
    assert "/profiles/0/id" in r.output and "/profiles/0/kind" in r.output
    out = env / "out.json"
    runner.invoke(app, ["export", "-o", str(out)])
    assert json.loads(out.read_text())["profiles"] == []


def test_keys(env):
    r = runner.invoke(app, ["keys", "create", "--role", "manager"])
    assert r.exit_code == 0 and r.stdout.strip().startswith("tw_")
    assert runner.invoke(app, ["keys", "create", "--role", "member"]).exit_code == 2
    assert runner.invoke(app, ["keys", "create", "--role", "emperor"]).exit_code == 2


def test_suggest_prints_a_table(env):
    runner.invoke(app, ["import", str(DATA / "world-cities-eu-korea.json")])
    r = runner.invoke(app, ["suggest", "eindhoven", "--target", "organisation", "--include-partners", "--k", "3"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["#", "id", "name"]
    assert "philips-lighting" in r.stdout
    assert "why:" in r.stdout and r.stdout.rstrip().endswith("scored live")
    assert runner.invoke(app, ["suggest", "nobody"]).exit_code == 2
    # as the API answers: the current run's list once a run is newer than the profile
    assert runner.invoke(app, ["rerank", "--quiet"]).exit_code == 0
    batch = runner.invoke(app, ["suggest", "eindhoven", "--target", "organisation", "--k", "3"])
    assert batch.exit_code == 0 and "from run 1" in batch.stdout.splitlines()[-1]


def test_eval_json_shape(env):
    r = runner.invoke(app, ["eval", str(DATA / "world-cities-eu-korea.json"), "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["bundle"] == "world-cities-eu-korea.json" and result["model"] == "all-MiniLM-L6-v2"
    cities = result["cities"]
    assert cities["queries"] == 8
    assert set(cities["methods"]) == {"engine", "handset", "handset_priors", "tfidf", "dense"}
    assert cities["methods"]["engine"] == {"mrr": 1.0, "recall@1": 1.0, "recall@3": 1.0, "ndcg@3": 1.0}
    orgs = result["organisations"]["methods"]["engine"]
    assert set(orgs) == {"mrr", "recall@1", "recall@3", "recall@10", "ndcg@3"}
    pairing = result["cohort_pairing_methods"]
    assert set(pairing) == {"engine", "handset", "tfidf", "dense"} and result["cohort_pairing"] == pairing["engine"]
    assert pairing["engine"]["pairs"] == 4 and all(0 <= p["recovered"] <= 4 for p in pairing.values())


def test_eval_table_lists_misses(env):
    r = runner.invoke(app, ["eval", str(DATA / "eval" / "iurc-latin-america.json")])
    assert r.exit_code == 0
    assert "cities (" in r.stdout and "engine" in r.stdout and "not first" in r.stdout


def test_pair_prints_the_proposal(env, monkeypatch):
    monkeypatch.setenv("TWINNING_HANDSET", "1")  # the hand-set scores, whose regrets this cohort is known to have
    get_settings.cache_clear()
    runner.invoke(app, ["import", str(DATA / "world-cities-eu-korea.json")])
    r = runner.invoke(app, ["pair", "world-cities-eu-korea-2017-18", "--ignore-partnerships"])
    assert r.exit_code == 0, r.output
    assert "eindhoven  seoul" in r.stdout or "eindhoven  seoul".replace("  ", " ") in " ".join(r.stdout.split())
    assert "total" in r.stdout
    agreed = runner.invoke(app, ["pair", "world-cities-eu-korea-2017-18"])
    assert agreed.exit_code == 0, agreed.output
    assert "programme World Cities 2017-18" in agreed.stdout
    assert sum(1 for line in agreed.stdout.splitlines() if " yes " in line) == 4  # its agreed pairs, locked
    r = runner.invoke(
        app,
        [
            "pair",
            "world-cities-eu-korea-2017-18",
            "--ignore-partnerships",
            "--lock",
            "eindhoven=busan",
            "--forbid",
            "tampere=gwangju",
            "--capacity",
            "seoul=2",
            "--min-score",
            "0.1",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "yes" in r.stdout and "regret" in r.stdout, r.stdout
    assert "warning: eindhoven would take busan beside seoul in the programme" in r.stdout
    assert runner.invoke(app, ["pair", "world-cities-eu-korea-2017-18", "--lock", "eindhoven"]).exit_code != 0
    assert runner.invoke(app, ["pair", "nope"]).exit_code == 2


def test_rerank_and_runs_diff(env):
    from service.db.store import upsert_exclusion
    from service.schemas import ExclusionIn

    runner.invoke(app, ["import", str(DATA / "world-cities-eu-korea.json")])
    r = runner.invoke(app, ["rerank", "--quiet"])
    assert r.exit_code == 0 and "run 1 succeeded" in r.stdout
    with make_sessionmaker(make_engine(get_settings().database_url))() as s:
        upsert_exclusion(s, ExclusionIn(profile="eindhoven", excluded="fontys", reason="not again"), "manager")
        s.commit()
    assert runner.invoke(app, ["rerank", "--quiet"]).exit_code == 0
    listed = runner.invoke(app, ["runs", "list"]).stdout
    assert "succeeded" in listed and listed.splitlines()[2].split()[0] == "2"
    assert "(command line)" in listed.splitlines()[2]  # who started it
    diff = runner.invoke(app, ["runs", "diff", "--profile", "eindhoven"])
    assert diff.exit_code == 0 and "run 2 against run 1" in diff.stdout
    lines = diff.stdout.splitlines()
    assert "  - fontys left (was rank 1, 0.999)" in lines
    # the others moved up a rank: listed only where their score changed too, with both scores
    assert lines[4:] and all(
        re.fullmatch(r"  [↑↓] \S+ score \d\.\d{3} → \d\.\d{3} \(rank \d+\)", line) for line in lines[4:]
    )
    assert runner.invoke(app, ["rerank", "--every", "often"]).exit_code != 0


def test_a_runs_shortlist_depth_comes_from_the_settings_and_is_recorded(env, monkeypatch):
    monkeypatch.setenv("TWINNING_RERANK_SHORTLIST", "120")
    get_settings.cache_clear()
    runner.invoke(app, ["import", str(DATA / "world-cities-eu-korea.json")])
    assert runner.invoke(app, ["rerank", "--quiet"]).exit_code == 0
    sessions = make_sessionmaker(make_engine(get_settings().database_url))
    with sessions() as s:
        assert s.get(Run, 1).params["shortlist"] == 120


def test_feedback_queries_learn_from_partnerships_and_rejections_but_never_an_evaluation_pair(env, encoder):
    from embeddings import CachedEncoder, MemoryVectorCache
    from matching.scoring import Kind
    from service.db.store import upsert_exclusion
    from service.learning.feedback import feedback_queries
    from service.schemas import ExclusionIn

    runner.invoke(app, ["import", str(DATA / "world-cities-eu-korea.json")])
    sessions = make_sessionmaker(make_engine(get_settings().database_url))
    with sessions() as s:
        upsert_exclusion(s, ExclusionIn(profile="eindhoven", excluded="busan", reason="no port agenda"), "manager")
        s.commit()
        queries = feedback_queries(
            s, CachedEncoder(encoder, MemoryVectorCache()), None, held_out={frozenset(("barcelona", "busan"))}
        )
    by_key = {(q.key, q.direction): q for q in queries}
    eindhoven = by_key[("eindhoven", (Kind.CITY, Kind.CITY))]
    assert eindhoven.relevant == {"seoul"} and "busan" in eindhoven.candidates  # the rejected one is a negative
    assert eindhoven.features.shape == (len(eindhoven.candidates), 5)
    assert ("barcelona", (Kind.CITY, Kind.CITY)) not in by_key  # its one partner city is held out
    assert "philips-lighting" in by_key[("eindhoven", (Kind.CITY, Kind.ORGANISATION))].relevant


def test_train_with_feedback_writes_weights_only_when_the_evaluation_holds(env, tmp_path):
    runner.invoke(app, ["import", str(DATA / "world-cities-eu-korea.json")])
    out = tmp_path / "ranker.json"
    r = runner.invoke(app, ["train", "--feedback", "-o", str(out)])
    assert "feedback queries" in r.stderr and "leave-one-cohort-out MRR" in r.stderr
    if "not adopted" in r.stderr:
        assert r.exit_code == 1 and not out.exists()
    else:
        assert r.exit_code == 0 and json.loads(out.read_text())["feedback_queries"] > 0
