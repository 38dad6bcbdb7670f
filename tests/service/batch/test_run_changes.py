"""The run diff's rule for one ranking: what came in, what left, what changed score; never a shifted rank."""

from hypothesis import given
from hypothesis import strategies as st

from service.batch.run_changes import SCORE_CHANGE, ranking_changes

scores = st.floats(min_value=0, max_value=1, allow_nan=False).map(lambda s: round(s, 6))
rankings = st.dictionaries(st.sampled_from("abcdefghij"), scores, max_size=10).map(
    lambda by_id: {o: (r, s) for r, (o, s) in enumerate(sorted(by_id.items(), key=lambda x: -x[1]), 1)}
)


@given(rankings, st.sampled_from("klmnop"), scores)
def test_one_suggestion_coming_in_above_the_others_is_the_only_change(before, newcomer, score):
    shifted = {o: (r + 1, s) for o, (r, s) in before.items()} | {newcomer: (1, score)}
    assert ranking_changes(shifted, before) == {
        "came_in": [{"id": newcomer, "rank": 1, "score": score}],
        "left": [],
        "score_changed": [],
    }


@given(rankings, st.randoms(use_true_random=False))
def test_ranks_that_move_while_scores_stay_are_no_change(before, random):
    order = list(before)
    random.shuffle(order)
    reordered = {o: (r, before[o][1]) for r, o in enumerate(order, 1)}
    assert ranking_changes(reordered, before) == {"came_in": [], "left": [], "score_changed": []}


@given(rankings, rankings)
def test_what_both_runs_list_is_a_change_exactly_when_its_score_moved_past_the_threshold(now, before):
    changed = {x["id"] for x in ranking_changes(now, before)["score_changed"]}
    both = set(now) & set(before)
    assert changed == {o for o in both if round(abs(now[o][1] - before[o][1]), 6) > SCORE_CHANGE}


def test_a_move_of_exactly_the_threshold_is_no_change():
    before = {"a": (1, 0.50), "b": (2, 0.40)}
    now = {"a": (1, 0.52), "b": (2, 0.4201)}
    assert ranking_changes(now, before)["score_changed"] == [{"id": "b", "rank": 2, "before": 0.40, "score": 0.4201}]
