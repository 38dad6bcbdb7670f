"""Where the batch scores its blocks: in process or in forked workers, with the same rows."""

from matching.batch import BatchScorer, BlockItem
from matching.lexical import LexicalModel
from matching.recommend import Recommender
from service.batch.block_scoring import RerankParams, scored_blocks
from tests.matching.test_batch import _filter, corpus_index  # noqa: F401  (the module-scoped fixture)


def test_forked_workers_fill_the_presence_and_give_the_in_process_rows(corpus_index):  # noqa: F811
    entries, index = corpus_index  # codes fitted: every phase has a presence matrix for the workers to fill
    recommender = Recommender(index, LexicalModel().fit({k: " ".join(v.texts) for k, v, _ in entries}))
    items = sorted(
        (
            BlockItem(key=k, text=" ".join(v.texts), kind=m.kind, filt=_filter(index, k, target))
            for k, v, m in entries[:200]
            if len(v)
            for target in ("city", "organisation")
        ),
        key=lambda item: (item.presence_key, item.kind, item.key),
    )

    def rows(workers: int) -> list:
        blocks = scored_blocks(
            BatchScorer(recommender, shortlist_size=150), items, RerankParams(k=5, block_size=32, workers=workers), 1
        )
        return sorted(row for _, block_rows in blocks for row in block_rows)

    alone = rows(1)
    assert len(alone) == 5 * len(items)
    assert rows(2) == alone
