"""What changed in one profile's stored top-k between two runs: suggestions that came in, that left, and
those whose score changed by more than `SCORE_CHANGE`.

A rank alone is never a change: one profile that enters a list shifts every suggestion below it by one,
and those shifts say nothing about the suggestions themselves. A suggestion both runs list is reported
only when its own score moved, with the score before and after.
"""

from typing import Any

__all__ = ["SCORE_CHANGE", "DIFF_RULE", "Ranking", "ranking_changes"]

# a suggestion's score (0–1) must move by more than this for the diff to report it: the pages show
# scores to two decimals, and a move of a hundredth or two changes nothing anyone would act on
SCORE_CHANGE = 0.02
# names the rule a stored diff was computed by: a diff stored under another rule is computed anew
DIFF_RULE = f"came-in/left/score>{SCORE_CHANGE}"

Ranking = dict[str, tuple[int, float]]  # a profile's stored suggestions for one target: id → (rank, score)


def ranking_changes(now: Ranking, before: Ranking) -> dict[str, list[dict[str, Any]]]:
    """The changes from the ranking `before` to `now`, each list in rank order.

    Returns
    -------
    came_in
        listed now, not before: ``{"id", "rank", "score"}`` of this run
    left
        listed before, not now: ``{"id", "rank", "score"}`` of the earlier run
    score_changed
        listed in both, the score moved by more than `SCORE_CHANGE` (compared to six decimals, as
        scores are stored): ``{"id", "rank", "before", "score"}``, rank and score of this run
    """
    came_in = [{"id": o, "rank": r, "score": s} for o, (r, s) in now.items() if o not in before]
    left = [{"id": o, "rank": r, "score": s} for o, (r, s) in before.items() if o not in now]
    score_changed = [
        {"id": o, "rank": r, "before": before[o][1], "score": s}
        for o, (r, s) in now.items()
        if o in before and round(abs(s - before[o][1]), 6) > SCORE_CHANGE
    ]
    return {
        "came_in": sorted(came_in, key=lambda x: x["rank"]),
        "left": sorted(left, key=lambda x: x["rank"]),
        "score_changed": sorted(score_changed, key=lambda x: x["rank"]),
    }
