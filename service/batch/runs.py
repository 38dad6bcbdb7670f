"""Batch runs in the database: the current run, a profile's stored ranking (each suggestion read back with
the phrases the run quoted), and what changed between two runs."""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matching.lexical import LexicalStatistics
from matching.recommend import Suggestion
from service.batch.run_changes import DIFF_RULE, Ranking, ranking_changes
from service.batch.stored_detail import RunPhraseList, decode_detail
from service.db.models import Run, RunLexicon, RunPhrases, RunSuggestion
from service.errors import NotFound

__all__ = [
    "STAGES",
    "current_run",
    "run_lexicon",
    "get_run",
    "list_runs",
    "run_out",
    "stored_ranking",
    "run_phrase_lists",
    "previous_run_id",
    "run_diff",
    "stored_diff",
    "all_stored_suggestions",
]

# what a run does, in order; its progress names the one it is in
STAGES = ("encoding", "scoring", "storing")


def current_run(session: Session) -> Run | None:
    """The newest succeeded run: what is served as `source=batch`."""
    return session.scalar(select(Run).where(Run.state == "succeeded").order_by(Run.id.desc()).limit(1))


def run_lexicon(session: Session, run_id: int) -> LexicalStatistics | None:
    """The TF-IDF statistics the run scored with; None for a run stored before runs kept them."""
    packed = session.scalar(select(RunLexicon.statistics).where(RunLexicon.run_id == run_id))
    return None if packed is None else LexicalStatistics.unpacked(packed)


def get_run(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"no run with id {run_id}")
    return run


def list_runs(session: Session, limit: int = 50) -> list[Run]:
    return list(session.scalars(select(Run).order_by(Run.id.desc()).limit(limit)))


def run_out(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "state": run.state,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "model_id": run.model_id,
        "params": run.params,
        "counts": run.counts,
        "progress": run.progress,
        "error": run.error,
    }


def stored_ranking(session: Session, run_id: int, profile_id: str, target: str) -> list[Suggestion]:
    """A profile's stored suggestions for `target`, best first, each as the recommender gave it to the run."""
    rows = session.execute(
        select(RunSuggestion.other_id, RunSuggestion.score, RunSuggestion.detail)
        .where(RunSuggestion.run_id == run_id, RunSuggestion.profile_id == profile_id, RunSuggestion.target == target)
        .order_by(RunSuggestion.rank)
    ).all()
    if not rows:
        return []
    lists = run_phrase_lists(session, run_id, [profile_id, *(other for other, _, _ in rows)])
    asking = lists[profile_id]
    return [
        decode_detail(detail, key=other, score=score, asking=asking, candidate=lists[other])
        for other, score, detail in rows
    ]


def run_phrase_lists(session: Session, run_id: int, profile_ids: Iterable[str]) -> dict[str, RunPhraseList]:
    """The phrases of these profiles as the run scored them (what its stored suggestions quote), by id."""
    rows = session.execute(
        select(RunPhrases.profile_id, RunPhrases.texts, RunPhrases.roles).where(
            RunPhrases.run_id == run_id, RunPhrases.profile_id.in_(set(profile_ids))
        )
    )
    return {profile_id: RunPhraseList(tuple(texts), roles) for profile_id, texts, roles in rows}


def previous_run_id(session: Session, run_id: int) -> int | None:
    return session.scalar(
        select(Run.id).where(Run.id < run_id, Run.state == "succeeded").order_by(Run.id.desc()).limit(1)
    )


def _rankings(session: Session, run_id: int, profile_id: str | None) -> dict[tuple[str, str], Ranking]:
    out: dict[tuple[str, str], Ranking] = defaultdict(dict)
    query = select(
        RunSuggestion.profile_id, RunSuggestion.target, RunSuggestion.other_id, RunSuggestion.rank, RunSuggestion.score
    ).where(RunSuggestion.run_id == run_id)
    if profile_id:
        query = query.where(RunSuggestion.profile_id == profile_id)
    rows = session.execute(query)
    for profile_id, target, other, rank, score in rows:
        out[(profile_id, target)][other] = (rank, score)
    return out


def run_diff(session: Session, run_id: int, against: int, profile_id: str | None = None) -> list[dict[str, Any]]:
    """Per profile and target: suggestions that came in since `against`, that left, and whose score
    changed by more than `SCORE_CHANGE` (`service.batch.run_changes`); lists where nothing did are left out.

    The diff against the previous run is stored when a run finishes, under the rule it was computed by
    (`DIFF_RULE`); a diff stored under an earlier rule, and any other pair of runs, is computed here
    from the runs' stored suggestions.
    """
    stored = session.scalar(select(Run.diff).where(Run.id == run_id))
    if stored and stored.get("against") == against and stored.get("rule") == DIFF_RULE:
        return [c for c in stored["changes"] if profile_id is None or c["profile"] == profile_id]
    new_run, old_run = _rankings(session, run_id, profile_id), _rankings(session, against, profile_id)
    changes = []
    for key in sorted(set(new_run) | set(old_run)):
        found = ranking_changes(new_run.get(key, {}), old_run.get(key, {}))
        if any(found.values()):
            changes.append({"profile": key[0], "target": key[1], **found})
    return changes


def stored_diff(session: Session, run_id: int, against: int) -> dict[str, Any]:
    """The diff of `run_id` against `against` as `Run.diff` keeps it: the rule it follows and the changes."""
    return {"against": against, "rule": DIFF_RULE, "changes": run_diff(session, run_id, against)}


def all_stored_suggestions(session: Session, run_id: int):
    """Every stored suggestion of a run, streamed in (profile, target, rank) order: for CSV export."""
    query = (
        select(
            RunSuggestion.profile_id,
            RunSuggestion.target,
            RunSuggestion.rank,
            RunSuggestion.other_id,
            RunSuggestion.score,
        )
        .where(RunSuggestion.run_id == run_id)
        .order_by(RunSuggestion.profile_id, RunSuggestion.target, RunSuggestion.rank)
    )
    return session.execute(query.execution_options(yield_per=5000))
