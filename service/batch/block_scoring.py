"""What a re-ranking run scores and where: its blocks of profiles, here, in forked workers or on Dask.

`service.batch.jobs` runs the job (lock, run rows, storing); this module turns the stored profiles
into blocks of `BlockItem`s and yields each block's suggestions as rows ready to insert, beside the
rows of the phrases they quote (`phrase_rows`: each profile's once per run).
"""

import gc
import json
import mmap
import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby

import numpy as np

from matching.batch import SHORTLIST_SIZE, BatchScorer, BlockItem, suggest_block
from matching.index import PhraseIndex
from matching.scoring import Kind
from service.batch.stored_detail import RunPhraseList, encode_detail
from service.live.index import SuggestionRequest, candidate_filter
from service.live.places import home_city, partner_cities
from service.live.profiles_text import ProfileText
from service.live.recommenders import ranker_id
from service.settings import Settings

__all__ = [
    "RerankParams",
    "ROW_COLUMNS",
    "Row",
    "PHRASE_COLUMNS",
    "phrase_rows",
    "block_items",
    "block_rows",
    "scored_blocks",
]


@dataclass(frozen=True)
class RerankParams:
    k: int = 10
    block_size: int = 256
    dask_address: str | None = None
    workers: int = 1  # local processes scoring blocks (without Dask)
    shortlist: int = SHORTLIST_SIZE  # candidates per query kept by code presence (see `matching.batch`)
    ranker: str = "handset"  # what scored the run: "handset" or "learned:<digest of its weights file>"

    @classmethod
    def of(cls, settings: Settings, **overrides) -> "RerankParams":
        """The parameters the settings give, some overridden (a CLI option, a benchmark's workers)."""
        return cls(
            **{
                "k": settings.suggestions_k,
                "block_size": settings.rerank_block_size,
                "dask_address": settings.dask_address,
                "workers": settings.rerank_workers,
                "shortlist": settings.rerank_shortlist or SHORTLIST_SIZE,
                "ranker": ranker_id(settings.ranker_path),
            }
            | overrides
        )


ROW_COLUMNS = ("run_id", "profile_id", "target", "rank", "other_id", "score", "detail")
Row = tuple[int, str, str, int, str, float, bytes]  # a stored suggestion, by `ROW_COLUMNS`
PHRASE_COLUMNS = ("run_id", "profile_id", "texts", "roles")


def phrase_rows(index: PhraseIndex, run_id: int) -> list[tuple[int, str, str, str]]:
    """Every indexed profile's phrases as a row of `PHRASE_COLUMNS` (`texts` as JSON): what the run's
    stored suggestions quote by position."""
    rows = []
    for key in index.keys():
        phrases = RunPhraseList.of(index.vectors_of(key))
        rows.append((run_id, key, json.dumps(phrases.texts), phrases.roles))
    return rows


def block_rows(scorer: BatchScorer, block: list[BlockItem], k: int, run_id: int) -> list[Row]:
    """A block's suggestions as rows to store, built where the block is scored, `detail` already encoded:
    tuples of plain values cross a process boundary, and reach the driver, with the least work."""
    index = scorer.recommender.index
    lists: dict[str, RunPhraseList] = {}

    def phrases(key: str) -> RunPhraseList:
        if key not in lists:
            lists[key] = RunPhraseList.of(index.vectors_of(key))
        return lists[key]

    return [
        (
            run_id,
            item.key,
            item.filt.kind,
            rank,
            s.key,
            s.score,
            encode_detail(s, asking=phrases(item.key), candidate=phrases(s.key)),
        )
        for item, found in zip(block, suggest_block(scorer, block, k))
        for rank, s in enumerate(found, start=1)
    ]


def block_items(
    texts: dict[str, ProfileText], excluded: dict[str, set[str]], partners: dict[str, set[str]] | None = None
) -> list[BlockItem]:
    """Every profile for both targets, ordered so items sharing a presence matrix come together.

    `partners` are the known partnerships: an item carries its home city's partner cities, which
    the learned ranker's `partner_city` feature reads.
    """
    items = []
    partners = partners or {}
    for key in sorted(texts):
        text = texts[key]
        whole = text.whole_text  # joined once, shared by both targets' items (~70 MB at 100k profiles)
        cities = partner_cities(partners.get(home_city(text) or "", ()), texts)
        for target in (Kind.CITY, Kind.ORGANISATION):
            filt = candidate_filter(text, text.bloc, SuggestionRequest(target=target), excluded.get(key, set()) | {key})
            items.append(BlockItem(key=key, text=whole, kind=text.kind.value, filt=filt, partners=cities))
    return sorted(items, key=lambda item: (item.presence_key, item.kind, item.key))


ScoredBlock = tuple[list[BlockItem], list[Row]]  # a block and the rows it stores
_forked_scorer: BatchScorer | None = None  # what a forked worker scores with: inherited, never pickled


def _fill_forked(columns: slice) -> None:
    _forked_scorer.presence.fill(columns)


def _score_forked(job: tuple[list[BlockItem], int, int]) -> list[Row]:
    block, k, run_id = job
    return block_rows(_forked_scorer, block, k, run_id)


def scored_blocks(
    scorer: BatchScorer, items: list[BlockItem], params: RerankParams, run_id: int
) -> Iterator[ScoredBlock]:
    """Blocks of items with their suggestions as rows, as they finish: here, in forked workers or on Dask.

    Blocks never mix presence keys (see `BlockItem.presence_key`), so each phase's presence matrix
    is built once: here, or by the forked workers, part by part, into memory they share with this
    process (18 s of one core for the 60k cities of 100k profiles; each of three phases builds one).
    """
    phases = [list(group) for _, group in groupby(items, key=lambda item: item.presence_key)]
    blocks = [[phase[i : i + params.block_size] for i in range(0, len(phase), params.block_size)] for phase in phases]
    if params.dask_address:
        yield from _dask_blocks(scorer, [block for phase in blocks for block in phase], params, run_id)
        return
    global _forked_scorer
    for phase, phase_blocks in zip(phases, blocks):
        if params.workers <= 1 or len(phase_blocks) == 1:
            scorer.presence_for(phase[0])
            for block in phase_blocks:
                yield block, block_rows(scorer, block, params.k, run_id)
            continue
        presence = scorer.presence_for(phase[0], allocate=_shared_matrix, fill=False)
        _forked_scorer = scorer
        # the collector writes into every object it visits: in a forked worker that copies each page
        # of the parent's ~millions of profile objects; frozen, they are never visited (objects the
        # caller had frozen already stay frozen)
        frozen_before = gc.get_freeze_count() > 0
        gc.collect()
        gc.freeze()
        try:
            with multiprocessing.get_context("fork").Pool(
                min(params.workers, len(phase_blocks)), initializer=_one_blas_thread
            ) as pool:
                if presence is not None:
                    pool.map(_fill_forked, presence.parts(), chunksize=1)
                yield from zip(
                    phase_blocks, pool.imap(_score_forked, [(block, params.k, run_id) for block in phase_blocks])
                )
        finally:
            if not frozen_before:
                gc.unfreeze()
            _forked_scorer = None


def _shared_matrix(shape: tuple[int, int]) -> np.ndarray:
    """An empty float32 matrix in anonymous shared memory: what a forked worker writes there, every
    process sees (a private page would be copied on the worker's first write)."""
    count = shape[0] * shape[1]
    return np.frombuffer(mmap.mmap(-1, max(count, 1) * 4), dtype=np.float32, count=count).reshape(shape)


def _one_blas_thread() -> None:
    """A forked worker's products are small, and its siblings use the other cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _dask_blocks(
    scorer: BatchScorer, blocks: list[list[BlockItem]], params: RerankParams, run_id: int
) -> Iterator[ScoredBlock]:
    from distributed import Client, as_completed

    with Client(params.dask_address) as client:
        shared = client.scatter(scorer, broadcast=True)
        futures = {client.submit(block_rows, shared, block, params.k, run_id, pure=False): block for block in blocks}
        for future in as_completed(futures):
            yield futures[future], future.result()
