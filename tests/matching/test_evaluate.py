"""Ranking metrics of `twinning eval`: MRR, Recall@k (a true partner in the top k) and nDCG@3 with
binary relevance over all true partners (../shared/FORMATS.md)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.evaluate import mean_metrics, query_metrics, rank_of_first

RANKING = ["seoul", "busan", "lyon", "porto", "oulu"]


def test_true_partner_ranked_first_scores_full_marks():
    assert query_metrics(RANKING, {"seoul"}) == {"mrr": 1.0, "recall@1": 1.0, "recall@3": 1.0, "ndcg@3": 1.0}


def test_true_partner_ranked_second():
    m = query_metrics(RANKING, {"busan"})
    assert m["mrr"] == 0.5
    assert (m["recall@1"], m["recall@3"]) == (0.0, 1.0)
    assert m["ndcg@3"] == pytest.approx(1 / math.log2(3))


def test_true_partner_below_the_cut_offs_counts_only_in_mrr():
    m = query_metrics(RANKING, {"oulu"})
    assert m == pytest.approx({"mrr": 0.2, "recall@1": 0.0, "recall@3": 0.0, "ndcg@3": 0.0})


def test_true_partner_absent_scores_zero():
    assert query_metrics(RANKING, {"tampere"}) == {"mrr": 0.0, "recall@1": 0.0, "recall@3": 0.0, "ndcg@3": 0.0}
    assert rank_of_first(RANKING, {"tampere"}) is None
    assert query_metrics([], {"tampere"})["mrr"] == 0.0


def test_several_true_partners():
    m = query_metrics(RANKING, {"busan", "porto", "oulu"})
    assert m["mrr"] == 0.5  # the best-placed partner decides MRR and Recall@k
    assert (m["recall@1"], m["recall@3"]) == (0.0, 1.0)
    # one partner in the top 3 at rank 2; the ideal would have three there
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["ndcg@3"] == pytest.approx((1 / math.log2(3)) / ideal)


def test_ndcg_is_normalised_by_the_number_of_true_partners_that_fit():
    # two partners at ranks 1 and 3: the ideal places them at 1 and 2
    m = query_metrics(RANKING, {"seoul", "lyon"})
    assert m["ndcg@3"] == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    # more partners than the cut-off: filling the top 3 with them is perfect
    assert query_metrics(RANKING, {"seoul", "busan", "lyon", "porto"})["ndcg@3"] == pytest.approx(1.0)


def test_other_cut_offs():
    m = query_metrics(RANKING, {"oulu"}, ks=(1, 3, 10), ndcg_at=5)
    assert set(m) == {"mrr", "recall@1", "recall@3", "recall@10", "ndcg@5"}
    assert m["recall@10"] == 1.0
    assert m["ndcg@5"] == pytest.approx(1 / math.log2(6))


def test_mean_metrics_averages_each_metric_over_queries():
    per_query = [
        query_metrics(RANKING, {"seoul"}),
        query_metrics(RANKING, {"busan"}),
        query_metrics(RANKING, {"tampere"}),
    ]
    mean = mean_metrics(per_query)
    assert mean == {
        "mrr": 0.5,
        "recall@1": round(1 / 3, 4),
        "recall@3": round(2 / 3, 4),
        "ndcg@3": round((1 + 1 / math.log2(3)) / 3, 4),
    }
    assert mean_metrics([]) == {}


keys = st.sampled_from("abcdefgh")


@settings(deadline=None)
@given(st.lists(keys, unique=True), st.sets(keys))
def test_metrics_lie_in_the_unit_interval_and_agree_with_each_other(ranking, relevant):
    m = query_metrics(ranking, relevant)
    assert all(0.0 <= v <= 1.0 + 1e-12 for v in m.values())
    first = rank_of_first(ranking, relevant)
    assert m["mrr"] == (1 / first if first else 0.0)
    assert m["recall@1"] <= m["recall@3"]
    assert (m["ndcg@3"] > 0) == (m["recall@3"] == 1.0)
    assert (m["recall@1"] == 1.0) == (m["mrr"] == 1.0)
